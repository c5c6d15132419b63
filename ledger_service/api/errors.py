"""One error shape for every 4xx/5xx: FastAPI's own `{"detail": [{"loc", "msg", "type"}]}`.

Contract refusals are translated here into the party's terms, naming the field of the statement
that caused them; raw revert data never reaches a client.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ledger_service.chain.gateway import ContractRejection, NodeUnavailable
from ledger_service.relayer import SubmissionInProgress
from ledger_service.roles import role_names
from ledger_service.statements import Statement

NODE_RETRY_AFTER_SECONDS = 5


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        type_: str,
        msg: str,
        loc: Sequence[str | int] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(msg)
        self.status, self.type, self.msg, self.loc, self.headers = status, type_, msg, list(loc), headers


def _body(loc: list[str | int], msg: str, type_: str) -> dict[str, Any]:
    return {"detail": [{"loc": loc, "msg": msg, "type": type_}]}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(_body(exc.loc, exc.msg, exc.type), exc.status, headers=exc.headers)

    @app.exception_handler(NodeUnavailable)
    async def _node_unavailable(_: Request, exc: NodeUnavailable) -> JSONResponse:
        return JSONResponse(
            _body(
                [], "the chain node is unavailable; nothing was recorded, try again later", "node_unavailable"
            ),
            503,
            headers={"Retry-After": str(NODE_RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(SubmissionInProgress)
    async def _in_progress(_: Request, exc: SubmissionInProgress) -> JSONResponse:
        return JSONResponse(
            _body(
                ["body", "signature"],
                f"statement {exc} is being submitted by another request",
                "submission_in_progress",
            ),
            409,
            headers={"Retry-After": "1"},
        )


def _field_of(message: dict[str, Any], value: Any, default: str) -> str:
    for name, field_value in message.items():
        if isinstance(field_value, str) and isinstance(value, str) and field_value.lower() == value.lower():
            return name
    return default


def rejection_error(rejection: ContractRejection, statement: Statement, message: dict[str, Any]) -> ApiError:
    """The contract's refusal of `message`, as an HTTP error in the party's terms."""
    a = rejection.details
    signer = message[statement.signer_field]
    loc = ["body", "message"]

    def about(account: str) -> tuple[str, int]:
        field = _field_of(message, account, statement.signer_field)
        # The signer lacking the standing to say something is forbidden; a bad counterparty is bad input.
        return field, 403 if account.lower() == signer.lower() else 422

    match rejection.error:
        case "UnregisteredParticipant":
            field, status = about(a["account"])
            return ApiError(
                status,
                "unregistered_participant",
                f"{field} {a['account']} is not a registered participant",
                [*loc, field],
            )
        case "SuspendedParticipant":
            field, status = about(a["account"])
            return ApiError(
                status,
                "suspended_participant",
                f"{field} {a['account']} is suspended by a regulator",
                [*loc, field],
            )
        case "MissingRole":
            field, status = about(a["account"])
            role = " and ".join(role_names(a["role"]))
            return ApiError(
                status, "missing_role", f"{field} {a['account']} does not hold the {role} role", [*loc, field]
            )
        case "SignatureExpired":
            when = datetime.fromtimestamp(min(a["deadline"], 2**40), UTC).isoformat(timespec="seconds")
            return ApiError(
                422,
                "signature_expired",
                f"the statement's deadline {when} has passed; prepare and sign a new one",
                [*loc, "deadline"],
            )
        case "NonceAlreadyUsed":
            return ApiError(
                409,
                "nonce_used",
                f"nonce {a['nonce']} of {a['signer']} is used by a statement already recorded "
                "(a replay?); prepare and sign a new statement",
                [*loc, "nonce"],
            )
        case "InvalidSignature":
            return ApiError(
                422,
                "invalid_signature",
                f"the signature is not {statement.signer_field} {a['signer']}'s signature of this statement",
                ["body", "signature"],
            )
        case "AlreadyRegistered":
            return ApiError(
                409,
                "already_registered",
                f"participant {a['account']} is already registered",
                [*loc, "participant"],
            )
        case "InvalidRoles":
            return ApiError(422, "invalid_roles", f"roles {a['roles']} name no known role", [*loc, "roles"])
        case "StatusUnchanged":
            state = "suspended" if a["status"] == 2 else "active"
            return ApiError(
                409, "status_unchanged", f"participant {a['account']} is already {state}", [*loc, "suspended"]
            )
        case "SelfSuspension":
            return ApiError(
                422, "self_suspension", "a regulator cannot suspend itself", [*loc, "participant"]
            )
        case "ZeroAddress":
            return ApiError(
                422, "zero_address", "the zero address cannot be a participant", [*loc, "participant"]
            )
        case "ZeroQuantity" | "QuantityTooLarge":
            field = "receivedQuantity" if "receivedQuantity" in message else "quantity"
            return ApiError(
                422, "invalid_quantity", f"{field} must be a positive integer below 2^63", [*loc, field]
            )
        case "SelfTransfer":
            return ApiError(
                422, "self_transfer", "the shipper cannot name itself as receiver", [*loc, "receiver"]
            )
        case "EmptyField":
            return ApiError(422, "empty_field", f"{a['field']} must not be empty", [*loc, a["field"]])
        case "TransferNotDispatched":
            if a["status"] == 0:
                return ApiError(
                    404,
                    "unknown_transfer",
                    f"no transfer {a['transferId']} was dispatched",
                    [*loc, "transferId"],
                )
            return ApiError(
                409,
                "already_received",
                f"transfer {a['transferId']} was already received",
                [*loc, "transferId"],
            )
        case "NotNamedReceiver":
            return ApiError(
                403,
                "not_named_receiver",
                f"{a['receiver']} is not the receiver named in transfer {a['transferId']}",
                [*loc, "receiver"],
            )
    return ApiError(
        422, "refused_by_contract", f"the ledger contract refused the statement: {rejection}", loc
    )
