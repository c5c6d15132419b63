"""The prepare → sign (by the party, elsewhere) → submit cycle shared by every statement."""

import json
import time
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_service.api.errors import ApiError, rejection_error
from ledger_service.api.schemas import PreparedStatement, StatementTerms
from ledger_service.chain.gateway import ContractRejection
from ledger_service.db.models import SignedPayload
from ledger_service.relayer import FAILED
from ledger_service.roles import Role
from ledger_service.runtime import Runtime
from ledger_service.statements import Statement, digest, normalise_message, recover_signer, typed_data

NONCE_PROBES = 256  # how far past the outbox's highest nonce to look for one the chain has not seen


def prepare(
    runtime: Runtime, session: Session, statement: Statement, fields: dict[str, Any], terms: StatementTerms
) -> PreparedStatement:
    """The typed data `fields` make once a nonce and a deadline are added."""
    signer = fields[statement.signer_field]
    now = int(time.time())
    if terms.deadline is not None:
        deadline = int(terms.deadline.timestamp())
        if deadline <= now:
            raise ApiError(422, "deadline_passed", "deadline must be in the future", ["body", "deadline"])
    else:
        deadline = now + runtime.settings.statement_ttl_seconds
    nonce = terms.nonce if terms.nonce is not None else _next_nonce(runtime, session, statement, signer)
    message = {**fields, "nonce": nonce, "deadline": deadline}
    payload = typed_data(statement, runtime.chain_id, runtime.gateway.address(statement.contract), message)
    return PreparedStatement(
        statement=statement.primary_type,
        signer=signer,
        digest="0x" + digest(payload).hex(),
        typed_data=payload,
    )


def require_role(
    runtime: Runtime, statement: Statement, fields: dict[str, Any], account: str, role: Role
) -> None:
    """Refuses to prepare a statement the ledger would refuse for `account`'s standing."""
    try:
        runtime.gateway.require_active(account, role.bit)
    except ContractRejection as rejection:
        raise rejection_error(rejection, statement, fields) from None


def submit(
    runtime: Runtime, statement: Statement, message_model: BaseModel, signature_hex: str
) -> SignedPayload:
    """Hands a signed statement to the relayer; contract refusals come back as ApiError."""
    message = normalise_message(statement, message_model.model_dump())
    payload = typed_data(statement, runtime.chain_id, runtime.gateway.address(statement.contract), message)
    signature = bytes.fromhex(signature_hex[2:])
    try:
        submitted = runtime.relayer.submit(statement, message, signature, digest(payload))
    except ContractRejection as rejection:
        raise _explained(rejection, statement, message, payload, signature) from None
    if submitted.status == FAILED:
        # Refused on chain after the simulation passed (a concurrent statement got there first).
        stored = json.loads(submitted.error or "{}")
        rejection = ContractRejection(stored.get("error", "Reverted"), stored.get("args", {}))
        raise _explained(rejection, statement, message, payload, signature)
    return submitted


def _explained(
    rejection: ContractRejection,
    statement: Statement,
    message: dict[str, Any],
    payload: dict[str, Any],
    signature: bytes,
) -> ApiError:
    error = rejection_error(rejection, statement, message)
    if rejection.error == "InvalidSignature":
        recovered = recover_signer(payload, signature)
        error.msg += f" (it was signed by {recovered})" if recovered else " (it is not a valid signature)"
    return error


def _next_nonce(runtime: Runtime, session: Session, statement: Statement, signer: str) -> int:
    contract = runtime.gateway.address(statement.contract)
    taken = session.scalars(
        select(SignedPayload.nonce).where(SignedPayload.contract == contract, SignedPayload.signer == signer)
    ).all()
    candidate = max((int(n) for n in taken), default=-1) + 1
    for _ in range(NONCE_PROBES):
        if not runtime.gateway.nonce_used(statement.contract, signer, candidate):
            return candidate
        candidate += 1
    raise ApiError(
        409, "no_free_nonce", f"no unused nonce found for {signer}; pass one explicitly", ["body", "nonce"]
    )
