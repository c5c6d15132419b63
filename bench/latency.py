"""API latency benchmark: p50/p99 of reads and of submissions under concurrent clients.

    .venv/bin/python bench/latency.py [--clients 50] [--requests 20] [--pairs 500] [--submissions 2]

Starts its own anvil and the service served by uvicorn (one process, as `make run` serves it; SQLite, local
profile settings) in a temporary directory, and loads the chain through the batch endpoint as
bench/ingest.py does (`--pairs` signed dispatch+receipt pairs). Then `--clients` clients at once, each on its
own connection and signed in as the regulator (who may see everything):
- reads: each sends `--requests` requests, in turn GET /transfers?limit=50, GET /transfers/{id} (of the
  loaded transfers) and GET /lots/{id}/lineage/graph (the shipper's generated lot, with every transfer
  from it);
- submissions: each sends `--submissions` dispatches one at a time through POST /transfers (signed
  beforehand; each answered once recorded on chain and in the read model).
The clients run in this process (httpx, asyncio) on the same machine as the service and the node, so they
take some of its cores too. Prints a Markdown table. Figures depend on the machine; nothing here is
asserted but the status codes.
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx
from ingest import (  # bench/ingest.py, and the parties and stack of the service tests through it
    ANVIL_MAY_STILL_WRITE,
    REPO,
    Party,
    deploy_stack,
    free_port,
    plain,
    sign_in,
    signed_dispatches,
    through_batches,
    trading_pair,
)

from ledger_service import devstack


def serve(settings_env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "ledger_service.main:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
    ]
    # The code this process runs (PYTHONPATH as the service tests set it), or this checkout's.
    env = {**os.environ, **settings_env, "PYTHONPATH": os.environ.get("PYTHONPATH", str(REPO))}
    return subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def wait_until_up(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
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


async def run_clients(
    base: str, headers: dict[str, str], work: list[list[tuple[str, str, dict | None]]]
) -> tuple[dict[str, list[float]], dict[str, list[str]], float]:
    """Each list of `work` sent in order by its own client, all clients at once: the latencies by name, the
    answers other than 200/201 by name, and the seconds it all took."""
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, list[str]] = defaultdict(list)

    async def client(requests: list[tuple[str, str, dict | None]]) -> None:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as http:
            for name, path, body in requests:
                started = time.perf_counter()
                try:
                    if body is None:
                        response = await http.get(path)
                    else:
                        response = await http.post(path, json=body)
                except httpx.TransportError as exc:  # the connection dropped: an answer nobody got
                    errors[name].append(f"no answer: {exc!r}")
                    continue
                latencies[name].append(time.perf_counter() - started)
                if response.status_code not in (200, 201):
                    errors[name].append(f"{response.status_code} {response.text[:300]}")

    started = time.perf_counter()
    await asyncio.gather(*(client(requests) for requests in work))
    return latencies, errors, time.perf_counter() - started


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20, help="reads each client sends")
    parser.add_argument("--pairs", type=int, default=500, help="pairs loaded before measuring")
    parser.add_argument("--submissions", type=int, default=2, help="dispatches each client submits")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=ANVIL_MAY_STILL_WRITE) as tmp:
        data = Path(tmp)
        with devstack.running_anvil(data / "chain", free_port(), say=lambda _line: None) as rpc:
            regulator = Party("regulator")
            database_url = f"sqlite:///{data / 'ledger.db'}"
            deploy_stack(data, rpc, database_url, regulator)
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            env = {
                "SYMLEDGER_DATA_DIR": str(data),
                "SYMLEDGER_RPC_URL": rpc,
                "SYMLEDGER_DATABASE_URL": database_url,
                "SYMLEDGER_RECEIPT_POLL_SECONDS": "0.02",
                "SYMLEDGER_INDEXER_POLL_SECONDS": "0.2",
                "SYMLEDGER_ACCESS_TOKEN_SECONDS": "3600",
                "SYMLEDGER_PORT": str(port),
            }
            log = data / "service.log"
            server = serve(env, port, log)
            try:
                wait_until_up(base, server, log)
                with httpx.Client(base_url=base, timeout=120) as http:
                    http.headers.update(sign_in(http, regulator))
                    shipper, receiver = trading_pair(http, regulator)
                    through_batches(http, shipper, receiver, args.pairs, 64)
                    ids = [t["id"] for t in http.get("/transfers", params={"limit": 50}).json()["items"]]
                    reads = [
                        ("GET /transfers?limit=50", "/transfers?limit=50"),
                        ("GET /transfers/{id}", None),
                        ("GET /lots/{id}/lineage/graph", f"/lots/{shipper.lot_id}/lineage/graph"),
                    ]
                    read_work = [
                        [
                            (name, path or f"/transfers/{ids[(c + r) % len(ids)]}", None)
                            for r in range(args.requests)
                            for name, path in [reads[(c + r) % len(reads)]]
                        ]
                        for c in range(args.clients)
                    ]
                    signed = signed_dispatches(http, shipper, receiver, args.clients * args.submissions)
                    submit_work = [
                        [
                            ("POST /transfers", "/transfers", plain(d))
                            for d in signed[c * args.submissions : (c + 1) * args.submissions]
                        ]
                        for c in range(args.clients)
                    ]
                    headers = dict(http.headers)
                reads_latency, reads_errors, reads_seconds = asyncio.run(
                    run_clients(base, headers, read_work)
                )
                submit_latency, submit_errors, submit_seconds = asyncio.run(
                    run_clients(base, headers, submit_work)
                )
            finally:
                server.terminate()
                server.wait(timeout=30)
            failures = [line for line in log.read_text().splitlines() if "Error" in line or "error" in line]
    print(
        f"API latency under {args.clients} concurrent clients (uvicorn, one process; anvil, SQLite; "
        f"{args.pairs:,} pairs loaded; {time.strftime('%Y-%m-%d')})\n"
    )
    print("| request | requests | p50 (ms) | p99 (ms) | max (ms) | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    errors = reads_errors | submit_errors
    for latencies in (reads_latency, submit_latency):
        for name, values in latencies.items():
            print(
                f"| {name} | {len(values):,} | {1000 * statistics.median(values):.0f} | "
                f"{1000 * percentile(values, 99):.0f} | {1000 * max(values):.0f} | {len(errors.get(name, []))} |"
            )
    reads_total, submit_total = (sum(len(v) for v in x.values()) for x in (reads_latency, submit_latency))
    print(
        f"\nThroughput: reads {reads_total / reads_seconds:.0f} requests/s, "
        f"submissions {submit_total / submit_seconds:.1f} requests/s."
    )
    for name, answers in errors.items():
        print(f"\n{name}: {len(answers)} answered with an error, the first: {answers[0]}")
    if errors and failures:
        print("\nThe service's log, its lines naming an error (the last 20):\n")
        print("\n".join(f"    {line}" for line in failures[-20:]))


if __name__ == "__main__":
    main()
