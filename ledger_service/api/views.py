"""Read-model rows as API bodies, with the chain evidence each one rests on."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.quantities import discrepancy
from ledger_service.api.schemas import Evidence, ParticipantOut, Submission, TransferOut
from ledger_service.db.models import ChainEvent, Participant, SignedPayload, Transfer
from ledger_service.roles import role_names

# Which argument of each event names the party whose signature the contract verified.
SIGNER_ARG = {
    "ParticipantRegistered": "regulator",
    "ParticipantSuspended": "regulator",
    "ParticipantReinstated": "regulator",
    "TransferDispatched": "shipper",
    "TransferReceived": "receiver",
}
ZERO_ADDRESS = "0x" + "0" * 40


def evidence(session: Session, subject: str) -> list[Evidence]:
    events = session.scalars(
        select(ChainEvent)
        .where(ChainEvent.subject == subject)
        .order_by(ChainEvent.block_number, ChainEvent.log_index)
    )
    out = []
    for e in events:
        signer = e.args.get(SIGNER_ARG.get(e.event, ""))
        out.append(
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


def transfer_out(session: Session, t: Transfer) -> TransferOut:
    gap = discrepancy(t.quantity, t.received_quantity)
    return TransferOut(
        id=t.id,
        status=t.status,
        lot_id=t.lot_id,
        waste_code=t.waste_code,
        quantity=t.quantity,
        unit=t.unit,
        received_quantity=t.received_quantity,
        discrepancy=None if gap is None else gap.delta,
        shipper=t.shipper,
        receiver=t.receiver,
        document_hash=t.document_hash,
        dispatched_at=t.dispatched_at,
        received_at=t.received_at,
        evidence=evidence(session, t.id),
    )


def submission_out(p: SignedPayload) -> Submission:
    return Submission(digest=p.digest, statement=p.statement, status=p.status, tx_hash=p.tx_hash)
