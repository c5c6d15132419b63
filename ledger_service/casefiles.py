"""Case files from the read model: the records a compliance verdict rests on (compliance.casefile), for a
lot's whole lineage, a transfer, a firm over a period or a park over a period.

Judged records and context. A case names the records it is about (the judged ones) and also holds, as
context, the records their verdicts need: everything that took from a judged lot (its mass balance is
judged on all that left it, so the siblings of an upstream lot come along), the processing that opened a
judged lot (what a product or by-product claims rests on it), the lots a judged transfer or processing took
from or opened, every transfer and final use that took from any of those lots, and the parties, codes,
permits, certificates and documents all of these name. `evaluate` drops the findings about context
records, so a report speaks only of what was asked for.

Every record carries its Evidence: the chain event that recorded it (transaction, block, log index) and
who signed it. A transfer's Signatures are read from its indexed events (dispatch, legs, receipt,
rejection, corrections); the digest of a pick-up, delivery or receipt is not in its event, so it comes from
the relayer's outbox when this service relayed it, and is "" otherwise.

Each kind of record is read with a query or two (chunked for long id lists), whatever the size of the case.
"""

import functools
import json
from collections import defaultdict, namedtuple
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Result,
    Select,
    String,
    Text,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from compliance import casefile as cf
from compliance.engine import evaluate as evaluate_case
from compliance.packs import Pack
from compliance.results import Results, ResultsUnreadable, read_results
from compliance.verdicts import Finding, Report, Verdict, worst
from ledger_service.access import lots_visible_to, processings_visible_to, transfers_visible_to
from ledger_service.api.deps import Party
from ledger_service.db import models as m
from ledger_service.documents.crypto import DocumentMissing, DocumentUnreadable, IntegrityFailure
from ledger_service.lineage import CHUNK, LOT, PROCESSING, traverse
from ledger_service.roles import PermitKind, Role
from ledger_service.search import Period

ZERO_HASH = "0x" + "00" * 32
ZERO_ADDRESS = "0x" + "00" * 20
# The event that opened a lot of each origin (a receipt's lot: a receipt, or a rejection accepting part).
LOT_OPENED = {
    "generated": ("LotGenerated",),
    "produced": ("OutputLotOpened",),
    "received": ("TransferReceived", "TransferRejected"),
}
# Events in which a party signed a statement about a transfer: (the party's role, the statement).
SIGNED_EVENTS = {
    "TransferDispatched": ("shipper", "Dispatch"),
    "TransferReturned": ("shipper", "Rejection"),  # a return's shipper is the receiver that rejected
    "LegPickedUp": ("transporter", "PickUp"),
    "LegDelivered": ("transporter", "Delivery"),
    "TransferReceived": ("receiver", "Receipt"),
    "TransferRejected": ("receiver", "Rejection"),
    "CorrectionProposed": ("proposer", "Correction"),
    "TransferCorrected": ("counterparty", "Correction"),
}
OUTBOX_STATEMENTS = ("PickUp", "Delivery", "Receipt")
# A row as _Query.rows reads it: a named tuple of its table's columns.
Record = Any


class LineageTooLarge(Exception):
    """The lot's lineage has more records than a case file may hold."""


@dataclass(frozen=True)
class Judged:
    """The ids of the records a case is about."""

    lots: frozenset[str]
    transfers: frozenset[str]
    processings: frozenset[str]

    def subjects(self) -> dict[str, frozenset[str]]:
        return {"lot": self.lots, "transfer": self.transfers, "processing": self.processings}


@dataclass(frozen=True)
class Case:
    """A case file and the subjects of its context records, whose findings a report leaves out."""

    file: cf.CaseFile
    context: frozenset[str]
    judged: Judged


def evaluate(case: Case, pack: Pack) -> Report:
    """The pack's verdicts on the case's judged records (each rule summed up over them alone)."""
    report = evaluate_case(case.file, pack)
    if not case.context:
        return report
    rules = []
    for rule in report.rules:
        findings = tuple(f for f in rule.findings if f.subject not in case.context) or (
            Finding(
                rule.rule_id,
                case.file.subject,
                Verdict.NOT_APPLICABLE,
                "no record in this case file is subject to it",
            ),
        )
        rules.append(replace(rule, findings=findings, verdict=worst([f.verdict for f in findings])))
    return replace(report, rules=tuple(rules))


