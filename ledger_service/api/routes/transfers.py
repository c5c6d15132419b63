"""Transfers: a shipper's signed dispatch, the named receiver's signed receipt, and the record."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from ledger_service.access import transfers_visible_to, visible
from ledger_service.api.custody import require_same_transfer
from ledger_service.api.deps import SIGNED_IN, CurrentParty, Party, RuntimeDep, SessionDep
from ledger_service.api.errors import ApiError
from ledger_service.api.schemas import (
    Bytes32,
    DispatchMessage,
    DispatchTerms,
    LegTerms,
    PreparedStatement,
    ReceiptTerms,
    SignedDispatch,
    SignedLeg,
    SignedReceipt,
    Submission,
    TransferOut,
    TransferPage,
    TransferQuery,
)
from ledger_service.api.signing import ACCEPTED, prepare, record, require_role
from ledger_service.api.views import transfer_out, transfers_out
from ledger_service.db.models import Certificate, Lot, Permit, Transfer, WasteCode
from ledger_service.roles import Role
from ledger_service.search import page, transfer_filters
from ledger_service.statements import DELIVERY, DISPATCH, PICK_UP, RECEIPT

# Custody passing on a transport leg: the path segment and the statement the transporter signs.
Handover = Literal["pick-up", "delivery"]
HANDOVERS = {"pick-up": PICK_UP, "delivery": DELIVERY}

router = APIRouter(prefix="/transfers", tags=["transfers"], dependencies=SIGNED_IN)


@router.post("/dispatches/prepare", operation_id="prepare_dispatch")
def prepare_dispatch(terms: DispatchTerms, runtime: RuntimeDep, session: SessionDep) -> PreparedStatement:
    """The Dispatch statement a shipper signs to send part of a lot it holds to a permitted receiver."""
    if terms.shipper == terms.receiver:
        raise ApiError(
            422, "self_transfer", "the shipper cannot name itself as receiver", ["body", "receiver"]
        )
    fields = {
        "shipper": terms.shipper,
        "receiver": terms.receiver,
        "lotId": terms.lot_id,
        "quantity": terms.quantity,
        "operation": terms.operation,
        "permitId": terms.permit_id,
        "certificates": terms.certificates,
        "transporters": terms.transporters,
        "licences": terms.licences,
        "documentHash": terms.document_hash,
    }
    require_role(runtime, DISPATCH, fields, terms.shipper, Role.SHIPPER)
    require_role(runtime, DISPATCH, fields, terms.receiver, Role.RECEIVER)
    if session.get(Lot, terms.lot_id) is None:
        raise ApiError(422, "unknown_lot", f"no lot {terms.lot_id} is recorded", ["body", "lot_id"])
    if session.get(Permit, terms.permit_id) is None:
        raise ApiError(
            422, "unknown_permit", f"no permit {terms.permit_id} is registered", ["body", "permit_id"]
        )
    for i, certificate_id in enumerate(terms.certificates):
        certificate = session.get(Certificate, certificate_id)
        if certificate is None or certificate.lot_id != terms.lot_id:
            raise ApiError(
                422,
                "certificate_not_for_lot",
                f"certificate {certificate_id} is not one of lot {terms.lot_id}",
                ["body", "certificates", i],
            )
    return prepare(runtime, session, DISPATCH, fields, terms)


@router.post("", operation_id="dispatch_transfer", status_code=status.HTTP_201_CREATED, responses=ACCEPTED)
def dispatch_transfer(
    body: SignedDispatch, runtime: RuntimeDep, session: SessionDep, response: Response
) -> TransferOut | Submission:
    """Records a shipper's signed dispatch; the transfer's id is the statement's EIP-712 digest."""
    return record(
        runtime,
        session,
        DISPATCH,
        body,
        response,
        lambda p: transfer_out(session, _get(session, p.digest)),
        labels=_labels(session, body.message),
    )


@router.post("/{transfer_id}/receipt/prepare", operation_id="prepare_receipt")
def prepare_receipt(
    transfer_id: Bytes32, terms: ReceiptTerms, runtime: RuntimeDep, session: SessionDep
) -> PreparedStatement:
    """The Receipt statement the named receiver signs with the quantity it measured."""
    transfer = _get(session, transfer_id)
    if transfer.status == "received":
        raise ApiError(
            409, "already_received", f"transfer {transfer_id} was already received", ["path", "transfer_id"]
        )
    if transfer.status not in ("dispatched", "delivered", "returning"):
        raise ApiError(
            409,
            "not_delivered",
            f"transfer {transfer_id} is {transfer.status.replace('_', ' ')}: "
            "a carried transfer is received after its last delivery",
            ["path", "transfer_id"],
        )
    fields = {
        "transferId": transfer_id,
        "receiver": transfer.receiver,
        "receivedQuantity": terms.received_quantity,
    }
    # A return goes back to its shipper, who needs no RECEIVER role to take back its own lot.
    role = None if transfer.status == "returning" else Role.RECEIVER
    require_role(runtime, RECEIPT, fields, transfer.receiver, role)
    return prepare(runtime, session, RECEIPT, fields, terms)


