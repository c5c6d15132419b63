"""Exports of a park's or a firm's records over a period, in the formats authorities and partners read
(docs/exports.md): the legal registry (CSV, XLSX), GS1 EPCIS 2.0 JSON-LD and US EPA e-Manifest JSON.

Every format is written from the same records, read a page of transfers at a time (in dispatch order), so
an export of any size holds one page in memory. A transfer's verdict is the worst verdict of the rule
pack's findings about it, judged as GET /verification/transfers/{id} judges it (with the lots it took and
opened), a page of transfers in one case file.

Which records an export holds follows ledger_service.access, as the park's operator or the firm itself
sees them; the route checks that the caller may ask for that park or firm.
"""

import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, tuple_
from sqlalchemy.orm import Session

from compliance import casefile as cf
from compliance.packs import Pack
from compliance.verdicts import Finding, Verdict, worst
from ledger_service.access import flows_visible_to, processings_visible_to, transfers_visible_to
from ledger_service.api.deps import Party
from ledger_service.casefiles import ZERO_ADDRESS, ZERO_HASH, evaluate, transfers_case, with_results
from ledger_service.db import models as m
from ledger_service.roles import Role
from ledger_service.search import Period

PAGE = 200  # transfers judged in one case file: big enough to amortise its queries, small to hold


@dataclass(frozen=True)
class Scope:
    """Whose records an export holds: a park's (as its operator sees them) or a firm's own."""

    park: str | None = None
    firm: m.Participant | None = None

    @property
    def viewer(self) -> Party:
        if self.firm is not None:  # no role: the firm sees its own records only
            return Party(self.firm.address, 0, self.firm.park)
        return Party(ZERO_ADDRESS, Role.PARK_OPERATOR.bit, self.park)

    @property
    def name(self) -> str:
        if self.firm is not None:
            return f"firm {self.firm.legal_name} ({self.firm.address})"
        return f"park {self.park}"

    @property
    def slug(self) -> str:
        if self.firm is not None:
            return f"firm-{self.firm.address}"
        # A file name in a header, which HTTP sends as Latin-1: "Đình Vũ" becomes "park-Dinh-Vu".
        plain = unicodedata.normalize("NFKD", str(self.park).replace("Đ", "D").replace("đ", "d"))
        letters = (c for c in plain if not unicodedata.combining(c))  # the accents NFKD split off
        words = "".join(c if c.isascii() and c.isalnum() else " " for c in letters).split()
        return "-".join(["park", *words])


@dataclass(frozen=True)
class Firm:
    address: str
    legal_name: str
    enterprise_id: str
    park: str

    @classmethod
    def of(cls, address: str, known: dict[str, m.Participant]) -> "Firm":
        p = known.get(address)
        if p is None:  # the read model derives every party a transfer names from its registration
            return cls(address, "", "", "")
        return cls(p.address, p.legal_name, p.enterprise_id, p.park)


@dataclass(frozen=True)
class Step:
    """A statement a party signed about a transfer: who, when, in which transaction."""

    statement: str  # Dispatch, PickUp, Delivery, Receipt, Rejection, Correction
    signer: str
    at: datetime
    tx_hash: str


@dataclass(frozen=True)
class TransferRecord:
    """A transfer as the exports write it."""

    id: str
    status: str
    return_of: str | None
    lot_id: str
    code: cf.WasteCode
    quantity_shipped: int
    quantity_received: int | None
    quantity_rejected: int
    rejection_reason: str | None
    returned_as: str | None
    shipper: Firm
    receiver: Firm
    transporters: tuple[Firm, ...]
    operation: str
    permit_number: str | None
    dispatched_at: datetime
    received_at: datetime | None
    steps: tuple[Step, ...]
    document_hash: str
    verdict: Verdict
    failed_rules: tuple[str, ...]  # rules whose finding on it is FAIL or INCONCLUSIVE
    findings: tuple[Finding, ...] = ()  # every finding of the pack about it (the compliance report's reasons)

    def signed(self, statement: str) -> list[Step]:
        return [s for s in self.steps if s.statement == statement]

    @property
    def picked_up_at(self) -> datetime | None:
        steps = self.signed("PickUp")
        return steps[0].at if steps else None

    @property
    def delivered_at(self) -> datetime | None:
        steps = self.signed("Delivery")
        return steps[-1].at if steps else None


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Selection:
    """What an export holds: the scope's records of the period, as the chain stood at block `block` (the
    last one indexed when the export began), so that what is recorded while it streams stays out and the
    count announced up front is the count written."""

    scope: Scope
    period: Period
    block: int

    @classmethod
    def now(cls, session: Session, scope: Scope, period: Period) -> "Selection":
        return cls(scope, period, session.scalar(select(func.max(m.ChainEvent.block_number))) or 0)


def transfer_filter(selection: Selection) -> list[ColumnElement[bool]]:
    return [
        transfers_visible_to(selection.scope.viewer),
        *selection.period.where(m.Transfer.dispatched_at),
        m.Transfer.dispatch_block <= selection.block,
    ]


def count_transfers(session: Session, selection: Selection, scheme: str | None = None) -> int:
    """How many transfers the selection holds (of `scheme`'s waste codes only, when given)."""
    where = transfer_filter(selection)
    if scheme is not None:
        where.append(
            m.Transfer.code_key.in_(select(m.WasteCode.code_key).where(m.WasteCode.scheme == scheme))
        )
    return session.scalar(select(func.count()).select_from(m.Transfer).where(*where)) or 0