def with_results(case: Case, read: Callable[[str], bytes]) -> Case:
    """The case with each certificate's analysis results, read (`read`: a document's body by hash, checked
    against it) from its results document where the store holds it. A results document that cannot be read
    or is not one leaves the results unknown: the rules needing them say so, and the report's integrity
    section names a body that no longer matches its hash."""
    held = {d.sha256 for d in case.file.documents if d.stored}
    certificates = []
    for c in case.file.certificates:
        certificates.append(replace(c, results=_results(c, held, read)))
    return replace(case, file=replace(case.file, certificates=tuple(certificates)))


def with_documents_checked(case: Case, read: Callable[[str], bytes]) -> tuple[Case, dict[str, str]]:
    """The case with each document the service received re-read against its hash (`read`: its body, checked
    against it), so that the rules keeping records for a period see what a regulator would: a body gone from
    the store is no longer held, one that no longer matches its hash is not intact. Also why each one that
    could not be read failed, for the report's integrity section."""
    documents, unreadable = [], {}
    for d in case.file.documents:
        if d.stored:
            try:
                read(d.sha256)
                d = replace(d, intact=True)
            except DocumentUnreadable as exc:
                unreadable[d.sha256] = str(exc)
                if isinstance(exc, DocumentMissing):
                    d = replace(d, stored=False)
                elif isinstance(exc, IntegrityFailure):
                    d = replace(d, intact=False)
                # Otherwise (a master key this service is not configured with) whether it matches is unknown.
        documents.append(d)
    return replace(case, file=replace(case.file, documents=tuple(documents))), unreadable


def _results(c: cf.Certificate, held: set[str], read: Callable[[str], bytes]) -> Results | None:
    if c.results_hash not in held:
        return None
    try:
        return read_results(read(c.results_hash))
    except (DocumentUnreadable, ResultsUnreadable):
        return None


# --- the four kinds of case ------------------------------------------------------------------------------


def lot_case(session: Session, lot: m.Lot, max_nodes: int, evaluation_date: datetime | None = None) -> Case:
    """A lot's whole lineage: upstream to the generated lots, downstream to the final uses."""
    lineage = traverse(session, lot, depth=max_nodes, max_nodes=max_nodes, whole=False)
    if lineage.truncated:
        raise LineageTooLarge(f"lot {lot.id} has a lineage of more than {max_nodes} lots and processings")
    judged = Judged(
        frozenset(lineage.ids(LOT)), frozenset(lineage.transfer_ids()), frozenset(lineage.ids(PROCESSING))
    )
    return _build(session, judged, f"lot {lot.id} and its lineage", evaluation_date)


def transfer_case(session: Session, transfer: m.Transfer, evaluation_date: datetime | None = None) -> Case:
    """A transfer with the return of what its receiver refused (if any), and the lots they took and
    opened; not their lineage."""
    returns = set(
        session.scalars(select(m.Rejection.return_id).where(m.Rejection.transfer_id == transfer.id))
    )
    transfers = {transfer.id} | (returns - {None})
    opened = set(session.scalars(select(m.Lot.id).where(m.Lot.id.in_(transfers))))
    judged = Judged(frozenset(opened | {transfer.lot_id}), frozenset(transfers), frozenset())
    return _build(session, judged, f"transfer {transfer.id}", evaluation_date)


def transfers_case(
    session: Session, transfer_ids: Iterable[str], evaluation_date: datetime | None = None
) -> Case:
    """Several transfers at once, each judged as transfer_case judges it (the lots they took and opened,
    not their returns): what an export of many transfers reads a page at a time."""
    ids = frozenset(transfer_ids)
    taken = set(session.scalars(select(m.Transfer.lot_id).where(m.Transfer.id.in_(ids))))
    opened = set(session.scalars(select(m.Lot.id).where(m.Lot.id.in_(ids))))
    judged = Judged(frozenset(taken | opened), ids, frozenset())
    return _build(session, judged, f"{len(ids)} transfers", evaluation_date)