@router.post("/{transfer_id}/receipt", operation_id="confirm_receipt", responses=ACCEPTED)
def confirm_receipt(
    transfer_id: Bytes32, body: SignedReceipt, runtime: RuntimeDep, session: SessionDep, response: Response
) -> TransferOut | Submission:
    """Records the named receiver's signed receipt."""
    require_same_transfer(body.message.transferId, transfer_id)
    return record(
        runtime,
        session,
        RECEIPT,
        body,
        response,
        lambda _p: transfer_out(session, _get(session, transfer_id)),
    )


@router.post("/{transfer_id}/legs/{leg}/{handover}/prepare", operation_id="prepare_handover")
def prepare_handover(
    transfer_id: Bytes32,
    leg: int,
    handover: Handover,
    terms: LegTerms,
    runtime: RuntimeDep,
    session: SessionDep,
) -> PreparedStatement:
    """The PickUp or Delivery statement the transporter of a leg signs as custody passes."""
    transfer = _get(session, transfer_id)
    if not 0 <= leg < len(transfer.transporters):
        raise ApiError(
            404,
            "unknown_leg",
            f"transfer {transfer_id} has {len(transfer.transporters)} transport legs",
            ["path", "leg"],
        )
    statement = HANDOVERS[handover]
    fields = {"transferId": transfer_id, "transporter": transfer.transporters[leg], "leg": leg}
    return prepare(runtime, session, statement, fields, terms)


@router.post("/{transfer_id}/legs/{leg}/{handover}", operation_id="record_handover", responses=ACCEPTED)
def record_handover(
    transfer_id: Bytes32,
    leg: int,
    handover: Handover,
    body: SignedLeg,
    runtime: RuntimeDep,
    session: SessionDep,
    response: Response,
) -> TransferOut | Submission:
    """Records a transporter's signed pick-up or delivery of a leg."""
    if (body.message.transferId, body.message.leg) != (transfer_id, leg):
        raise ApiError(
            422,
            "path_mismatch",
            "the message names another transfer or leg than the path",
            ["body", "message", "leg"],
        )
    transfer = _get(session, transfer_id)
    return record(
        runtime,
        session,
        HANDOVERS[handover],
        body,
        response,
        lambda _p: transfer_out(session, _get(session, transfer_id)),
        context={"transporters": transfer.transporters},
    )


@router.get("/{transfer_id}", operation_id="get_transfer")
def get_transfer(transfer_id: Bytes32, session: SessionDep, party: CurrentParty) -> TransferOut:
    """A transfer with its on-chain evidence: transactions, blocks, signers and status (if the caller may
    see it: see ledger_service.access)."""
    return transfer_out(session, visible_transfer(session, party, transfer_id))


@router.get("", operation_id="list_transfers")
def list_transfers(
    session: SessionDep, party: CurrentParty, query: Annotated[TransferQuery, Query()]
) -> TransferPage:
    """The transfers the caller may see that match every filter given, oldest dispatch first (a stable
    order: block, then id); `total` counts all that match. See ledger_service.search."""
    where = [transfers_visible_to(party), *transfer_filters(session, query)]
    rows, total = page(session, Transfer, where, (Transfer.dispatch_block, Transfer.id), query)
    return TransferPage(
        items=transfers_out(session, rows), total=total, offset=query.offset, limit=query.limit
    )


def _labels(session: SessionDep, message: DispatchMessage) -> dict[str, str]:
    """Names a refusal can use instead of ids: the permit's number and the lot's waste code."""
    labels: dict[str, str] = {}
    if (permit := session.get(Permit, message.permitId)) is not None:
        labels[permit.permit_id] = permit.permit_number
    if (lot := session.get(Lot, message.lotId)) is not None and (
        code := session.get(WasteCode, lot.code_key)
    ):
        labels[str(code.catalogue_id)] = f"{code.code} ({code.scheme})"
    return labels


def visible_transfer(session: SessionDep, party: Party, transfer_id: str) -> Transfer:
    """The transfer, or 404 as if unknown when the caller may not see it (its existence is not told)."""
    transfer = _get(session, transfer_id)
    if not visible(session, Transfer.id == transfer_id, transfers_visible_to(party)):
        raise ApiError(
            404, "unknown_transfer", f"no transfer {transfer_id} is recorded", ["path", "transfer_id"]
        )
    return transfer


def _get(session: SessionDep, transfer_id: str) -> Transfer:
    transfer = session.get(Transfer, transfer_id)
    if transfer is None:
        raise ApiError(
            404, "unknown_transfer", f"no transfer {transfer_id} is recorded", ["path", "transfer_id"]
        )
    return transfer
