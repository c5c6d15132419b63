"""Verification and evidence bundles through the API, on a real chain: a lot's lineage of 10, 100, 1,000 and
10,000 transfers, each a dispatch and a receipt recorded through the batch endpoint.

    .venv/bin/python bench/bundles.py [--sizes 10,100,1000,10000]

Starts its own anvil and service (as bench/ingest.py does: SQLite, uvicorn in a process of its own). For
each size, the shipper registers a generated lot and ships it to the receiver in that many transfers, each
received (so the lineage holds the lot, the transfers and the receiver's lots). Then, as the regulator:
- `GET /verification/lots/{id}`: the lineage's case file built from the read model and judged under the VN
  pack (the JSON report);
- `GET /verification/lots/{id}/bundle`: the evidence bundle (case file, pack, report, every signed
  statement read back from its transaction's calldata, the transactions' receipts and their blocks'
  headers), as a regulator would take it away to check offline (`symledger verify-bundle`).
Prints a Markdown table of seconds and bytes. Loading 10,000 pairs (each statement prepared through the API
and signed) takes a few minutes; only the two reads are timed. Figures depend on the machine; nothing here
is asserted.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx
from ingest import (  # bench/ingest.py, and the parties and stack of the service tests through it
    ANVIL_MAY_STILL_WRITE,
    register_lot,
    running_stack,
    through_batches,
)

BATCH = 256


def timed_get(client: httpx.Client, path: str) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = client.get(path)
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        sys.exit(f"GET {path}: {response.status_code} {response.text[:500]}")
    return seconds, response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,10000", help="transfers in each lineage")
    sizes = [int(size) for size in parser.parse_args().sizes.split(",")]
    print(f"Verification and evidence bundles through the API (anvil, SQLite; {time.strftime('%Y-%m-%d')})\n")
    print(
        "| transfers | verify (s) | report (bytes) | verdict | bundle (s) | bundle (bytes) | bytes a transfer |"
    )
    print("|---:|---:|---:|---|---:|---:|---:|", flush=True)
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=ANVIL_MAY_STILL_WRITE) as tmp:
        data = Path(tmp)
        with running_stack(data, timeout=1800) as stack:
            client, shipper, receiver = stack.client, stack.shipper, stack.receiver
            for size in sizes:
                lot = register_lot(client, shipper, quantity=10 * size)["id"]
                through_batches(client, shipper, receiver, size, BATCH)  # 10 a transfer: the lot whole
                verify_seconds, report = timed_get(client, f"/verification/lots/{lot}")
                bundle_seconds, bundle = timed_get(client, f"/verification/lots/{lot}/bundle")
                print(
                    f"| {size:,} | {verify_seconds:.2f} | {len(report.content):,} | {report.json()['verdict']} "
                    f"| {bundle_seconds:.2f} | {len(bundle.content):,} | {len(bundle.content) // size:,} |",
                    flush=True,  # a row as soon as it is measured: the largest takes minutes
                )


if __name__ == "__main__":
    main()