def firm_case(
    session: Session,
    participant: m.Participant,
    period: Period,
    label: str,
    evaluation_date: datetime | None = None,
) -> Case:
    """A firm's records in a period: the transfers it shipped, received or carried (by dispatch date), the
    lots it opened and the processings it recorded, and the lots of its own those transfers took from."""
    firm = Party(participant.address, 0, participant.park)  # no role: it sees its own records only
    judged = _judged_in(session, firm, m.Lot.holder == participant.address, period)
    subject = f"firm {participant.legal_name} ({participant.address}) {label}"
    return _build(session, judged, subject, evaluation_date)


def park_case(
    session: Session, park: str, period: Period, label: str, evaluation_date: datetime | None = None
) -> Case:
    """A park's records in a period: those of its participants, as its park operator sees them."""
    operator = Party(ZERO_ADDRESS, Role.PARK_OPERATOR.bit, park)
    members = select(m.Participant.address).where(m.Participant.park == park)
    judged = _judged_in(session, operator, m.Lot.holder.in_(members), period)
    return _build(session, judged, f"park {park} {label}", evaluation_date)


def _judged_in(session: Session, view: Party, holds: ColumnElement[bool], period: Period) -> Judged:
    """What `view` sees of the period's transfers (by dispatch) and processings, the lots `holds` selects
    that the period opened, and those of them the period's transfers and processings took from."""
    transfers = session.execute(
        select(m.Transfer.id, m.Transfer.lot_id).where(
            transfers_visible_to(view), *period.where(m.Transfer.dispatched_at)
        )
    ).all()
    processings = set(
        session.scalars(
            select(m.Processing.id).where(
                processings_visible_to(view), *period.where(m.Processing.recorded_at)
            )
        )
    )
    q = _Query(session)
    taken = {t.lot_id for t in transfers}
    taken |= set(
        q.values(m.LotLineage.lot_id, m.LotLineage.processing_id, processings, m.LotLineage.role == "input")
    )
    lots = set(session.scalars(select(m.Lot.id).where(holds, *period.where(m.Lot.created_at))))
    lots |= set(q.values(m.Lot.id, m.Lot.id, taken, holds))
    return Judged(frozenset(lots), frozenset(t.id for t in transfers), frozenset(processings))


# --- reading the records ---------------------------------------------------------------------------------


def _build(session: Session, judged: Judged, subject: str, evaluation_date: datetime | None) -> Case:
    r = _Rows.read(session, judged)
    events = _Events(r.events)
    outbox = {(p.tx_hash, p.statement, p.signer, p.transfer_id): p.digest for p in r.outbox}
    rejected_by_return = {x.return_id: x for x in r.rejections if x.return_id}
    rejection_of = {x.transfer_id: x for x in r.rejections}
    corrections: dict[str, list[Record]] = defaultdict(list)
    for c in r.corrections:
        corrections[c.transfer_id].append(c)
    judged_certificates = {c.id for c in r.certificates if c.lot_id in judged.lots} | {
        c for t in r.transfers if t.id in judged.transfers for c in t.certificates
    }
    context = (
        {f"lot {x.id}" for x in r.lots if x.id not in judged.lots}
        | {f"transfer {t.id}" for t in r.transfers if t.id not in judged.transfers}
        | {f"processing {p.id}" for p in r.processings if p.id not in judged.processings}
        | {f"certificate {c.id}" for c in r.certificates if c.id not in judged_certificates}
    )
    file = cf.CaseFile(
        evaluation_date=evaluation_date or datetime.now(UTC),
        subject=subject,
        parties=tuple(_party(p, events) for p in r.participants),
        codes=tuple(_code(c, events) for c in r.codes),
        permits=tuple(_permit(p, events) for p in r.permits),
        lots=tuple(_lot(x, events) for x in r.lots),
        certificates=tuple(_certificate(c, events) for c in r.certificates),
        transfers=tuple(
            _transfer(
                t, events, outbox, rejection_of.get(t.id), rejected_by_return.get(t.id), corrections[t.id]
            )
            for t in r.transfers
        ),
        processings=tuple(_processing(p, events) for p in r.processings),
        corrections=tuple(_correction(c, events) for c in r.corrections),
        uses=tuple(_use(u, events) for u in r.uses),
        documents=tuple(
            cf.Document(sha256, stored.media_type if stored else None, stored is not None)
            for sha256, stored in r.documents.items()
        ),
    )
    return Case(file, frozenset(context), judged)


