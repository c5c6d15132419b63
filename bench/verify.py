"""Verification benchmark: a lot's lineage of 10, 100 and 1,000 transfers, read from the read model into a
case file (ledger_service.casefiles) and judged under the VN rule pack (compliance.engine).

    .venv/bin/python bench/verify.py [--large] [--repeat 5] [--database-url URL]

This measures verification from the read model, not ingestion: the rows a real indexer would write
(participants, permits, lots, transfers and their chain events) are inserted directly into a fresh SQLite
database migrated to the service's schema (or into an empty PostgreSQL schema with --database-url).
Ingestion through the chain is bench/ingest.py.

Two shapes of lineage, each verified from its generated lot, so the lineage holds every transfer:
- tree: each lot is split into four transfers to other firms, each received and split again (breadth);
- chain: each lot is shipped whole to the next firm, which ships it on (depth: one traversal step a link).
Every transfer is a dispatch and a receipt of a code of Vietnam's list under a valid permit, so every rule
that applies passes and the others are N/A (the table shows the verdict: a bench that measured failures
would time another path). `--large` adds 10,000 transfers. `--hazardous` ships a hazardous code instead
(marked '**' in Vietnam's list), so that the hazardous-waste rules judge each transfer too: the ledger holds
no carrier or vehicle tracks for them, so the verdict is INCONCLUSIVE rather than PASS.
The process's garbage collector is tuned as the service tunes its own (ledger_service.runtime).
Prints a Markdown table of the fastest of `--repeat` runs (the least disturbed by whatever else the
machine runs). Figures depend on the machine; nothing here is asserted.
"""

import argparse
import hashlib
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from compliance import packs  # noqa: E402
from ledger_service.casefiles import evaluate, lot_case  # noqa: E402
from ledger_service.db import models as m  # noqa: E402
from ledger_service.db.session import make_engine, make_sessionmaker, upgrade_schema  # noqa: E402
from ledger_service.runtime import tune_garbage_collector  # noqa: E402

FIRMS = 50
SPLIT = 4
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
CODE = "0x" + hashlib.sha256(b"VN-TT02-2022 10 02 02").hexdigest()
DOCUMENT = "0x" + "d0" * 32


def hex32(*parts: object) -> str:
    return "0x" + hashlib.sha256(repr(parts).encode()).hexdigest()


def address(n: int) -> str:
    return "0x" + f"{n + 1:040x}"


class Ledger:
    """Rows as the indexer writes them, each record with the chain event that recorded it."""

    def __init__(self, name: str, hazardous: bool = False) -> None:
        self.name = name
        self.hazardous = hazardous
        self.rows: dict[type, list[dict[str, Any]]] = {}
        self.block = 0
        self.regulator = address(10_000)

    def add(self, model: type, **row: Any) -> None:
        self.rows.setdefault(model, []).append(row)

    def event(self, event: str, subject: str, at: datetime, **args: Any) -> str:
        self.block += 1
        tx = hex32(self.name, "tx", self.block)
        self.add(
            m.ChainEvent,
            block_number=self.block,
            block_hash=hex32(self.name, "block", self.block),
            block_time=at,
            tx_hash=tx,
            log_index=0,
            contract=address(20_000),
            event=event,
            subject=subject,
            args=args,
        )
        return tx

    def firms(self) -> None:
        self.add(m.Participant, **self._participant(self.regulator, 1, "Regulator"))
        self.event("ParticipantRegistered", self.regulator, T0, participant=self.regulator)
        tx = self.event("WasteCodeRegistered", CODE, T0, regulator=self.regulator)
        code, description = (
            ("17 02 03**", "Dung môi thải (spent solvents)")
            if self.hazardous
            else ("10 02 02", "Xỉ chưa xử lý (unprocessed slag)")
        )
        self.add(
            m.WasteCode, code_key=CODE, catalogue_id=1, scheme="VN-TT02-2022", code=code, unit="KGM",
            hazardous=self.hazardous, description=description, registered_by=self.regulator, registered_tx=tx,
        )  # fmt: skip
        for n in range(FIRMS):
            firm = address(n)
            self.add(m.Participant, **self._participant(firm, 0b11100, f"Firm {n}"))
            self.event("ParticipantRegistered", firm, T0, participant=firm, regulator=self.regulator)
            permit = hex32(self.name, "permit", n)
            tx = self.event("PermitRegistered", permit, T0, holder=firm, regulator=self.regulator)
            self.add(
                m.Permit, permit_id=permit, permit_number=f"GPMT-{n:04d}", holder=firm, kind="ENVIRONMENTAL_PERMIT",
                coverage=[{"code_key": CODE, "operations": ["R4"]}], yearly_capacity=10**12,
                valid_from=T0 - timedelta(days=30), valid_until=T0 + timedelta(days=3650), revoked=False,
                registered_by=self.regulator, registered_tx=tx,
            )  # fmt: skip

    def _participant(self, firm: str, roles: int, name: str) -> dict[str, Any]:
        return dict(
            address=firm, roles=roles, legal_name=name, enterprise_id=name, park="Bench Park", status="active",
            registered_by=self.regulator, registered_tx=hex32(firm), registered_block=0, registered_at=T0,
        )  # fmt: skip

    def generated_lot(self, holder: int, quantity: int) -> str:
        lot = hex32(self.name, "lot")
        tx = self.event("LotGenerated", lot, T0, generator=address(holder))
        self.add(
            m.Lot, id=lot, holder=address(holder), code_key=CODE, origin="generated", quantity=quantity,
            balance=quantity, source_transfer=None, document_hash=DOCUMENT, created_tx=tx,
            created_block=self.block, created_at=T0,
        )  # fmt: skip
        return lot

    def transfer(self, n: int, lot: str, shipper: int, receiver: int, quantity: int) -> str:
        """Transfer `n`: dispatched, and received whole, opening the receiver's lot (its id)."""
        t = hex32(self.name, "transfer", n)
        sent, received = T0 + timedelta(minutes=2 * n), T0 + timedelta(minutes=2 * n + 1)
        tx = self.event("TransferDispatched", t, sent, shipper=address(shipper), receiver=address(receiver))
        block = self.block
        receipt = self.event("TransferReceived", t, received, receiver=address(receiver))
        self.add(
            m.Transfer, id=t, shipper=address(shipper), receiver=address(receiver), lot_id=lot, code_key=CODE,
            quantity=quantity, operation="R4", permit_id=hex32(self.name, "permit", receiver), certificates=[],
            transporters=[], licences=[], legs_picked_up=0, legs_delivered=0, document_hash=DOCUMENT,
            status="received", dispatch_tx=tx, dispatch_block=block, dispatched_at=sent,
            received_quantity=quantity, receipt_tx=receipt, receipt_block=self.block, received_at=received,
        )  # fmt: skip
        self.add(
            m.Lot, id=t, holder=address(receiver), code_key=CODE, origin="received", quantity=quantity,
            balance=quantity, source_transfer=t, document_hash=None, created_tx=receipt,
            created_block=self.block, created_at=received,
        )  # fmt: skip
        self.add(
            m.SignedPayload, digest=hex32(self.name, "receipt", n), statement="Receipt", contract=address(20_000),
            signer=address(receiver), nonce=None, message={"transferId": t}, signature="0x", context=None,
            status="recorded", tx_hash=receipt, block_number=self.block, error=None, created_at=received,
            updated_at=received,
        )  # fmt: skip
        return t

    def save(self, session: Session) -> None:
        for model, rows in self.rows.items():
            session.execute(insert(model), rows)


