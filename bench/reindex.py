"""Reindex benchmark: chain events per second into an empty read model.

    .venv/bin/python bench/reindex.py [--pairs 2000] [--batch 64] [--runs 2]

Starts its own anvil and service (SQLite, local profile settings) in a temporary directory and loads the
chain through the batch endpoint as bench/ingest.py does (`--pairs` signed dispatch+receipt pairs). Then,
`--runs` times, it indexes the whole chain into a new, empty database as `symledger reindex` does (the
indexer's rebuild from the deployment's first block, reading the node only), and checks the rebuilt read
model holds as many chain events and transfers as the service's. The garbage collector is tuned as in
`symledger reindex` (the service started in this process for the load tuned it). Prints a Markdown table. Figures depend on
the machine; nothing here is asserted but the counts.
"""

import argparse
import tempfile
import time
from pathlib import Path

from ingest import (  # bench/ingest.py: the same stack, loaded the same way
    ANVIL_MAY_STILL_WRITE,
    free_port,
    load_chain,
)
from sqlalchemy import func, select

from ledger_service import devstack
from ledger_service.chain.gateway import ChainGateway
from ledger_service.db.models import ChainEvent, Transfer
from ledger_service.db.session import make_engine, make_sessionmaker, upgrade_schema
from ledger_service.deployment import Deployment
from ledger_service.indexer import Indexer


def counts(database_url: str) -> tuple[int, int]:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            events = session.scalar(select(func.count()).select_from(ChainEvent)) or 0
            transfers = session.scalar(select(func.count()).select_from(Transfer)) or 0
    finally:
        engine.dispose()
    return events, transfers


def reindex(rpc: str, artifacts: Path, deployment: Deployment, database_url: str) -> tuple[float, int]:
    """Seconds to index the whole chain into the empty database at `database_url`, and its head block."""
    engine = make_engine(database_url)
    try:
        upgrade_schema(engine)
        gateway = ChainGateway(rpc, artifacts, relayer=None)  # reads only, as `symledger reindex`
        gateway.bind(deployment)
        indexer = Indexer(gateway, make_sessionmaker(engine), deployment.start_block)
        started = time.perf_counter()
        block = indexer.rebuild()
        return time.perf_counter() - started, block
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=ANVIL_MAY_STILL_WRITE) as tmp:
        data = Path(tmp)
        with devstack.running_anvil(data / "chain", free_port(), say=lambda _line: None) as rpc:
            settings = load_chain(data, rpc, args.pairs, args.batch)
            service = counts(settings.resolved_database_url)
            deployment = Deployment.load(settings.resolved_deployment_file)
            for run in range(1, args.runs + 1):
                url = f"sqlite:///{data / f'reindex-{run}.db'}"
                seconds, block = reindex(rpc, settings.artifacts_dir, deployment, url)
                rebuilt = counts(url)
                if rebuilt != service:
                    raise SystemExit(
                        f"run {run}: rebuilt {rebuilt} (events, transfers), the service has {service}"
                    )
                rows.append((run, block - deployment.start_block + 1, rebuilt, seconds))
    print(f"Reindex into an empty read model (anvil, SQLite; {time.strftime('%Y-%m-%d')})\n")
    print("| run | blocks | chain events | transfers | seconds | events/s |")
    print("|---:|---:|---:|---:|---:|---:|")
    for run, blocks, (events, transfers), seconds in rows:
        print(
            f"| {run} | {blocks:,} | {events:,} | {transfers:,} | {seconds:.2f} | {events / seconds:,.0f} |"
        )
    print(
        f"\n({args.pairs:,} dispatch+receipt pairs loaded through the batch endpoint, {args.batch} a request)"
    )


if __name__ == "__main__":
    main()