@dataclass
class _Rows:
    """Every row a case needs, each kind read in bulk: each a table's row, its columns as attributes."""

    transfers: list[Record]
    rejections: list[Record]
    corrections: list[Record]
    uses: list[Record]
    processings: list[Record]
    lots: list[Record]
    certificates: list[Record]
    participants: list[Record]
    codes: list[Record]
    permits: list[Record]
    events: list[Record]
    outbox: list[Record]
    documents: dict[str, Record | None]

    @classmethod
    def read(cls, session: Session, judged: Judged) -> "_Rows":
        q = _Query(session)
        # Every transfer that took from a judged lot (in a lineage, every judged one), and the other judged.
        transfers = q.rows(m.Transfer, m.Transfer.lot_id, judged.lots)
        transfers += q.rows(m.Transfer, m.Transfer.id, judged.transfers - {t.id for t in transfers})
        transfer_ids = [t.id for t in transfers]
        # The processings that took from a judged lot or opened one: a produced lot's claim (by-product,
        # end-of-waste) and the consignments it makes are judged on the processing that made it.
        taken_or_made_by = q.values(m.LotLineage.processing_id, m.LotLineage.lot_id, judged.lots)
        processings = q.rows(m.Processing, m.Processing.id, judged.processings | set(taken_or_made_by))
        lot_ids = set(judged.lots) | {t.lot_id for t in transfers} | set(transfer_ids)
        lot_ids |= {i["lot_id"] for p in processings for i in p.inputs + p.outputs}
        lots = q.rows(m.Lot, m.Lot.id, lot_ids)
        # The other transfers that took from these lots, as context (their own lots stay out): every lot's
        # balance is judged on all that was shipped from it, and a verifier with a node can tell that a
        # bundle left none out.
        known = set(transfer_ids)
        transfers += [
            t for t in q.rows(m.Transfer, m.Transfer.lot_id, lot_ids - judged.lots) if t.id not in known
        ]
        transfer_ids = [t.id for t in transfers]
        # Final uses close a lot's chain: its balance is judged on them too.
        uses = q.rows(m.LotUse, m.LotUse.lot_id, [x.id for x in lots])
        cited = {c for t in transfers for c in t.certificates}
        certificates = q.rows(m.Certificate, m.Certificate.lot_id, [x.id for x in lots])
        certificates += q.rows(m.Certificate, m.Certificate.id, cited - {c.id for c in certificates})
        # Rejections of the case's transfers, and those that sent its returns.
        rejections = q.rows(m.Rejection, m.Rejection.transfer_id, transfer_ids)
        rejected = {x.transfer_id for x in rejections}
        rejections += [
            x
            for x in q.rows(m.Rejection, m.Rejection.return_id, transfer_ids)
            if x.transfer_id not in rejected
        ]
        corrections = q.rows(m.Correction, m.Correction.transfer_id, transfer_ids)
        addresses = (
            {x.holder for x in lots}
            | {a for t in transfers for a in (t.shipper, t.receiver, *t.transporters)}
            | {c.lab for c in certificates}
            | {p.processor for p in processings}
            | {a for c in corrections for a in (c.proposer, c.counterparty)}
        )
        named_permits = (
            {t.permit_id for t in transfers}
            | {x for t in transfers for x in t.licences}
            | {c.accreditation_id for c in certificates}
        ) - {ZERO_HASH}
        permits = q.rows(m.Permit, m.Permit.holder, addresses)
        permits += q.rows(m.Permit, m.Permit.permit_id, named_permits - {p.permit_id for p in permits})
        code_keys = {x.code_key for x in lots} | {t.code_key for t in transfers}
        code_keys |= {i["code_key"] for p in processings for i in p.inputs + p.outputs}
        subjects = (
            set(transfer_ids)
            | {x.id for x in lots}
            | {p.id for p in processings}
            | {c.id for c in certificates}
            | {c.id for c in corrections}
            | {p.permit_id for p in permits}
            | addresses
            | code_keys
        )
        events = sorted(
            q.rows(m.ChainEvent, m.ChainEvent.subject, subjects, columns=_EVENT_COLUMNS),
            key=lambda e: (e.block_number, e.log_index),
        )
        relayed = {e.tx_hash for e in events if SIGNED_EVENTS.get(e.event, ("", ""))[1] in OUTBOX_STATEMENTS}
        outbox = q.rows(
            m.SignedPayload,
            m.SignedPayload.tx_hash,
            relayed,
            m.SignedPayload.statement.in_(OUTBOX_STATEMENTS),
            columns=_OUTBOX_COLUMNS,
        )
        hashes = (
            {t.document_hash for t in transfers}
            | {x.document_hash for x in lots if x.document_hash}
            | {h for c in certificates for h in (c.document_hash, c.results_hash)}
            | {p.document_hash for p in processings}
            | {u.document_hash for u in uses}
        ) - {ZERO_HASH}
        stored = {d.sha256: d for d in q.rows(m.Document, m.Document.sha256, hashes)}
        return cls(
            transfers,
            rejections,
            corrections,
            uses,
            processings,
            lots,
            certificates,
            q.rows(m.Participant, m.Participant.address, addresses),
            q.rows(m.WasteCode, m.WasteCode.code_key, code_keys),
            permits,
            events,
            outbox,
            {h: stored.get(h) for h in sorted(hashes)},
        )