def tree(ledger: Ledger, transfers: int) -> str:
    """A generated lot split four ways, each part received and split again, until `transfers` exist."""
    root = ledger.generated_lot(0, SPLIT**8)
    frontier, n, holder = [(root, 0, SPLIT**8)], 0, {root: 0}
    balance: dict[str, int] = {}
    while n < transfers:
        lot, shipper, quantity = frontier.pop(0)
        part = quantity // SPLIT
        for _ in range(min(SPLIT, transfers - n)):
            receiver = (shipper + 1 + n % (FIRMS - 1)) % FIRMS
            t = ledger.transfer(n, lot, shipper, receiver, part)
            balance[lot] = balance.get(lot, quantity) - part
            frontier.append((t, receiver, part))
            holder[t] = receiver
            n += 1
    for row in ledger.rows[m.Lot]:
        row["balance"] = balance.get(row["id"], row["balance"])
    return root


def chain(ledger: Ledger, transfers: int) -> str:
    """A generated lot shipped whole from firm to firm, `transfers` times."""
    root = ledger.generated_lot(0, 1_000)
    lot, shipper = root, 0
    for n in range(transfers):
        receiver = (shipper + 1) % FIRMS
        lot, shipper = ledger.transfer(n, lot, shipper, receiver, 1_000), receiver
    for row in ledger.rows[m.Lot]:
        row["balance"] = 0 if row["id"] != lot else 1_000
    return root


def measure(url: str, shape: str, transfers: int, repeat: int, hazardous: bool = False) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade_schema(engine)
    sessions = make_sessionmaker(engine)
    ledger = Ledger(f"{shape}-{transfers}", hazardous)
    ledger.firms()
    root = {"tree": tree, "chain": chain}[shape](ledger, transfers)
    with sessions.begin() as session:
        ledger.save(session)
    if engine.dialect.name == "postgresql":
        # Statistics, as autovacuum keeps them in a database in service: without them the planner takes
        # the lineage walk's recursive query for one over empty tables (12 s instead of 0.3 for 10,000).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")
    pack = packs.load("VN")
    builds, evaluations = [], []
    for _ in range(repeat):
        with sessions() as session:  # a fresh session: nothing cached from the run before
            started = time.perf_counter()
            case = lot_case(session, session.get_one(m.Lot, root), max_nodes=100_000)
            built = time.perf_counter()
            report = evaluate(case, pack)
            done = time.perf_counter()
        builds.append(built - started)
        evaluations.append(done - built)
    assert len(case.judged.transfers) == transfers, (shape, transfers, len(case.judged.transfers))
    engine.dispose()
    build, judge = min(builds), min(evaluations)
    return {"build": build, "evaluate": judge, "total": build + judge, "verdict": report.verdict.value}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", action="store_true", help="also 10,000 transfers")
    parser.add_argument(
        "--hazardous", action="store_true", help="a hazardous code: the VN hazardous rules apply"
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per size; the fastest is shown")
    parser.add_argument(
        "--database-url", help="an empty database (default: a new SQLite file); its tables are dropped first"
    )
    args = parser.parse_args()
    tune_garbage_collector()
    sizes = [10, 100, 1_000] + ([10_000] if args.large else [])
    print("| shape | transfers | build (s) | evaluate (s) | total (s) | verdict |")
    print("|---|---:|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for shape in ("tree", "chain"):
            for size in sizes:
                url = args.database_url or f"sqlite:///{Path(tmp) / f'{shape}-{size}.db'}"
                if args.database_url:
                    _empty(url)
                r = measure(url, shape, size, args.repeat, args.hazardous)
                print(
                    f"| {shape} | {size:,} | {r['build']:.3f} | {r['evaluate']:.3f} | {r['total']:.3f} "
                    f"| {r['verdict']} |",
                    flush=True,
                )


def _empty(url: str) -> None:
    from sqlalchemy import text

    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


if __name__ == "__main__":
    main()
