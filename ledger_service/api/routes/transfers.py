"""Transfers: a shipper's signed dispatch, the named receiver's signed receipt, and the record."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import func, select

from ledger_service.api.deps import RuntimeDep, SessionDep
from ledger_service.api.errors import ApiError
from ledger_service.api.schemas import (
    Bytes32,
    DispatchTerms,
    PreparedStatement,
    ReceiptTerms,
    SignedDispatch,
    SignedReceipt,
    Submission,
    TransferOut,
    TransferPage,
)
from ledger_service.api.signing import prepare, require_role, submit
from ledger_service.api.views import submission_out, transfer_out
from ledger_service.db.models import Transfer
from ledger_service.relayer import RECORDED
from ledger_service.roles import Role
from ledger_service.statements import DISPATCH, RECEIPT

router = APIRouter(prefix="/transfers", tags=["transfers"])
ACCEPTED = {202: {"model": Submission, "description": "Accepted; not yet recorded on chain"}}


@router.post("/dispatches/prepare", operation_id="prepare_dispatch")
def prepare_dispatch(terms: DispatchTerms, runtime: RuntimeDep, session: SessionDep) -> PreparedStatement:
    """The Dispatch statement a shipper signs to send a quantity of a lot to a receiver."""
    if terms.shipper == terms.receiver:
        raise ApiError(
            422, "self_transfer", "the shipper cannot name itself as receiver", ["body", "receiver"]
        )
    fields = {
        "shipper": terms.shipper,
        "receiver": terms.receiver,
        "lotId": terms.lot_id,
        "wasteCode": terms.waste_code,
        "quantity": terms.quantity,
        "unit": terms.unit,
        "documentHash": terms.document_hash,
    }
    require_role(runtime, DISPATCH, fields, terms.shipper, Role.SHIPPER)
    require_role(runtime, DISPATCH, fields, terms.receiver, Role.RECEIVER)
    return prepare(runtime, session, DISPATCH, fields, terms)


@router.post("", operation_id="dispatch_transfer", status_code=status.HTTP_201_CREATED, responses=ACCEPTED)
def dispatch_transfer(
    body: SignedDispatch, runtime: RuntimeDep, session: SessionDep, response: Response
) -> TransferOut | Submission:
    """Records a shipper's signed dispatch; the transfer's id is the statement's EIP-712 digest."""
    submitted = submit(runtime, DISPATCH, body.message, body.signature)
    if submitted.status != RECORDED:
        response.status_code = status.HTTP_202_ACCEPTED
        return submission_out(submitted)
    return transfer_out(session, _get(session, submitted.digest))


@router.post("/{transfer_id}/receipt/prepare", operation_id="prepare_receipt")
def prepare_receipt(
    transfer_id: Bytes32, terms: ReceiptTerms, runtime: RuntimeDep, session: SessionDep
) -> PreparedStatement:
    """The Receipt statement the named receiver signs with the quantity it measured."""
    transfer = _get(session, transfer_id)
    if transfer.status != "dispatched":
        raise ApiError(
            409, "already_received", f"transfer {transfer_id} was already received", ["path", "transfer_id"]
        )
    fields = {
        "transferId": transfer_id,
        "receiver": transfer.receiver,
        "receivedQuantity": terms.received_quantity,
    }
    require_role(runtime, RECEIPT, fields, transfer.receiver, Role.RECEIVER)
    return prepare(runtime, session, RECEIPT, fields, terms)


@router.post("/{transfer_id}/receipt", operation_id="confirm_receipt", responses=ACCEPTED)
def confirm_receipt(
    transfer_id: Bytes32, body: SignedReceipt, runtime: RuntimeDep, session: SessionDep, response: Response
) -> TransferOut | Submission:
    """Records the named receiver's signed receipt."""
    if body.message.transferId != transfer_id:
        raise ApiError(
            422,
            "path_mismatch",
            f"message names transfer {body.message.transferId}, not {transfer_id}",
            ["body", "message", "transferId"],
        )
    submitted = submit(runtime, RECEIPT, body.message, body.signature)
    if submitted.status != RECORDED:
        response.status_code = status.HTTP_202_ACCEPTED
        return submission_out(submitted)
    session.expire_all()
    return transfer_out(session, _get(session, transfer_id))


@router.get("/{transfer_id}", operation_id="get_transfer")
def get_transfer(transfer_id: Bytes32, session: SessionDep) -> TransferOut:
    """A transfer with its on-chain evidence: transactions, blocks, signers and status."""
    return transfer_out(session, _get(session, transfer_id))


@router.get("", operation_id="list_transfers")
def list_transfers(
    session: SessionDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> TransferPage:
    """Transfers, oldest dispatch first (a stable order: block, then id)."""
    total = session.scalar(select(func.count()).select_from(Transfer)) or 0
    rows = session.scalars(
        select(Transfer).order_by(Transfer.dispatch_block, Transfer.id).offset(offset).limit(limit)
    )
    return TransferPage(
        items=[transfer_out(session, t) for t in rows], total=total, offset=offset, limit=limit
    )


def _get(session: SessionDep, transfer_id: str) -> Transfer:
    transfer = session.get(Transfer, transfer_id)
    if transfer is None:
        raise ApiError(
            404, "unknown_transfer", f"no transfer {transfer_id} is recorded", ["path", "transfer_id"]
        )
    return transfer