@dataclass(frozen=True)
class _Query:
    session: Session

    def __post_init__(self) -> None:
        # Its queries run on the session's connection, past the ORM (see `rows`): flush first, as the ORM
        # does before a query, so that they see what the session holds.
        if self.session.autoflush:
            self.session.flush()

    def rows(
        self,
        model: type,
        key: InstrumentedAttribute[Any],
        ids: Iterable[str],
        *where: ColumnElement[bool],
        columns: Sequence[Any] = (),
    ) -> list[Record]:
        """The rows of `model`'s table whose `key` is one of `ids` (and that meet `where`), as named tuples
        of its columns (or of `columns`, by their names). Read only, they need none of the ORM's
        bookkeeping, which would cost more than the query; and a named tuple's fields read several times
        faster than a Row's attributes, which building a large case does some hundred thousand times."""
        table = model.__table__  # type: ignore[attr-defined]
        selected = tuple(columns) or tuple(table.columns)
        record = _record(table.name, tuple(c.key for c in selected))
        return [
            record._make(row)
            for row in self._chunks(
                lambda among: select(*selected).where(among, *where), key, ids, Result.all
            )
        ]

    def values(
        self,
        column: InstrumentedAttribute[Any],
        key: InstrumentedAttribute[Any],
        ids: Iterable[str],
        *where: ColumnElement[bool],
    ) -> list[Any]:
        return list(
            self._chunks(
                lambda among: select(column).where(among, *where), key, ids, lambda r: r.scalars().all()
            )
        )

    def _chunks(
        self,
        query: Callable[[ColumnElement[bool]], Select[Any]],
        key: InstrumentedAttribute[Any],
        ids: Iterable[str],
        fetch: Callable[[Result[Any]], Sequence[Any]],
    ) -> Iterator[Any]:
        """What `query` reads where `key` is one of `ids`, a chunk of ids at a time."""
        ordered = sorted(set(ids))
        connection = self.session.connection()
        dialect = connection.dialect.name
        for start in range(0, len(ordered), CHUNK):
            chunk = ordered[start : start + CHUNK]
            yield from fetch(connection.execute(query(_among(key, chunk, dialect))))


def _among(key: InstrumentedAttribute[Any], ids: list[str], dialect: str) -> ColumnElement[bool]:
    """`key IN ids`, the ids sent as one parameter. SQLAlchemy renders an IN list at about a microsecond an
    id, and psycopg parses the query's thousands of placeholders again: a tenth of a second for a case of
    10,000 transfers on SQLite, a second and a half on PostgreSQL. SQLite reads them as a JSON array
    (json_each); PostgreSQL as an array, as it reads an IN list itself (= ANY)."""
    if dialect == "sqlite":
        return key.in_(select(literal_column("value")).select_from(func.json_each(json.dumps(ids))))
    if dialect == "postgresql":
        return key == any_(bindparam(None, ids, type_=ARRAY(String)))
    return key.in_(ids)


