"""Ingest benchmark: signed dispatch+receipt pairs through the API into the chain and the read model.

    .venv/bin/python bench/ingest.py [--pairs 1000] [--batch 256] [--single 50]

Starts its own anvil and service (SQLite, local profile settings; uvicorn in a process of its own, as the
service is deployed, so the benchmark's client work is not the service's) in a temporary directory, registers a
shipper with a lot and a receiver with a permit, and has both parties sign every statement beforehand (they
sign offline; signing is not the service's work). Then it times, through the HTTP API:
- the batch endpoint: the dispatches in batches of `--batch`, then their receipts in batches of `--batch`,
  every item recorded on chain and in the read model when its request returns;
- one at a time: `--single` pairs through `POST /transfers` and `POST /transfers/{id}/receipt`;
- the ceiling: every row the batch run added to the service's database (transfers, lots, chain events, the
  outbox of signed statements, ...), as they stand after it, inserted into an empty database of the same
  schema without any chain, in as many transactions as the batch run made requests. No ingest into this
  database can be faster; each path's share of it is the last column. (Foreign keys are not checked
  there, and rows the service inserted and then updated, such as a transfer on its receipt, are inserted
  once: the ceiling is generous.)
Prints a Markdown table. Figures depend on the machine; nothing here is asserted.
"""

import argparse
import contextlib
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
# The parties and the stack as the service tests build them (tests/service/parties.py, conftest.py).
sys.path.insert(0, str(REPO / "tests" / "service"))

from conftest import deploy_stack, free_port  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from parties import Party, dispatch_terms, register_lot, sign_in, trading_pair  # noqa: E402
from sqlalchemy import Table, create_engine, func, insert, literal_column, select  # noqa: E402

from ledger_service import devstack  # noqa: E402
from ledger_service.db.models import Base  # noqa: E402
from ledger_service.db.session import make_engine, upgrade_schema  # noqa: E402
from ledger_service.main import create_app  # noqa: E402
from ledger_service.settings import Settings  # noqa: E402

# npm's anvil is a launcher: once it has exited, the node it started may still be writing its state into the
# temporary directory, whose removal then fails after the figures were taken. Left to the system then.
ANVIL_MAY_STILL_WRITE = True


def signed_dispatches(client: httpx.Client, shipper: Party, receiver: Party, n: int) -> list[dict]:
    bodies = []
    for _ in range(n):
        prepared = client.post(
            "/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver, quantity=10)
        )
        assert prepared.status_code == 200, prepared.text
        bodies.append(shipper.signed_body(prepared.json()) | {"digest": prepared.json()["digest"]})
    return bodies


def signed_receipt(client: httpx.Client, receiver: Party, transfer_id: str) -> dict:
    prepared = client.post(f"/transfers/{transfer_id}/receipt/prepare", json={"received_quantity": 10})
    assert prepared.status_code == 200, prepared.text
    return receiver.signed_body(prepared.json())


def plain(body: dict) -> dict:
    return {"message": body["message"], "signature": body["signature"]}


def through_batches(client: httpx.Client, shipper: Party, receiver: Party, pairs: int, size: int) -> dict:
    dispatches = signed_dispatches(client, shipper, receiver, pairs)
    started = time.perf_counter()
    for i in range(0, pairs, size):
        report = client.post(
            "/transfers/batches", json={"items": [plain(d) for d in dispatches[i : i + size]]}
        )
        assert report.status_code == 200 and report.json()["recorded"] == len(dispatches[i : i + size]), (
            report.text
        )
    dispatched = time.perf_counter() - started
    receipts = [signed_receipt(client, receiver, d["digest"]) for d in dispatches]
    started = time.perf_counter()
    for i in range(0, pairs, size):
        report = client.post("/transfers/batches", json={"receipts": receipts[i : i + size]})
        assert report.status_code == 200 and report.json()["recorded"] == len(receipts[i : i + size]), (
            report.text
        )
    received = time.perf_counter() - started
    return {"dispatch": dispatched, "receipt": received}


def one_at_a_time(client: httpx.Client, shipper: Party, receiver: Party, pairs: int) -> dict:
    dispatches = signed_dispatches(client, shipper, receiver, pairs)
    started = time.perf_counter()
    for d in dispatches:
        assert client.post("/transfers", json=plain(d)).status_code == 201
    dispatched = time.perf_counter() - started
    receipts = [signed_receipt(client, receiver, d["digest"]) for d in dispatches]
    started = time.perf_counter()
    for d, r in zip(dispatches, receipts, strict=True):
        assert client.post(f"/transfers/{d['digest']}/receipt", json=r).status_code == 200
    return {"dispatch": dispatched, "receipt": time.perf_counter() - started}


