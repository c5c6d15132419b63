"""What statements about an existing transfer need from the read model and the outbox: the transfer, and the
proof of its dispatch that the ledger asks for when a transfer is rejected or corrected."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_service.api.errors import ApiError
from ledger_service.db.models import Lot, Permit, Rejection, SignedPayload, Transfer, WasteCode
from ledger_service.runtime import Runtime
from ledger_service.statements import DISPATCH, Statement, struct_digest, struct_encoding


def require_same_transfer(named: str, transfer_id: str) -> None:
    """Refuses a signed message about another transfer than the path's (`named`: its transferId)."""
    if named != transfer_id:
        raise ApiError(
            422,
            "path_mismatch",
            f"message names transfer {named}, not {transfer_id}",
            ["body", "message", "transferId"],
        )


def transfer_row(session: Session, transfer_id: str) -> Transfer:
    transfer = session.get(Transfer, transfer_id)
    if transfer is None:
        raise ApiError(
            404, "unknown_transfer", f"no transfer {transfer_id} is recorded", ["path", "transfer_id"]
        )
    return transfer


def recorded_message(
    runtime: Runtime, session: Session, statement: Statement, digest_hex: str, tx_hash: str
) -> dict[str, Any] | None:
    """A recorded statement's message: from the outbox, which keeps every statement this service relayed,
    else from the calldata of the transaction that recorded it (another relayer's)."""
    kept = session.scalar(
        select(SignedPayload.message).where(
            SignedPayload.digest == digest_hex, SignedPayload.statement == statement.primary_type
        )
    )
    if kept is not None:
        return kept
    return runtime.gateway.recorded_statement(tx_hash, statement, digest_hex)


def dispatch_encoding(runtime: Runtime, session: Session, transfer: Transfer) -> list[str]:
    """The transfer's Dispatch as EIP-712 encodes it (13 words), the ledger's proof of its parties."""
    if session.scalar(select(Rejection.transfer_id).where(Rejection.return_id == transfer.id)) is not None:
        raise ApiError(
            409,
            "return_has_no_dispatch",
            f"transfer {transfer.id} is the return of a rejected transfer: it has no dispatch to correct "
            "or reject; it is closed by its receiver's receipt",
            ["path", "transfer_id"],
        )
    message = recorded_message(runtime, session, DISPATCH, transfer.id, transfer.dispatch_tx)
    if message is None:
        raise ApiError(
            409,
            "dispatch_unavailable",
            f"the dispatch of transfer {transfer.id} was recorded through a contract wallet; its statement "
            "is not in the ledger's calldata, so this service cannot prove it",
            ["path", "transfer_id"],
        )
    encoding = struct_encoding(DISPATCH, message)
    if struct_digest(runtime.chain_id, runtime.gateway.ledger_address, DISPATCH, encoding) != transfer.id:
        raise RuntimeError(f"the dispatch kept for transfer {transfer.id} does not hash to its id")
    return encoding


def dispatch_labels(session: Session, lot_id: str, permit_id: str) -> dict[str, str]:
    """Names a dispatch's refusal can use instead of ids: the permit's number and the lot's waste code."""
    labels: dict[str, str] = {}
    if (permit := session.get(Permit, permit_id)) is not None:
        labels[permit.permit_id] = permit.permit_number
    if (lot := session.get(Lot, lot_id)) is not None and (code := session.get(WasteCode, lot.code_key)):
        labels[str(code.catalogue_id)] = f"{code.code} ({code.scheme})"
    return labels
