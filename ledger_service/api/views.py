"""Read-model rows as API bodies, with the chain evidence each one rests on."""

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.quantities import discrepancy
from ledger_service.api.schemas import (
    CertificateOut,
    CoverageOut,
    Evidence,
    LotOut,
    ParticipantOut,
    PermitOut,
    TransferOut,
    Waste,
    WasteCodeOut,
)
from ledger_service.db.models import Certificate, ChainEvent, Lot, Participant, Permit, Transfer, WasteCode
from ledger_service.roles import role_names

# Which argument of each event names the party whose signature the contract verified.
SIGNER_ARG = {
    "ParticipantRegistered": "regulator",
    "ParticipantSuspended": "regulator",
    "ParticipantReinstated": "regulator",
    "WasteCodeRegistered": "regulator",
    "PermitRegistered": "regulator",
    "PermitRevoked": "regulator",
    "LotGenerated": "generator",
    "CertificateIssued": "lab",
    "CertificateRevoked": "lab",
    "TransferDispatched": "shipper",
    "TransferReceived": "receiver",
    "LegPickedUp": "transporter",
    "LegDelivered": "transporter",
}
ZERO_ADDRESS = "0x" + "0" * 40


def evidence(session: Session, subject: str) -> list[Evidence]:
    return evidence_of(session, [subject])[subject]


def evidence_of(session: Session, subjects: Collection[str]) -> dict[str, list[Evidence]]:
    """The evidence of each of `subjects`, read with one query (as rows: a page of 50 transfers has a
    hundred events or more, and loading each as an ORM object took longer than the rest of the page)."""
    events = session.execute(
        select(
            ChainEvent.subject,
            ChainEvent.event,
            ChainEvent.args,
            ChainEvent.tx_hash,
            ChainEvent.block_number,
            ChainEvent.block_hash,
            ChainEvent.log_index,
            ChainEvent.contract,
            ChainEvent.block_time,
        )
        .where(ChainEvent.subject.in_(subjects))
        .order_by(ChainEvent.block_number, ChainEvent.log_index)
    )
    out: dict[str, list[Evidence]] = {subject: [] for subject in subjects}
    for e in events:
        signer = e.args.get(SIGNER_ARG.get(e.event, ""))
        out[e.subject].append(
            Evidence(
                signer=None if signer in (None, ZERO_ADDRESS) else signer,
                nonce=e.args.get("nonce"),
                tx_hash=e.tx_hash,
                block_number=e.block_number,
                block_hash=e.block_hash,
                log_index=e.log_index,
                contract=e.contract,
                event=e.event,
                recorded_at=e.block_time,
            )
        )
    return out


def participant_out(session: Session, p: Participant) -> ParticipantOut:
    return ParticipantOut(
        address=p.address,
        roles=role_names(p.roles),
        legal_name=p.legal_name,
        enterprise_id=p.enterprise_id,
        park=p.park,
        status=p.status,
        status_reason=p.status_reason,
        registered_by=p.registered_by,
        evidence=evidence(session, p.address),
    )


def waste(session: Session, code_key: str) -> Waste:
    return _waste(session.get(WasteCode, code_key), code_key)


def _waste(code: WasteCode | None, code_key: str) -> Waste:
    if code is None:  # the contracts refuse lots of unregistered codes; the read model mirrors them
        raise RuntimeError(f"waste code {code_key} is missing from the read model")
    return Waste(scheme=code.scheme, code=code.code, unit=code.unit, hazardous=code.hazardous)


def waste_code_out(session: Session, c: WasteCode) -> WasteCodeOut:
    return WasteCodeOut(
        code_key=c.code_key,
        catalogue_id=c.catalogue_id,
        scheme=c.scheme,
        code=c.code,
        unit=c.unit,
        hazardous=c.hazardous,
        description=c.description,
        evidence=evidence(session, c.code_key),
    )


def permit_out(session: Session, p: Permit) -> PermitOut:
    coverage = []
    for item in p.coverage:
        code = waste(session, item["code_key"])
        coverage.append(
            CoverageOut(
                code_key=item["code_key"], scheme=code.scheme, code=code.code, operations=item["operations"]
            )
        )
    return PermitOut(
        permit_id=p.permit_id,
        permit_number=p.permit_number,
        holder=p.holder,
        kind=p.kind,
        coverage=coverage,
        yearly_capacity=p.yearly_capacity,
        valid_from=p.valid_from,
        valid_until=p.valid_until,
        revoked=p.revoked,
        revoked_reason=p.revoked_reason,
        evidence=evidence(session, p.permit_id),
    )