@functools.cache
def _record(table: str, fields: tuple[str, ...]) -> Any:
    """A named tuple type of a row of `table`."""
    return namedtuple(f"{table}_row", fields)


# What a case reads of an event: which it is, about what, and where it is recorded. Its arguments are read
# as their JSON text, parsed (_args) only for the few kinds of event whose arguments a case needs: a large
# case has tens of thousands of events.
_EVENT_COLUMNS = (
    m.ChainEvent.subject,
    m.ChainEvent.event,
    m.ChainEvent.tx_hash,
    m.ChainEvent.block_number,
    m.ChainEvent.log_index,
    m.ChainEvent.block_time,
    cast(m.ChainEvent.args, Text).label("args"),
)
# Of a relayed statement, what finds its digest: the transfer is read from the message in the query.
_OUTBOX_COLUMNS = (
    m.SignedPayload.tx_hash,
    m.SignedPayload.statement,
    m.SignedPayload.signer,
    m.SignedPayload.digest,
    m.SignedPayload.message["transferId"].as_string().label("transfer_id"),
)


def _args(event: Record) -> dict[str, Any]:
    args: dict[str, Any] = json.loads(event.args)
    return args


class _Events:
    """The indexed chain events of the case's records, by the record they concern."""

    def __init__(self, events: list[Record]) -> None:
        self.of: dict[str, list[Record]] = defaultdict(list)
        # The first event of each name about each record, with its place in the chain's order: a large
        # case asks for tens of thousands of them.
        self._first: dict[tuple[str, str], tuple[int, Record]] = {}
        for place, event in enumerate(events):
            self.of[event.subject].append(event)
            self._first.setdefault((event.subject, event.event), (place, event))

    def first(self, subject: str, *names: str) -> Record | None:
        """The first event about `subject` named one of `names`."""
        first = None
        for name in names:
            found = self._first.get((subject, name))
            if found is not None and (first is None or found < first):
                first = found
        return None if first is None else first[1]


def _evidence(event: Record | None, signer: str | None, document: str | None = None) -> cf.Evidence:
    document = None if document in (None, ZERO_HASH) else document
    if event is None:  # not indexed: the read model derives every record from an event, so never here
        return cf.Evidence(signer=signer, document_hash=document)
    return cf.Evidence(event.tx_hash, event.block_number, event.log_index, signer, document)


def _revocation(event: Record | None) -> cf.Evidence | None:
    # Who signed a revocation (the regulator, the lab) is in its statement; the bundle reads it from there.
    return None if event is None else _evidence(event, None)


def _utc(moment: datetime) -> datetime:
    # SQLite hands stored times back without their UTC offset.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _at(event: Record | None) -> datetime | None:
    return None if event is None else _utc(event.block_time)


def _signer(address: str | None) -> str | None:
    return None if address in (None, ZERO_ADDRESS) else address


# --- the records as the engine reads them ----------------------------------------------------------------


def _party(p: Record, events: _Events) -> cf.Party:
    return cf.Party(
        address=p.address,
        legal_name=p.legal_name,
        park=p.park,
        roles=frozenset(name for i, name in enumerate(cf.ROLES) if p.roles >> i & 1),
        status=p.status,
        evidence=_evidence(events.first(p.address, "ParticipantRegistered"), _signer(p.registered_by)),
    )


def _code(c: Record, events: _Events) -> cf.WasteCode:
    return cf.WasteCode(
        key=c.code_key,
        scheme=c.scheme,
        code=c.code,
        description=c.description,
        hazardous=c.hazardous,
        unit=c.unit,
        evidence=_evidence(events.first(c.code_key, "WasteCodeRegistered"), c.registered_by),
    )


