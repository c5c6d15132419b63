"""Eco-industrial-park KPIs of a park or a firm over a period (compliance.kpis, docs/kpis.md), read from the
read model as the exports read it: the same scope, snapshot and pages of judged transfers.

compliance.kpis computes; this module reads the records a page at a time and feeds them to its Tally, so a
park of any size holds one page of transfers in memory.
"""

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance import kpis as k
from compliance.packs import Pack
from compliance.verdicts import Verdict
from ledger_service import exports
from ledger_service.db import models as m
from ledger_service.settings import Settings

FACTORS_FILE = Path(k.__file__).parent / "factors" / "kpi-factors.json"


@cache
def _factors_data(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def factors(settings: Settings) -> k.Factors:
    """The deployment's factors: its file (default: the ledger's) with its overrides."""
    return k.factors_from_data(
        _factors_data(settings.kpi_factors_file or FACTORS_FILE), settings.kpi_factor_overrides
    )


def _members(scope: exports.Scope) -> Any:
    if scope.firm is not None:
        return [scope.firm.address]
    return select(m.Participant.address).where(m.Participant.park == scope.park)


def _exchanges(
    session: Session, selection: exports.Selection, page: list[exports.TransferRecord]
) -> list[k.Exchange]:
    lot_ids = {r.lot_id for r in page}
    generated = set(
        session.scalars(
            select(m.Lot.id).where(
                m.Lot.id.in_(lot_ids),
                m.Lot.origin == "generated",
                *selection.period.where(m.Lot.created_at),
                m.Lot.created_block <= selection.block,
            )
        )
    )
    # A density a processor declared for a received lot (its id is the transfer's): litres to grams.
    densities: dict[str, int] = {}
    liquid = [r.id for r in page if r.code.unit in k.LITRES_PER_UNIT]
    if liquid:
        used = select(m.LotLineage.processing_id).where(
            m.LotLineage.lot_id.in_(liquid), m.LotLineage.role == "input"
        )
        for processing in session.scalars(select(m.Processing).where(m.Processing.id.in_(used))):
            for item in processing.inputs:
                densities.setdefault(item["lot_id"], int(item["grams_per_unit"]))
    return [
        k.Exchange(
            id=r.id,
            shipper=r.shipper.address,
            receiver=r.receiver.address,
            material=f"{r.code.scheme} {r.code.code}",
            description=r.code.description,
            unit=r.code.unit,
            accepted=r.quantity_received,
            operation=r.operation,
            dispatched_at=r.dispatched_at,
            verdict=r.verdict,
            failed_rules=r.failed_rules,
            from_generated_lot=r.lot_id in generated and r.return_of is None,
            return_of=r.return_of,
            grams_per_unit=densities.get(r.id),
        )
        for r in page
    ]


def _generated(session: Session, selection: exports.Selection) -> Any:
    where = [
        m.Lot.holder.in_(_members(selection.scope)),
        m.Lot.origin == "generated",
        *selection.period.where(m.Lot.created_at),
        m.Lot.created_block <= selection.block,
    ]
    codes = {c.code_key: c for c in session.scalars(select(m.WasteCode))}
    for lot in exports._keyset(session, m.Lot, where, m.Lot.created_block, m.Lot.id):
        code = codes[lot.code_key]
        yield k.GeneratedLot(
            lot.id, lot.holder, f"{code.scheme} {code.code}", code.unit, lot.quantity, lot.balance
        )


def _metered(session: Session, selection: exports.Selection) -> Any:
    for flow, period in exports.flow_periods(session, selection):
        yield k.MeteredQuantity(
            flow.id,
            flow.supplier,
            flow.offtaker,
            flow.medium,
            flow.unit,
            int(period.quantity),
            period.anchored_at,
        )


@dataclass
class Summary:
    """What the compliance report says besides its transfers: rules x verdicts, the failing transfers."""

    rules: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    verdicts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    failing: list[tuple[exports.TransferRecord, list[tuple[str, str, str]]]] = field(default_factory=list)
    transfers: int = 0

    def add(self, record: exports.TransferRecord) -> None:
        self.transfers += 1
        self.verdicts[record.verdict.value] += 1
        for finding in record.findings:
            self.rules[finding.rule_id][finding.verdict.value] += 1
        if record.verdict in (Verdict.FAIL, Verdict.INCONCLUSIVE):
            reasons = [
                (f.rule_id, f.verdict.value, f.reason)
                for f in record.findings
                if f.verdict in (Verdict.FAIL, Verdict.INCONCLUSIVE)
            ]
            # The record itself is let go with its page: keep what the report prints of it.
            self.failing.append((record, reasons))


def compute(
    session: Session,
    selection: exports.Selection,
    pack: Pack,
    read_document: Callable[[str], bytes],
    factors_: k.Factors,
    summary: Summary | None = None,
) -> dict[str, Any]:
    """The KPIs of the selection, as JSON; `summary`, given, gathers the report's verdict summary too."""
    tally = k.Tally(factors_)
    for page in exports.transfer_pages(session, selection, pack, read_document):
        for exchange in _exchanges(session, selection, page):
            tally.add_exchange(exchange)
        if summary is not None:
            for record in page:
                summary.add(record)
    for lot in _generated(session, selection):
        tally.add_generated(lot)
    for quantity in _metered(session, selection):
        tally.add_metered(quantity)
    return tally.result()


def answer(
    scope: exports.Scope, period_words: str, selection: exports.Selection, pack: Pack, result: dict[str, Any]
) -> dict[str, Any]:
    """The KPIs with what they were computed over."""
    return {
        "scope": scope.name,
        "park": scope.park if scope.firm is None else scope.firm.park,
        "firm": None if scope.firm is None else scope.firm.address,
        "period": period_words,
        "as_of_block": selection.block,
        "rule_pack": {"id": pack.id, "version": pack.version},
        "counted_verdicts": [v.value for v in k.COUNTED],
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **result,
    }