def lot_out(session: Session, lot: Lot) -> LotOut:
    return LotOut(
        id=lot.id,
        holder=lot.holder,
        waste=waste(session, lot.code_key),
        origin=lot.origin,
        quantity=lot.quantity,
        balance=lot.balance,
        source_transfer=lot.source_transfer,
        document_hash=lot.document_hash,
        created_at=lot.created_at,
        certificates=list(
            session.scalars(
                select(Certificate.id).where(Certificate.lot_id == lot.id).order_by(Certificate.issued_at)
            )
        ),
        evidence=evidence(session, lot.id),
        **lot_lineage(session, lot),  # processing and metered flows
    )


def certificate_out(session: Session, c: Certificate) -> CertificateOut:
    return CertificateOut(
        id=c.id,
        lot_id=c.lot_id,
        lab=c.lab,
        accreditation_id=c.accreditation_id,
        document_hash=c.document_hash,
        results_hash=c.results_hash,
        valid_until=c.valid_until,
        revoked=c.revoked,
        revoked_reason=c.revoked_reason,
        evidence=evidence(session, c.id),
    )


def transfer_out(session: Session, t: Transfer) -> TransferOut:
    return transfers_out(session, [t])[0]


def transfers_out(session: Session, transfers: Sequence[Transfer]) -> list[TransferOut]:
    """Each transfer with its evidence, rejection and returns: one query for each of those for all the
    transfers (a page of them, a batch's), not one each per transfer."""
    ids = [t.id for t in transfers]
    evidence = evidence_of(session, ids)
    codes = {t.code_key for t in transfers}
    wastes = {c.code_key: c for c in session.scalars(select(WasteCode).where(WasteCode.code_key.in_(codes)))}
    rejections = {
        r.transfer_id: r for r in session.scalars(select(Rejection).where(Rejection.transfer_id.in_(ids)))
    }
    returns_of = dict(
        session.execute(
            select(Rejection.return_id, Rejection.transfer_id).where(Rejection.return_id.in_(ids))
        ).all()
    )
    out = []
    for t in transfers:
        gap = discrepancy(t.quantity, t.received_quantity)
        transfer = TransferOut(
            id=t.id,
            status=t.status,
            lot_id=t.lot_id,
            waste=_waste(wastes.get(t.code_key), t.code_key),
            quantity=t.quantity,
            operation=t.operation,
            permit_id=t.permit_id,
            certificates=t.certificates,
            transporters=t.transporters,
            licences=t.licences,
            legs_picked_up=t.legs_picked_up,
            legs_delivered=t.legs_delivered,
            received_quantity=t.received_quantity,
            discrepancy=None if gap is None else gap.delta,
            shipper=t.shipper,
            receiver=t.receiver,
            document_hash=t.document_hash,
            dispatched_at=t.dispatched_at,
            received_at=t.received_at,
            evidence=evidence[t.id],
        )
        out.append(with_rejection(t, transfer, rejections.get(t.id), returns_of.get(t.id)))  # svc-workflows
    return out


# --- rejections, returns and corrections (svc-workflows) ----------------------------------------------

from ledger_service.api.schemas import CorrectionOut, RejectionOut  # noqa: E402
from ledger_service.db.models import Correction, Rejection  # noqa: E402

SIGNER_ARG.update(
    {"TransferRejected": "receiver", "CorrectionProposed": "proposer", "TransferCorrected": "counterparty"}
)
ZERO_BYTES32 = "0x" + "00" * 32


def with_rejection(
    t: Transfer, out: TransferOut, rejection: Rejection | None, return_of: str | None
) -> TransferOut:
    """`out` with the transfer's rejection, the returns of its refused part, and what it returns itself
    (`return_of`: the transfer whose rejection this one returns)."""
    if rejection is not None:
        # The receiver accounted for accepted + rejected; received_quantity is the accepted part, corrected.
        gap = discrepancy(t.quantity, (t.received_quantity or 0) + rejection.rejected_quantity)
        out.discrepancy = None if gap is None else gap.delta
        out.rejection = RejectionOut(
            receiver=rejection.receiver,
            accepted_quantity=rejection.accepted_quantity,
            rejected_quantity=rejection.rejected_quantity,
            reason=rejection.reason,
            discrepancy=(
                rejection.accepted_quantity + rejection.rejected_quantity - rejection.shipped_quantity
            ),
            return_id=rejection.return_id,
            return_to=rejection.return_to,
            return_permit_id=rejection.return_permit_id,
            return_operation=rejection.return_operation,
            tx_hash=rejection.rejection_tx,
            block_number=rejection.rejection_block,
            rejected_at=rejection.rejected_at,
        )
        out.returns = [rejection.return_id] if rejection.return_id else []
    out.return_of = return_of
    return out