def _permit(p: Record, events: _Events) -> cf.Permit:
    return cf.Permit(
        id=p.permit_id,
        number=p.permit_number,
        holder=p.holder,
        kind=cf.PERMIT_KINDS[list(PermitKind).index(PermitKind(p.kind))],
        coverage=tuple(cf.Coverage(c["code_key"], frozenset(c["operations"])) for c in p.coverage),
        yearly_capacity=p.yearly_capacity,
        valid_from=_utc(p.valid_from),
        valid_until=_utc(p.valid_until),
        revoked_at=_at(events.first(p.permit_id, "PermitRevoked")),
        evidence=_evidence(events.first(p.permit_id, "PermitRegistered"), p.registered_by),
        revocation=_revocation(events.first(p.permit_id, "PermitRevoked")),
    )


def _lot(x: Record, events: _Events) -> cf.Lot:
    return cf.Lot(
        id=x.id,
        holder=x.holder,
        code_key=x.code_key,
        origin=x.origin,
        quantity=x.quantity,
        balance=x.balance,
        created_at=_utc(x.created_at),
        generator=x.holder if x.origin == "generated" else None,
        source_transfer=x.source_transfer,
        document_hash=x.document_hash,
        # The holder signed what opened it: the generator its lot, the processor its outputs, the receiver
        # its receipt.
        evidence=_evidence(events.first(x.id, *LOT_OPENED[x.origin]), x.holder, x.document_hash),
    )


def _certificate(c: Record, events: _Events) -> cf.Certificate:
    return cf.Certificate(
        id=c.id,
        lot_id=c.lot_id,
        lab=c.lab,
        accreditation_id=c.accreditation_id,
        document_hash=c.document_hash,
        results_hash=c.results_hash,
        issued_at=_utc(c.issued_at),
        valid_until=_utc(c.valid_until),
        revoked_at=_at(events.first(c.id, "CertificateRevoked")),
        evidence=_evidence(events.first(c.id, "CertificateIssued"), c.lab, c.document_hash),
        revocation=_revocation(events.first(c.id, "CertificateRevoked")),
    )


def _transfer(
    t: Record,
    events: _Events,
    outbox: dict[tuple[str, str, str, str], str],
    rejection: Record | None,
    returned_by: Record | None,
    corrections: list[Record],
) -> cf.Transfer:
    opened = "TransferReturned" if returned_by else "TransferDispatched"
    return cf.Transfer(
        id=t.id,
        lot_id=t.lot_id,
        shipper=t.shipper,
        receiver=t.receiver,
        code_key=t.code_key,
        operation=t.operation,
        permit_id=None if t.permit_id == ZERO_HASH else t.permit_id,
        quantity=t.quantity,
        dispatched_at=_utc(t.dispatched_at),
        status=t.status,
        transporters=tuple(t.transporters),
        licences=tuple(t.licences),
        certificates=tuple(t.certificates),
        document_hash=t.document_hash,
        received_quantity=t.received_quantity,
        received_at=t.received_at and _utc(t.received_at),
        rejected_quantity=rejection.rejected_quantity if rejection else 0,
        return_of=returned_by.transfer_id if returned_by else None,
        signatures=tuple(_signatures(t, events, outbox, rejection, corrections)),
        evidence=_evidence(events.first(t.id, opened), t.shipper, t.document_hash),
    )


def _signatures(
    t: Record,
    events: _Events,
    outbox: dict[tuple[str, str, str, str], str],
    rejection: Record | None,
    corrections: list[Record],
) -> Iterator[cf.Signature]:
    signed = [e for e in events.of.get(t.id, ()) if e.event in SIGNED_EVENTS]
    signed += [e for c in corrections for e in events.of.get(c.id, ()) if e.event in SIGNED_EVENTS]
    for event in signed:
        role, statement = SIGNED_EVENTS[event.event]
        party = _signing_party(t, event, role)
        if statement == "Dispatch" or event.event == "TransferReturned":
            digest = t.id  # a transfer's id is the digest of the statement that opened it
        elif statement == "Rejection":
            # A return's id is the digest of the rejection that sent it.
            digest = (rejection.return_id or "") if rejection else ""
        elif statement == "Correction":
            digest = event.subject  # a correction's id is its digest, which both parties sign
        else:
            digest = outbox.get((event.tx_hash, statement, party, t.id), "")
        # The statement that opened the transfer signs its document too.
        document = t.document_hash if digest == t.id else None
        yield cf.Signature(
            party, role, statement, digest, _utc(event.block_time), _evidence(event, party, document)
        )


