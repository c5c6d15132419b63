"""Correction requests: a regulator, having found an error in a transfer's record (in its report or an
inspection), asks the transfer's parties on chain to correct it. The parties are notified by webhook and answer
with a correction of their own (routes/corrections.py); the requests stay listed with the transfer."""

from fastapi import APIRouter, Response, status
from sqlalchemy import select

from ledger_service.api.custody import require_same_transfer
from ledger_service.api.deps import SIGNED_IN, CurrentParty, RuntimeDep, SessionDep
from ledger_service.api.routes.transfers import visible_transfer
from ledger_service.api.schemas import (
    Bytes32,
    CorrectionRequestOut,
    CorrectionRequestTerms,
    PreparedStatement,
    SignedCorrectionRequest,
    Submission,
)
from ledger_service.api.signing import ACCEPTED, prepare, record, require_role
from ledger_service.api.views import correction_request_out
from ledger_service.db.models import CorrectionRequest
from ledger_service.roles import Role
from ledger_service.statements import CORRECTION_REQUEST, ZERO_BYTES32

router = APIRouter(prefix="/transfers", tags=["regulator actions"], dependencies=SIGNED_IN)


@router.get("/{transfer_id}/correction-requests", operation_id="list_correction_requests")
def list_correction_requests(
    transfer_id: Bytes32, session: SessionDep, party: CurrentParty
) -> list[CorrectionRequestOut]:
    """Every regulator's request to correct a transfer, in the order recorded, with its evidence."""
    visible_transfer(session, party, transfer_id)
    rows = session.scalars(
        select(CorrectionRequest)
        .where(CorrectionRequest.transfer_id == transfer_id)
        .order_by(CorrectionRequest.requested_block, CorrectionRequest.requested_log_index)
    )
    return [correction_request_out(session, r) for r in rows]


@router.post("/{transfer_id}/correction-requests/prepare", operation_id="prepare_correction_request")
def prepare_correction_request(
    transfer_id: Bytes32,
    terms: CorrectionRequestTerms,
    runtime: RuntimeDep,
    session: SessionDep,
    party: CurrentParty,
) -> PreparedStatement:
    """The CorrectionRequest statement a regulator signs to ask the transfer's parties for a correction."""
    visible_transfer(session, party, transfer_id)
    fields = {
        "regulator": terms.regulator,
        "transferId": transfer_id,
        "reason": terms.reason,
        "reportHash": terms.report_hash or ZERO_BYTES32,
    }
    require_role(runtime, CORRECTION_REQUEST, fields, terms.regulator, Role.REGULATOR)
    return prepare(runtime, session, CORRECTION_REQUEST, fields, terms)


@router.post(
    "/{transfer_id}/correction-requests",
    operation_id="request_correction",
    status_code=status.HTTP_201_CREATED,
    responses=ACCEPTED,
)
def request_correction(
    transfer_id: Bytes32,
    body: SignedCorrectionRequest,
    runtime: RuntimeDep,
    session: SessionDep,
    response: Response,
) -> CorrectionRequestOut | Submission:
    """Records a regulator's signed correction request; its id is the statement's EIP-712 digest."""
    require_same_transfer(body.message.transferId, transfer_id)
    return record(
        runtime,
        session,
        CORRECTION_REQUEST,
        body,
        response,
        lambda p: correction_request_out(session, session.get_one(CorrectionRequest, p.digest)),
    )