def correction_out(session: Session, c: Correction) -> CorrectionOut:
    return CorrectionOut(
        id=c.id,
        transfer_id=c.transfer_id,
        status=c.status,
        proposer=c.proposer,
        counterparty=c.counterparty,
        shipped_delta=c.shipped_delta,
        received_delta=c.received_delta,
        document_hash=None if c.document_hash == ZERO_BYTES32 else c.document_hash,
        reason=c.reason,
        proposed_tx=c.proposed_tx,
        proposed_block=c.proposed_block,
        proposed_at=c.proposed_at,
        countersigned_tx=c.countersigned_tx,
        countersigned_block=c.countersigned_block,
        countersigned_at=c.countersigned_at,
        evidence=evidence(session, c.id),
    )


# --- processing and metered flows --------------------------------------------------------------------

from datetime import UTC, datetime  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

from ledger_service.api.schemas import (  # noqa: E402
    ExternalInputOut,
    FlowOut,
    LotUseOut,
    PeriodOut,
    ProcessingInputOut,
    ProcessingOut,
    ProcessingOutputOut,
)
from ledger_service.db.models import LotLineage, LotUse, MeteredFlow, MeteredPeriod, Processing  # noqa: E402

SIGNER_ARG.update(
    {
        "ProcessingRecorded": "processor",
        "OutputLotOpened": "holder",
        "LotUsed": "holder",
        # Both parties signed the registration; the supplier is named as the first of them.
        "FlowRegistered": "supplier",
    }
)


def lot_lineage(session: Session, lot: Lot) -> dict[str, Any]:
    """What processing made of a lot and what it made: its kind, producer, processings and uses."""
    links = session.scalars(
        select(LotLineage).where(LotLineage.lot_id == lot.id).order_by(LotLineage.id)
    ).all()
    produced = next((link for link in links if link.role == "output"), None)
    inputs = [link for link in links if link.role == "input"]
    uses = session.scalars(select(LotUse).where(LotUse.lot_id == lot.id).order_by(LotUse.declared_at)).all()
    return {
        "kind": produced.kind if produced else None,
        "produced_by": produced.processing_id if produced else None,
        "processed_in": list(dict.fromkeys(link.processing_id for link in inputs)),
        "processed_quantity": sum(int(link.quantity) for link in inputs),
        "used_quantity": sum(int(use.quantity) for use in uses),
        "uses": [
            LotUseOut(
                id=u.id,
                quantity=int(u.quantity),
                use=u.use,
                document_hash=u.document_hash,
                declared_at=u.declared_at,
            )
            for u in uses
        ],
    }


def processing_out(session: Session, p: Processing) -> ProcessingOut:
    def grams(item: dict[str, Any]) -> int:
        return int(item["quantity"]) * int(item["grams_per_unit"])

    return ProcessingOut(
        id=p.id,
        processor=p.processor,
        inputs=[
            ProcessingInputOut(
                lot_id=i["lot_id"],
                waste=waste(session, i["code_key"]),
                quantity=i["quantity"],
                grams_per_unit=i["grams_per_unit"],
                grams=grams(i),
            )
            for i in p.inputs
        ],
        external_inputs=[ExternalInputOut(**e) for e in p.external_inputs],
        outputs=[
            ProcessingOutputOut(
                lot_id=o["lot_id"],
                kind=o["kind"],
                waste=waste(session, o["code_key"]),
                quantity=o["quantity"],
                grams_per_unit=o["grams_per_unit"],
                grams=grams(o),
            )
            for o in p.outputs
        ],
        input_grams=int(p.input_grams),
        output_grams=int(p.output_grams),
        loss_grams=int(p.loss_grams),
        loss_description=p.loss_description,
        document_hash=p.document_hash,
        recorded_at=p.recorded_at,
        evidence=evidence(session, p.id),
    )


def period_bounds(flow: MeteredFlow, period: int) -> tuple[datetime, datetime]:
    """Period `period` of a flow covers [start, end): its grid runs from the first period's start."""
    start = flow.first_period_start + period * flow.period_seconds
    return datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(start + flow.period_seconds, UTC)


