"""Corrections: one party of a transfer proposes a signed correction; it takes effect when the other party
signs the very same statement. The proposals and countersignatures stay listed: the transfer's history."""

import time
from typing import Any

from fastapi import APIRouter, Response, status
from sqlalchemy import select

from ledger_service.api.custody import (
    dispatch_encoding,
    recorded_message,
    require_same_transfer,
    transfer_row,
)
from ledger_service.api.deps import SIGNED_IN, CurrentParty, RuntimeDep, SessionDep
from ledger_service.api.errors import ApiError
from ledger_service.api.routes.transfers import visible_transfer
from ledger_service.api.schemas import (
    Bytes32,
    CorrectionOut,
    CorrectionTerms,
    CountersignTerms,
    PreparedStatement,
    SignedCorrection,
    Submission,
)
from ledger_service.api.signing import ACCEPTED, prepare, record, require_role
from ledger_service.api.views import correction_out
from ledger_service.db.models import Correction, Transfer
from ledger_service.indexer import HOLDS_LOT
from ledger_service.runtime import Runtime
from ledger_service.statements import (
    CORRECTION,
    ZERO_BYTES32,
    countersignature_key,
    digest,
    normalise_message,
    typed_data,
)

router = APIRouter(prefix="/transfers", tags=["corrections"], dependencies=SIGNED_IN)


@router.get("/{transfer_id}/corrections", operation_id="list_corrections")
def list_corrections(transfer_id: Bytes32, session: SessionDep, party: CurrentParty) -> list[CorrectionOut]:
    """Every correction proposed for a transfer, in the order proposed: pending or applied, with evidence."""
    visible_transfer(session, party, transfer_id)
    rows = session.scalars(
        select(Correction)
        .where(Correction.transfer_id == transfer_id)
        .order_by(Correction.proposed_block, Correction.proposed_log_index)
    )
    return [correction_out(session, c) for c in rows]


@router.post("/{transfer_id}/corrections/prepare", operation_id="prepare_correction")
def prepare_correction(
    transfer_id: Bytes32, terms: CorrectionTerms, runtime: RuntimeDep, session: SessionDep
) -> PreparedStatement:
    """The Correction statement its proposer (the transfer's shipper or receiver) signs first."""
    transfer = transfer_row(session, transfer_id)
    parties = {transfer.shipper: transfer.receiver, transfer.receiver: transfer.shipper}
    if terms.proposer not in parties:
        raise ApiError(
            403,
            "not_transfer_party",
            f"{terms.proposer} is neither the shipper nor the receiver of transfer {transfer_id}",
            ["body", "proposer"],
        )
    if terms.shipped_delta == 0 and terms.received_delta == 0 and terms.document_hash is None:
        raise ApiError(
            422,
            "empty_correction",
            "the correction changes nothing: give a shipped or received delta, or a corrected document",
            ["body", "shipped_delta"],
        )
    if terms.received_delta != 0 and transfer.status not in HOLDS_LOT:
        raise ApiError(
            409,
            "not_received",
            f"transfer {transfer_id} is {transfer.status.replace('_', ' ')}: a received quantity is corrected "
            "only once the receiver holds the transfer's lot",
            ["body", "received_delta"],
        )
    dispatch_encoding(runtime, session, transfer)  # refused now if the dispatch cannot be proven later
    fields = {
        "transferId": transfer_id,
        "proposer": terms.proposer,
        "shippedDelta": terms.shipped_delta,
        "receivedDelta": terms.received_delta,
        "documentHash": terms.document_hash or ZERO_BYTES32,
        "reason": terms.reason,
    }
    require_role(runtime, CORRECTION, fields, terms.proposer, None)
    require_role(runtime, CORRECTION, fields, parties[terms.proposer], None)
    return prepare(runtime, session, CORRECTION, fields, terms)


@router.post(
    "/{transfer_id}/corrections",
    operation_id="propose_correction",
    status_code=status.HTTP_201_CREATED,
    responses=ACCEPTED,
)
def propose_correction(
    transfer_id: Bytes32, body: SignedCorrection, runtime: RuntimeDep, session: SessionDep, response: Response
) -> CorrectionOut | Submission:
    """Records a party's signed proposal; its id (the statement's digest) awaits the other's countersignature."""
    require_same_transfer(body.message.transferId, transfer_id)
    transfer = transfer_row(session, transfer_id)
    return record(
        runtime,
        session,
        CORRECTION,
        body,
        response,
        lambda p: correction_out(session, _correction(session, transfer_id, p.digest)),
        context={"dispatchEncoding": dispatch_encoding(runtime, session, transfer)},
    )