def _signing_party(t: Record, event: Record, role: str) -> str:
    if role == "shipper":
        return t.shipper
    if role == "receiver":
        return t.receiver
    # A transporter, proposer or counterparty is named in its event's arguments, under its role.
    party: str = _args(event).get(role, "")
    return party


def _processing(p: Record, events: _Events) -> cf.Processing:
    return cf.Processing(
        id=p.id,
        processor=p.processor,
        recorded_at=_utc(p.recorded_at),
        inputs=tuple(cf.ProcessingInput(i["lot_id"], int(i["quantity"]), i["code_key"]) for i in p.inputs),
        outputs=tuple(
            cf.ProcessingOutput(o["lot_id"], o["kind"], int(o["quantity"]), o["code_key"]) for o in p.outputs
        ),
        external_grams=sum(int(e["grams"]) for e in p.external_inputs),
        input_grams=int(p.input_grams),
        output_grams=int(p.output_grams),
        loss_grams=int(p.loss_grams),
        evidence=_evidence(events.first(p.id, "ProcessingRecorded"), p.processor, p.document_hash),
    )


@dataclass(frozen=True)
class Hidden:
    """What a caller may not see of a case: the subjects of others' records, and where those records are
    recorded (transaction, log index), so that a finding resting on one tells its verdict only."""

    subjects: frozenset[str]
    evidence: frozenset[tuple[str, int]]

    def hides(self, subject: str, evidence: Iterable[cf.Evidence]) -> bool:
        return subject in self.subjects or any((e.tx_hash, e.log_index) in self.evidence for e in evidence)


def hidden_from(session: Session, party: Party, case: Case) -> Hidden:
    """What of the case's records, judged or context, `party` may not see (ledger_service.access)."""
    rules = {
        "lot": (m.Lot.id, lots_visible_to(party), case.file.lots),
        "transfer": (m.Transfer.id, transfers_visible_to(party), case.file.transfers),
        "processing": (m.Processing.id, processings_visible_to(party), case.file.processings),
    }
    q, subjects, evidence = _Query(session), set(), set()
    for kind, (key, rule, records) in rules.items():
        seen = set(q.values(key, key, {r.id for r in records}, rule))
        for record in records:
            if record.id not in seen:
                subjects.add(f"{kind} {record.id}")
                marks = [record.evidence, *(s.evidence for s in getattr(record, "signatures", ()))]
                evidence |= {(e.tx_hash, e.log_index) for e in marks if e.tx_hash}
    evidence |= {
        (u.evidence.tx_hash, u.evidence.log_index)
        for u in case.file.uses
        if f"lot {u.lot_id}" in subjects and u.evidence.tx_hash
    }
    return Hidden(frozenset(subjects), frozenset(evidence))  # type: ignore[arg-type]


def _correction(c: Record, events: _Events) -> cf.Correction:
    applied = events.first(c.id, "TransferCorrected")
    proposed = events.first(c.id, "CorrectionProposed")
    return cf.Correction(
        id=c.id,
        transfer_id=c.transfer_id,
        shipped_delta=c.shipped_delta,
        received_delta=c.received_delta,
        reason=c.reason,
        proposed_at=_utc(c.proposed_at),
        countersigned_at=c.countersigned_at and _utc(c.countersigned_at),
        evidence=_evidence(applied, c.counterparty) if applied else _evidence(proposed, c.proposer),
    )


def _use(u: Record, events: _Events) -> cf.Use:
    declared = next(
        (e for e in events.of.get(u.lot_id, ()) if e.event == "LotUsed" and _args(e).get("useId") == u.id),
        None,
    )
    return cf.Use(
        id=u.id,
        lot_id=u.lot_id,
        holder=u.holder,
        quantity=int(u.quantity),
        use=u.use,
        used_at=_utc(u.declared_at),
        document_hash=u.document_hash,
        evidence=_evidence(declared, u.holder, u.document_hash),
    )