def transfer_pages(
    session: Session,
    selection: Selection,
    pack: Pack,
    read_document: Callable[[str], bytes],
    evaluation_date: datetime | None = None,
) -> Iterator[list[TransferRecord]]:
    """The selection's transfers (by dispatch in the period), in dispatch order, a page at a time (keyset
    paging: each page is one query however deep the export)."""
    where = transfer_filter(selection)
    after: tuple[int, str] | None = None
    while True:
        query = select(m.Transfer).where(*where)
        if after is not None:
            query = query.where(tuple_(m.Transfer.dispatch_block, m.Transfer.id) > after)
        rows = session.scalars(query.order_by(m.Transfer.dispatch_block, m.Transfer.id).limit(PAGE)).all()
        if not rows:
            return
        after = (rows[-1].dispatch_block, rows[-1].id)
        yield _records(session, rows, pack, read_document, evaluation_date)
        session.expunge_all()  # what was read for this page is written out: let it go


def _records(
    session: Session,
    rows: list[m.Transfer],
    pack: Pack,
    read_document: Callable[[str], bytes],
    evaluation_date: datetime | None,
) -> list[TransferRecord]:
    ids = [t.id for t in rows]
    case = with_results(transfers_case(session, ids, evaluation_date), read_document)
    report = evaluate(case, pack)
    verdicts: dict[str, list[Verdict]] = defaultdict(list)
    failed: dict[str, set[str]] = defaultdict(set)
    found: dict[str, list[Finding]] = defaultdict(list)
    for rule in report.rules:
        for finding in rule.findings:
            verdicts[finding.subject].append(finding.verdict)
            found[finding.subject].append(finding)
            if finding.verdict in (Verdict.FAIL, Verdict.INCONCLUSIVE):
                failed[finding.subject].add(rule.rule_id)
    wanted = set(ids)
    judged = {t.id: t for t in case.file.transfers if t.id in wanted}
    codes = {c.key: c for c in case.file.codes}
    addresses = {a for t in rows for a in (t.shipper, t.receiver, *t.transporters)}
    known = {
        p.address: p
        for p in session.scalars(select(m.Participant).where(m.Participant.address.in_(addresses)))
    }
    permits = {p.id: p.number for p in case.file.permits}
    rejections = {
        x.transfer_id: x for x in session.scalars(select(m.Rejection).where(m.Rejection.transfer_id.in_(ids)))
    }
    returns = dict(
        session.execute(
            select(m.Rejection.return_id, m.Rejection.transfer_id).where(m.Rejection.return_id.in_(ids))
        ).all()
    )
    records = []
    for t in rows:
        subject = f"transfer {t.id}"
        rejection = rejections.get(t.id)
        steps = tuple(
            Step(s.statement, s.party, s.recorded_at, s.evidence.tx_hash or "")
            for s in judged[t.id].signatures
        )
        records.append(
            TransferRecord(
                id=t.id,
                status=t.status,
                return_of=returns.get(t.id),
                lot_id=t.lot_id,
                code=codes[t.code_key],
                quantity_shipped=t.quantity,
                quantity_received=t.received_quantity,
                quantity_rejected=rejection.rejected_quantity if rejection else 0,
                rejection_reason=rejection.reason if rejection else None,
                returned_as=rejection.return_id if rejection else None,
                shipper=Firm.of(t.shipper, known),
                receiver=Firm.of(t.receiver, known),
                transporters=tuple(Firm.of(a, known) for a in t.transporters),
                operation=t.operation,
                permit_number=permits.get(t.permit_id) if t.permit_id != ZERO_HASH else None,
                dispatched_at=_utc(t.dispatched_at),
                received_at=t.received_at and _utc(t.received_at),
                steps=steps,
                document_hash=t.document_hash,
                verdict=worst(verdicts[subject]),
                failed_rules=tuple(sorted(failed[subject])),
                findings=tuple(found[subject]),
            )
        )
    return records


def processings(session: Session, selection: Selection) -> Iterator[m.Processing]:
    """The processings the scope's firms recorded in the period, in order, a page at a time."""
    where = [
        processings_visible_to(selection.scope.viewer),
        *selection.period.where(m.Processing.recorded_at),
        m.Processing.recorded_block <= selection.block,
    ]
    yield from _keyset(session, m.Processing, where, m.Processing.recorded_block, m.Processing.id)


def flow_periods(session: Session, selection: Selection) -> Iterator[tuple[m.MeteredFlow, m.MeteredPeriod]]:
    """The anchored periods of the scope's metered flows anchored in the period, with their flow."""
    flows: dict[str, m.MeteredFlow] = {}
    visible = select(m.MeteredFlow.id).where(flows_visible_to(selection.scope.viewer))
    where = [
        m.MeteredPeriod.flow_id.in_(visible),
        *selection.period.where(m.MeteredPeriod.anchored_at),
        m.MeteredPeriod.anchored_block <= selection.block,
    ]
    for row in _keyset(
        session,
        m.MeteredPeriod,
        where,
        m.MeteredPeriod.anchored_block,
        m.MeteredPeriod.flow_id,
        m.MeteredPeriod.period,
    ):
        flow = flows.get(row.flow_id) or session.get(m.MeteredFlow, row.flow_id)
        flows[row.flow_id] = flow
        yield flow, row


def _keyset(session: Session, model: type, where: list[ColumnElement[bool]], *order: Any) -> Iterator[Any]:
    after = None
    while True:
        query = select(model).where(*where)
        if after is not None:
            query = query.where(tuple_(*order) > after)
        rows = session.scalars(query.order_by(*order).limit(PAGE)).all()
        if not rows:
            return
        after = tuple(getattr(rows[-1], c.key) for c in order)
        yield from rows


def participants(session: Session, addresses: set[str]) -> dict[str, m.Participant]:
    return {
        p.address: p
        for p in session.scalars(select(m.Participant).where(m.Participant.address.in_(addresses)))
    }
