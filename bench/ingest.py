"""Ingest benchmark: signed dispatch+receipt pairs through the API into the chain and the read model.

    .venv/bin/python bench/ingest.py [--pairs 1000] [--batch 64] [--single 50]

Starts its own anvil and service (SQLite, local profile settings) in a temporary directory, registers a
shipper with a lot and a receiver with a permit, and has both parties sign every statement beforehand (they
sign offline; signing is not the service's work). Then it times, through the HTTP API:
- the batch endpoint: the dispatches in batches of `--batch`, then their receipts in batches of `--batch`,
  every item recorded on chain and in the read model when its request returns;
- one at a time: `--single` pairs through `POST /transfers` and `POST /transfers/{id}/receipt`.
Prints a Markdown table. Figures depend on the machine; nothing here is asserted.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The parties and the stack as the service tests build them (tests/service/parties.py, conftest.py).
sys.path.insert(0, str(REPO / "tests" / "service"))

from conftest import deploy_stack, free_port  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from parties import Party, dispatch_terms, register_lot, sign_in, trading_pair  # noqa: E402

from ledger_service import devstack  # noqa: E402
from ledger_service.main import create_app  # noqa: E402
from ledger_service.settings import Settings  # noqa: E402

# npm's anvil is a launcher: once it has exited, the node it started may still be writing its state into the
# temporary directory, whose removal then fails after the figures were taken. Left to the system then.
ANVIL_MAY_STILL_WRITE = True


def signed_dispatches(client: TestClient, shipper: Party, receiver: Party, n: int) -> list[dict]:
    bodies = []
    for _ in range(n):
        prepared = client.post(
            "/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver, quantity=10)
        )
        assert prepared.status_code == 200, prepared.text
        bodies.append(shipper.signed_body(prepared.json()) | {"digest": prepared.json()["digest"]})
    return bodies


def signed_receipt(client: TestClient, receiver: Party, transfer_id: str) -> dict:
    prepared = client.post(f"/transfers/{transfer_id}/receipt/prepare", json={"received_quantity": 10})
    assert prepared.status_code == 200, prepared.text
    return receiver.signed_body(prepared.json())


def plain(body: dict) -> dict:
    return {"message": body["message"], "signature": body["signature"]}


def through_batches(client: TestClient, shipper: Party, receiver: Party, pairs: int, size: int) -> dict:
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


def one_at_a_time(client: TestClient, shipper: Party, receiver: Party, pairs: int) -> dict:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--single", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=ANVIL_MAY_STILL_WRITE) as tmp:
        data = Path(tmp)
        with devstack.running_anvil(data / "chain", free_port(), say=lambda _line: None) as rpc:
            regulator = Party("regulator")
            settings = deploy_stack(data, rpc, f"sqlite:///{data / 'ledger.db'}", regulator)
            with TestClient(create_app(settings)) as client:
                client.headers.update(sign_in(client, regulator))
                shipper, receiver = trading_pair(client, regulator)
                batched = through_batches(client, shipper, receiver, args.pairs, args.batch)
                register_lot(client, shipper)  # a fresh lot for the one-at-a-time run
                single = one_at_a_time(client, shipper, receiver, args.single)
    rows = [
        (f"batch endpoint, {args.batch} per request", args.pairs, batched),
        ("one request per statement", args.single, single),
    ]
    print(
        f"Ingest of signed dispatch+receipt pairs through the API (anvil, SQLite; {time.strftime('%Y-%m-%d')})\n"
    )
    print("| path | pairs | dispatches (s) | receipts (s) | total (s) | pairs/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, n, t in rows:
        total = t["dispatch"] + t["receipt"]
        print(
            f"| {name} | {n:,} | {t['dispatch']:.1f} | {t['receipt']:.1f} | {total:.1f} | {n / total:.1f} |"
        )


if __name__ == "__main__":
    main()