@router.post(
    "/{transfer_id}/corrections/{correction_id}/countersignature/prepare",
    operation_id="prepare_countersignature",
)
def prepare_countersignature(
    transfer_id: Bytes32,
    correction_id: Bytes32,
    runtime: RuntimeDep,
    session: SessionDep,
    terms: CountersignTerms | None = None,
) -> PreparedStatement:
    """The proposed Correction statement, unchanged, for the counterparty to sign."""
    correction = _pending(session, transfer_id, correction_id)
    message = _proposed_message(runtime, session, correction)
    if int(message["deadline"]) <= int(time.time()):
        raise ApiError(
            409,
            "correction_expired",
            f"correction {correction_id} had to be countersigned by its deadline, which has passed; "
            "it can be proposed anew",
            ["path", "correction_id"],
        )
    require_role(runtime, CORRECTION, message, correction.counterparty, None)
    payload = typed_data(CORRECTION, runtime.chain_id, runtime.gateway.ledger_address, message)
    return PreparedStatement(
        statement=CORRECTION.primary_type,
        signer=correction.counterparty,
        digest="0x" + digest(payload).hex(),
        typed_data=payload,
    )


@router.post(
    "/{transfer_id}/corrections/{correction_id}/countersignature",
    operation_id="countersign_correction",
    responses=ACCEPTED,
)
def countersign_correction(
    transfer_id: Bytes32,
    correction_id: Bytes32,
    body: SignedCorrection,
    runtime: RuntimeDep,
    session: SessionDep,
    response: Response,
) -> CorrectionOut | Submission:
    """Records the counterparty's signature of the proposed statement; the correction takes effect."""
    require_same_transfer(body.message.transferId, transfer_id)
    message = normalise_message(CORRECTION, body.message.model_dump())
    payload = typed_data(CORRECTION, runtime.chain_id, runtime.gateway.ledger_address, message)
    if "0x" + digest(payload).hex() != correction_id:
        raise ApiError(
            422,
            "not_the_proposal",
            f"the message is not the statement of correction {correction_id}: countersign it unchanged",
            ["body", "message"],
        )
    correction = _correction(session, transfer_id, correction_id)
    key = countersignature_key(correction_id, correction.counterparty)
    if runtime.relayer.find("0x" + key.hex()) is None:  # a retried countersignature is answered as before
        _pending(session, transfer_id, correction_id)
    transfer = transfer_row(session, transfer_id)
    return record(
        runtime,
        session,
        CORRECTION,
        body,
        response,
        lambda _p: correction_out(session, _correction(session, transfer_id, correction_id)),
        context={
            "countersign": {"correctionId": correction_id, "effect": _effect(transfer, correction, message)}
        },
        signer=correction.counterparty,
        outbox_key=key,
    )


def _effect(transfer: Transfer, correction: Correction, message: dict[str, Any]) -> dict[str, Any]:
    """What the correction puts into effect, as the ledger fixed it at the proposal (CorrectionEffect): the
    shipper's lot only when the quantity shipped is corrected."""
    return {
        "transferId": transfer.id,
        "lotId": transfer.lot_id if int(message["shippedDelta"]) else "0x" + "00" * 32,
        "counterparty": correction.counterparty,
        "shippedDelta": str(message["shippedDelta"]),
        "receivedDelta": str(message["receivedDelta"]),
        "deadline": str(message["deadline"]),
    }


def _correction(session: SessionDep, transfer_id: str, correction_id: str) -> Correction:
    correction = session.get(Correction, correction_id)
    if correction is None or correction.transfer_id != transfer_id:
        raise ApiError(
            404,
            "unknown_correction",
            f"no correction {correction_id} of transfer {transfer_id} is recorded",
            ["path", "correction_id"],
        )
    return correction


def _pending(session: SessionDep, transfer_id: str, correction_id: str) -> Correction:
    correction = _correction(session, transfer_id, correction_id)
    if correction.status != "pending":
        raise ApiError(
            409,
            "correction_applied",
            f"correction {correction_id} was countersigned already and is in effect",
            ["path", "correction_id"],
        )
    return correction


def _proposed_message(runtime: Runtime, session: SessionDep, correction: Correction) -> dict[str, Any]:
    message = recorded_message(runtime, session, CORRECTION, correction.id, correction.proposed_tx)
    if message is None:
        raise ApiError(
            409,
            "proposal_unavailable",
            f"correction {correction.id} was proposed through a contract wallet; its statement is not in "
            "the ledger's calldata, so this service cannot show it for countersigning",
            ["path", "correction_id"],
        )
    return message
