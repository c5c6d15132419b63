"""Rejections: the named receiver refuses all or part of a transfer; the refused part returns as a transfer of
its own (to the shipper, or on to another permitted receiver), closed by the existing receipt workflow."""

from fastapi import APIRouter, Response

from ledger_service.api.custody import (
    dispatch_encoding,
    dispatch_labels,
    require_same_transfer,
    transfer_row,
)
from ledger_service.api.deps import SIGNED_IN, RuntimeDep, SessionDep
from ledger_service.api.errors import ApiError
from ledger_service.api.schemas import (
    Bytes32,
    PreparedStatement,
    RejectionTerms,
    SignedRejection,
    Submission,
    TransferOut,
)
from ledger_service.api.signing import ACCEPTED, prepare, record, require_role
from ledger_service.api.views import transfer_out
from ledger_service.db.models import Permit, Transfer
from ledger_service.roles import Role
from ledger_service.statements import REJECTION, ZERO_BYTES32

router = APIRouter(prefix="/transfers", tags=["returns"], dependencies=SIGNED_IN)


@router.post("/{transfer_id}/rejection/prepare", operation_id="prepare_rejection")
def prepare_rejection(
    transfer_id: Bytes32, terms: RejectionTerms, runtime: RuntimeDep, session: SessionDep
) -> PreparedStatement:
    """The Rejection statement the named receiver signs instead of a receipt: what it accepts, what it
    refuses and why, and where the refused part goes (default: back to the shipper)."""
    transfer = transfer_row(session, transfer_id)
    _require_awaiting_receipt(transfer)
    return_to = terms.return_to or transfer.shipper
    to_shipper = return_to == transfer.shipper
    if to_shipper and (terms.return_permit_id or terms.return_operation):
        raise ApiError(
            422,
            "permit_on_return_to_shipper",
            "a return to the shipper names no permit and no operation: the shipper takes back its own lot",
            ["body", "return_permit_id" if terms.return_permit_id else "return_operation"],
        )
    if return_to == transfer.receiver:
        raise ApiError(
            422, "self_return", "the receiver cannot return the refused part to itself", ["body", "return_to"]
        )
    if not to_shipper:
        for field in ("return_permit_id", "return_operation"):
            if getattr(terms, field) is None:
                raise ApiError(
                    422,
                    "return_permit_required",
                    f"{field} is required: a return to another receiver than the shipper goes under that "
                    "receiver's permit, for an operation it covers",
                    ["body", field],
                )
        if session.get(Permit, terms.return_permit_id) is None:
            raise ApiError(
                422,
                "unknown_permit",
                f"no permit {terms.return_permit_id} is registered",
                ["body", "return_permit_id"],
            )
    fields = {
        "transferId": transfer_id,
        "receiver": transfer.receiver,
        "acceptedQuantity": terms.accepted_quantity,
        "rejectedQuantity": terms.rejected_quantity,
        "reason": terms.reason,
        "returnTo": return_to,
        "returnPermitId": terms.return_permit_id or ZERO_BYTES32,
        "returnOperation": terms.return_operation or "",
    }
    require_role(runtime, REJECTION, fields, transfer.receiver, Role.RECEIVER)
    if not to_shipper:
        require_role(runtime, REJECTION, fields, return_to, Role.RECEIVER)
    dispatch_encoding(runtime, session, transfer)  # refused now if the dispatch cannot be proven later
    return prepare(runtime, session, REJECTION, fields, terms)


@router.post("/{transfer_id}/rejection", operation_id="reject_transfer", responses=ACCEPTED)
def reject_transfer(
    transfer_id: Bytes32, body: SignedRejection, runtime: RuntimeDep, session: SessionDep, response: Response
) -> TransferOut | Submission:
    """Records the named receiver's signed rejection; the answer lists the return transfer in `returns`."""
    require_same_transfer(body.message.transferId, transfer_id)
    transfer = transfer_row(session, transfer_id)
    return record(
        runtime,
        session,
        REJECTION,
        body,
        response,
        lambda _p: transfer_out(session, transfer_row(session, transfer_id)),
        labels=dispatch_labels(session, transfer.lot_id, body.message.returnPermitId),
        context={"dispatchEncoding": dispatch_encoding(runtime, session, transfer)},
    )


def _require_awaiting_receipt(transfer: Transfer) -> None:
    if transfer.status in ("dispatched", "delivered"):
        return
    if transfer.status == "returning":
        raise ApiError(
            409,
            "return_not_rejectable",
            f"transfer {transfer.id} is a return: it is received, not rejected",
            ["path", "transfer_id"],
        )
    raise ApiError(
        409,
        "not_awaiting_receipt",
        f"transfer {transfer.id} is {transfer.status.replace('_', ' ')}: only a transfer awaiting its "
        "receipt (dispatched, or delivered by its last leg) can be rejected",
        ["path", "transfer_id"],
    )