@contextlib.contextmanager
def served_api(data: Path, rpc: str, database_url: str) -> Iterator[str]:
    """The service, deployed by deploy_stack into `data`, run by uvicorn in a process of its own (as it is
    deployed: its clients' work is not its own); yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "SYMLEDGER_DATA_DIR": str(data),
        "SYMLEDGER_RPC_URL": rpc,
        "SYMLEDGER_DATABASE_URL": database_url,
        "SYMLEDGER_RECEIPT_POLL_SECONDS": "0.02",
        "SYMLEDGER_INDEXER_POLL_SECONDS": "0.2",
        "SYMLEDGER_ACCESS_TOKEN_SECONDS": "3600",
        "SYMLEDGER_PORT": str(port),
        # The code this process runs (PYTHONPATH as the service tests set it), or this checkout's.
        "PYTHONPATH": os.environ.get("PYTHONPATH", str(REPO)),
    }
    command = [sys.executable, "-m", "uvicorn", "ledger_service.main:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    log = data / "service.log"
    server = subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, server, log)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_until_up(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the service exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("the service did not answer /health within 60 s")


@dataclass(frozen=True)
class Stack:
    base: str  # the API's URL
    database_url: str
    client: httpx.Client  # signed in as the founding regulator
    shipper: Party  # registered, holding a generated lot
    receiver: Party  # registered, with a permit for it


@contextlib.contextmanager
def running_stack(data: Path, timeout: float = 300) -> Iterator[Stack]:
    """anvil, the contracts and the service (served_api) with their files in `data`, and a trading pair
    registered through the API."""
    with devstack.running_anvil(data / "chain", free_port(), say=lambda _line: None) as rpc:
        regulator = Party("regulator")
        database_url = f"sqlite:///{data / 'ledger.db'}"
        deploy_stack(data, rpc, database_url, regulator)
        with (
            served_api(data, rpc, database_url) as base,
            httpx.Client(base_url=base, timeout=timeout) as client,
        ):
            client.headers.update(sign_in(client, regulator))
            shipper, receiver = trading_pair(client, regulator)
            yield Stack(base, database_url, client, shipper, receiver)


def load_chain(data: Path, rpc: str, pairs: int, size: int) -> Settings:
    """A stack deployed on the node at `rpc` (its files in `data`) with `pairs` pairs recorded through the
    batch endpoint, `size` statements a request; the service is stopped again."""
    regulator = Party("regulator")
    settings = deploy_stack(data, rpc, f"sqlite:///{data / 'ledger.db'}", regulator)
    with TestClient(create_app(settings)) as client:
        client.headers.update(sign_in(client, regulator))
        shipper, receiver = trading_pair(client, regulator)
        through_batches(client, shipper, receiver, pairs, size)
    return settings


def row_counts(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        counts = {
            t.name: connection.scalar(select(func.count()).select_from(t)) or 0
            for t in Base.metadata.sorted_tables
        }
    engine.dispose()
    return counts


def rows_added(database_url: str, before: dict[str, int]) -> dict[Table, list[dict]]:
    """The rows of each table after its first `before[table]` (SQLite's rowid: the order of insertion)."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        added = {
            t: [
                dict(r._mapping)
                for r in connection.execute(
                    select(t).order_by(literal_column(f"{t.name}.rowid")).offset(before[t.name])
                )
            ]
            for t in Base.metadata.sorted_tables
        }
    engine.dispose()
    return added


def ceiling(records: dict[Table, list[dict]], transactions: int, directory: Path) -> float:
    """Seconds to insert `records` into an empty database of the service's schema, in `transactions`
    transactions (each table's rows dealt out over them in order)."""
    engine = make_engine(f"sqlite:///{directory / 'ceiling.db'}")
    upgrade_schema(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
        started = time.perf_counter()
        for i in range(transactions):
            with connection.begin():
                for table, rows in records.items():
                    share = rows[i * len(rows) // transactions : (i + 1) * len(rows) // transactions]
                    if share:
                        connection.execute(insert(table), share)
        seconds = time.perf_counter() - started
    engine.dispose()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--single", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=ANVIL_MAY_STILL_WRITE) as tmp:
        data = Path(tmp)
        with running_stack(data) as stack:
            client, shipper, receiver = stack.client, stack.shipper, stack.receiver
            before = row_counts(stack.database_url)
            batched = through_batches(client, shipper, receiver, args.pairs, args.batch)
            records = rows_added(stack.database_url, before)
            register_lot(client, shipper)  # a fresh lot for the one-at-a-time run
            single = one_at_a_time(client, shipper, receiver, args.single)
        requests = 2 * math.ceil(args.pairs / args.batch)
        inserted = ceiling(records, requests, data)
    written = sum(len(rows) for rows in records.values())
    rows = [
        (f"batch endpoint, {args.batch} per request", args.pairs, batched),
        ("one request per statement", args.single, single),
        (
            f"ceiling: the batch run's {written:,} rows into the database, no chain, {requests} transactions",
            args.pairs,
            {"dispatch": inserted / 2, "receipt": inserted / 2},
        ),
    ]
    top = args.pairs / inserted
    print(
        f"Ingest of signed dispatch+receipt pairs through the API (anvil, SQLite; {time.strftime('%Y-%m-%d')})\n"
    )
    print(
        "| path | pairs | dispatches (s) | receipts (s) | total (s) | transfers dispatched/s | pairs/s "
        "| of the ceiling |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, n, t in rows:
        total = t["dispatch"] + t["receipt"]
        if name.startswith("ceiling"):
            dispatches = receipts = dispatch_rate = "—"
        else:
            dispatches, receipts = f"{t['dispatch']:.1f}", f"{t['receipt']:.1f}"
            dispatch_rate = f"{n / t['dispatch']:.1f}"
        print(
            f"| {name} | {n:,} | {dispatches} | {receipts} | {total:.2f} | {dispatch_rate} | {n / total:.1f} "
            f"| {n / total / top:.1%} |"
        )


if __name__ == "__main__":
    main()