def flow_out(session: Session, flow: MeteredFlow, first: int = 0, last: int | None = None) -> FlowOut:
    """A flow with its anchored periods `first`..`last` (inclusive; default: all)."""
    query = select(MeteredPeriod).where(MeteredPeriod.flow_id == flow.id, MeteredPeriod.period >= first)
    if last is not None:
        query = query.where(MeteredPeriod.period <= last)
    periods = []
    for row in session.scalars(query.order_by(MeteredPeriod.period)):
        start, end = period_bounds(flow, row.period)
        periods.append(
            PeriodOut(
                period=row.period,
                start=start,
                end=end,
                quantity=int(row.quantity),
                reading_hash=row.reading_hash,
                anchored_tx=row.anchored_tx,
            )
        )
    return FlowOut(
        id=flow.id,
        supplier=flow.supplier,
        offtaker=flow.offtaker,
        medium=flow.medium,
        unit=flow.unit,
        meter_id=flow.meter_id,
        period_seconds=flow.period_seconds,
        first_period_start=datetime.fromtimestamp(flow.first_period_start, UTC),
        next_period=flow.next_period,
        periods=periods,
        evidence=evidence(session, flow.id),
    )


# --- end processing and metered flows ----------------------------------------------------------------


# --- verification (ledger_service.casefiles) --------------------------------------------------------

from compliance.casefile import Evidence as CaseEvidence  # noqa: E402
from compliance.verdicts import Report  # noqa: E402
from ledger_service.api.schemas import (  # noqa: E402
    EvidenceOut,
    FindingOut,
    IntegrityOut,
    PackOut,
    RuleOut,
    VerificationReport,
)
from ledger_service.integrity import Integrity  # noqa: E402

if TYPE_CHECKING:  # casefiles reads the lineage, which reads these views
    from ledger_service.casefiles import Hidden

HIDDEN_REASON = "a record of others that you may not see: only its verdict is told"
RESTS_ON_HIDDEN = "this finding rests on records of others that you may not see: only its verdict is told"


def verification_out(
    report: Report, hidden: "Hidden", checks: list[Integrity], differences: bool
) -> VerificationReport:
    """The report as the caller may read it: findings about the records `hidden` names, or resting on them
    (another firm's shipment of the same lot), tell their verdict only (the lineage graph shows those
    records' place in the same way); the integrity checks' differences only when `differences`."""
    return VerificationReport(
        integrity=[
            IntegrityOut(
                check=c.check,
                status=c.status,
                summary=c.summary,
                problems=list(c.problems) if differences else [],
            )
            for c in checks
        ],
        pack=PackOut(
            id=report.pack_id,
            version=report.pack_version,
            hash=report.pack_hash,
            overrides=dict(report.overrides),
        ),
        evaluation_date=datetime.fromisoformat(report.evaluation_date),
        subject=report.subject,
        verdict=report.verdict.value,
        counts=report.counts(),
        rules=[
            RuleOut(
                id=rule.rule_id,
                title=rule.title,
                jurisdiction=rule.jurisdiction,
                citation=rule.citation,
                severity=rule.severity,
                verdict=rule.verdict.value,
                unconfirmed=list(rule.unconfirmed),
                findings=[
                    FindingOut(
                        subject=f.subject,
                        verdict=f.verdict.value,
                        reason=HIDDEN_REASON if f.subject in hidden.subjects else RESTS_ON_HIDDEN,
                        evidence=[],
                        parameters=list(f.parameters),
                        redacted=True,
                    )
                    if hidden.hides(f.subject, f.evidence)
                    else FindingOut(
                        subject=f.subject,
                        verdict=f.verdict.value,
                        reason=f.reason,
                        evidence=[_evidence_out(e) for e in f.evidence],
                        parameters=list(f.parameters),
                    )
                    for f in rule.findings
                ],
            )
            for rule in report.rules
        ],
    )


def _evidence_out(e: CaseEvidence) -> EvidenceOut:
    return EvidenceOut(
        tx_hash=e.tx_hash,
        block_number=e.block,
        log_index=e.log_index,
        signer=e.signer,
        document_hash=e.document_hash,
    )


# --- regulator actions -------------------------------------------------------------------------------

from ledger_service.api.schemas import CorrectionRequestOut  # noqa: E402
from ledger_service.db.models import CorrectionRequest  # noqa: E402

SIGNER_ARG["CorrectionRequested"] = "regulator"


def correction_request_out(session: Session, r: CorrectionRequest) -> CorrectionRequestOut:
    return CorrectionRequestOut(
        id=r.id,
        transfer_id=r.transfer_id,
        regulator=r.regulator,
        reason=r.reason,
        report_hash=None if r.report_hash == ZERO_BYTES32 else r.report_hash,
        requested_tx=r.requested_tx,
        requested_block=r.requested_block,
        requested_at=r.requested_at,
        evidence=evidence(session, r.id),
    )


# --- end regulator actions ---------------------------------------------------------------------------
