"""The prepare → sign (by the party, elsewhere) → submit cycle shared by every statement."""

import json
import secrets
import time
from collections.abc import Callable
from typing import Any, Protocol

from fastapi import Response, status
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_service.api.errors import ApiError, rejection_error
from ledger_service.api.schemas import DeadlineTerms, PreparedStatement, StatementTerms, Submission
from ledger_service.chain.gateway import ContractRejection
from ledger_service.db.models import SignedPayload
from ledger_service.relayer import FAILED, RECORDED
from ledger_service.roles import Role
from ledger_service.runtime import Runtime
from ledger_service.statements import (
    STATEMENTS,
    Statement,
    normalise_message,
    recover_signer,
    statement_digest,
    typed_data,
)


class SignedBody(Protocol):
    message: BaseModel
    signature: str


# OpenAPI description of the 202 every submission endpoint may answer.
ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"model": Submission, "description": "Accepted; not yet recorded on chain"}
}
NONCE_PROBES = 256  # how far past the outbox's highest nonce to look for one the chain has not seen


def prepare(
    runtime: Runtime, session: Session, statement: Statement, fields: dict[str, Any], terms: DeadlineTerms
) -> PreparedStatement:
    """The typed data `fields` make once a nonce (where the statement has one) and a deadline are added."""
    signer = fields[statement.signer_field]
    now = int(time.time())
    if terms.deadline is not None:
        deadline = int(terms.deadline.timestamp())
        if deadline <= now:
            raise ApiError(422, "deadline_passed", "deadline must be in the future", ["body", "deadline"])
    else:
        deadline = now + runtime.settings.statement_ttl_seconds
    message = {**fields, "deadline": deadline}
    if any(name == "nonce" for name, _ in statement.fields):
        nonce = terms.nonce if isinstance(terms, StatementTerms) else None
        if nonce is None:
            # A consumed nonce must be one the chain has not seen; a salt only needs to be unpredictable.
            nonce = (
                _next_nonce(runtime, session, statement, signer)
                if statement.consumes_nonce
                else secrets.randbits(64)
            )
        message["nonce"] = nonce
    contract = runtime.gateway.address_for(statement)
    payload = typed_data(statement, runtime.chain_id, contract, message)
    return PreparedStatement(
        statement=statement.primary_type,
        signer=signer,
        digest="0x" + statement_digest(statement, runtime.chain_id, contract, message).hex(),
        typed_data=payload,
    )


def require_role(
    runtime: Runtime, statement: Statement, fields: dict[str, Any], account: str, role: Role | None
) -> None:
    """Refuses to prepare a statement the ledger would refuse for `account`'s standing (role None: any
    active participant, e.g. a shipper taking back a return)."""
    try:
        runtime.gateway.require_active(account, role.bit if role else 0)
    except ContractRejection as rejection:
        raise rejection_error(rejection, statement, fields) from None


def submit(
    runtime: Runtime,
    statement: Statement,
    message_model: BaseModel,
    signature_hex: str,
    labels: dict[str, str] | None = None,
    context: dict[str, Any] | None = None,
    *,
    signer: str | None = None,
    outbox_key: bytes | None = None,
) -> SignedPayload:
    """Hands a signed statement to the relayer; contract refusals come back as ApiError, naming ids by
    their `labels` (a permit's number, a waste code) where the caller knows them. `signer` and
    `outbox_key`: a second signature of one statement (a countersignature) by a party it does not name."""
    message = normalise_message(statement, message_model.model_dump())
    contract = runtime.gateway.address_for(statement)
    payload = typed_data(statement, runtime.chain_id, contract, message)
    signature = bytes.fromhex(signature_hex[2:])
    key = outbox_key or statement_digest(statement, runtime.chain_id, contract, message)
    try:
        submitted = runtime.relayer.submit(statement, message, signature, key, context, signer=signer)
    except ContractRejection as rejection:
        raise _explained(rejection, statement, message, payload, signature, labels) from None
    if submitted.status == FAILED:
        # Refused on chain after the simulation passed (a concurrent statement got there first).
        stored = json.loads(submitted.error or "{}")
        rejection = ContractRejection(stored.get("error", "Reverted"), stored.get("args", {}))
        raise _explained(rejection, statement, message, payload, signature, labels)
    return submitted


def record(
    runtime: Runtime,
    session: Session,
    statement: Statement,
    body: SignedBody,
    response: Response,
    read: Callable[[SignedPayload], BaseModel],
    labels: dict[str, str] | None = None,
    context: dict[str, Any] | None = None,
    *,
    signer: str | None = None,
    outbox_key: bytes | None = None,
) -> BaseModel:
    """Submits a signed statement and answers with `read`'s record once the chain has it (201/200), or
    with the submission (202) while the node has not mined it yet."""
    submitted = submit(
        runtime,
        statement,
        body.message,
        body.signature,
        labels,
        context,
        signer=signer,
        outbox_key=outbox_key,
    )
    if submitted.status != RECORDED:
        response.status_code = status.HTTP_202_ACCEPTED
        return Submission(
            digest=submitted.digest,
            statement=submitted.statement,
            status=submitted.status,
            tx_hash=submitted.tx_hash,
        )
    session.expire_all()  # the indexer updated the read model in its own session
    return read(submitted)


def _explained(
    rejection: ContractRejection,
    statement: Statement,
    message: dict[str, Any],
    payload: dict[str, Any],
    signature: bytes,
    labels: dict[str, str] | None,
) -> ApiError:
    error = rejection_error(rejection, statement, message, labels or {})
    if rejection.error == "InvalidSignature":
        recovered = recover_signer(payload, signature)
        error.msg += f" (it was signed by {recovered})" if recovered else " (it is not a valid signature)"
    return error


def _next_nonce(runtime: Runtime, session: Session, statement: Statement, signer: str) -> int:
    """The signer's next nonce in sequence after those of its consumed-nonce statements in the outbox, in the
    contract that verifies `statement` (the ledger and each module keep their own nonces).

    Sequential nonces share the contract's bitmap words (a cheap update, not a new slot); the random
    salts of record-keyed statements are left out, or the sequence would jump far past them.
    """
    consuming = [s.primary_type for s in STATEMENTS.values() if s.consumes_nonce]
    taken = session.scalars(
        select(SignedPayload.nonce).where(
            SignedPayload.contract == runtime.gateway.address_for(statement),
            SignedPayload.signer == signer,
            SignedPayload.statement.in_(consuming),
        )
    ).all()
    candidate = max((int(n) for n in taken if n is not None), default=-1) + 1
    for _ in range(NONCE_PROBES):
        if not runtime.gateway.nonce_used(statement, signer, candidate):
            return candidate
        candidate += 1
    raise ApiError(
        409, "no_free_nonce", f"no unused nonce found for {signer}; pass one explicitly", ["body", "nonce"]
    )


# --- batches (svc-workflows) ---------------------------------------------------------------------------


def explain_refusal(
    runtime: Runtime,
    statement: Statement,
    message: dict[str, Any],
    signature: bytes,
    rejection: ContractRejection,
    labels: dict[str, str] | None = None,
) -> ApiError:
    """A refusal of a statement submitted with others, explained as `submit` explains one alone."""
    payload = typed_data(statement, runtime.chain_id, runtime.gateway.ledger_address, message)
    return _explained(rejection, statement, message, payload, signature, labels)


def stored_refusal(submitted: SignedPayload) -> ContractRejection:
    """The refusal the chain gave a statement the outbox marked failed."""
    stored = json.loads(submitted.error or "{}")
    return ContractRejection(stored.get("error", "Reverted"), stored.get("args", {}))
