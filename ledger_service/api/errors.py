"""One error shape for every 4xx/5xx: FastAPI's own `{"detail": [{"loc", "msg", "type"}]}`.

Contract refusals are translated here into the party's terms, naming the field of the statement
that caused them; raw revert data never reaches a client.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from ledger_service.chain.gateway import ContractRejection, NodeUnavailable
from ledger_service.relayer import SubmissionInProgress
from ledger_service.roles import role_names
from ledger_service.statements import Statement

NODE_RETRY_AFTER_SECONDS = 5
# The SymbiosisLedger's TransferStatus enum, as the read model names its values.
TRANSFER_STATUSES = (
    "none",
    "dispatched",
    "awaiting_pick_up",
    "in_transit",
    "delivered",
    "received",
    "partially_rejected",
    "rejected",
    "returning",
)


# Why a party is not an active regulator, by the registry's refusal.
_NOT_A_REGULATOR = {
    "UnregisteredParticipant": "it is not a registered participant",
    "SuspendedParticipant": "it is suspended",
    "MissingRole": "it does not hold the REGULATOR role",
}


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

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer repeats each refused value back (`input`): a megabyte-long field would come
        # back a megabyte long, and a secret sent to the wrong field would be echoed. The field and the
        # reason are what the caller needs.
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return JSONResponse({"detail": errors}, 422)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        if isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI answers a JSON body that is not UTF-8 with a 400 of another shape; it is malformed JSON.
            return JSONResponse(
                _body(["body"], f"the body is not UTF-8 JSON: {exc.__cause__}", "json_invalid"), 422
            )
        if isinstance(exc.__cause__, RecursionError):
            # …and a body nested deeper than the parser recurses (a few thousand `[`) with the same 400.
            return JSONResponse(
                _body(["body"], "the body is nested too deep to be read as JSON", "json_invalid"), 422
            )
        return await http_exception_handler(request, exc)

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


def rejection_error(
    rejection: ContractRejection,
    statement: Statement,
    message: dict[str, Any],
    labels: dict[str, str] | None = None,
) -> ApiError:
    """The contract's refusal of `message`, as an HTTP error in the party's terms; `labels` name ids."""
    a = rejection.details
    labels = labels or {}

    def name(value: Any) -> str:
        return labels.get(str(value), str(value))

    if (explained := module_rejection(rejection, statement, message, labels)) is not None:  # modules
        return explained
    signer = message[statement.signer_field]
    loc = ["body", "message"]

    def about(account: str) -> tuple[str, int]:
        field = _field_of(message, account, statement.signer_field)
        # The signer lacking the standing to say something is forbidden; a bad counterparty is bad input.
        return field, 403 if account.lower() == signer.lower() else 422

    workflow_error = _workflow_rejection(rejection, statement, message, labels)  # svc-workflows
    if workflow_error is not None:
        return workflow_error
    if statement.primary_type == "RevokeCertificate" and rejection.error in _NOT_A_REGULATOR:
        # The ledger checks the standing of a revoker other than the issuing lab only: it must be a regulator.
        return ApiError(
            403,
            "not_issuing_lab",
            f"{signer} did not issue certificate {message['certificateId']}, and only an active regulator may "
            f"revoke another's certificate ({_NOT_A_REGULATOR[rejection.error]})",
            [*loc, "lab"],
        )
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
        case "NotAwaitingReceipt" | "NotInCarriage":
            status = TRANSFER_STATUSES[a["status"]]
            if status == "none":
                return ApiError(
                    404,
                    "unknown_transfer",
                    f"no transfer {a['transferId']} was dispatched",
                    [*loc, "transferId"],
                )
            return ApiError(
                409,
                "wrong_transfer_status",
                f"transfer {a['transferId']} is {status.replace('_', ' ')}",
                [*loc, "transferId"],
            )
        case "InvalidTransporters":
            return ApiError(
                422,
                "invalid_transporters",
                "give one licence entry per transporter, and at most 8 transporters",
                [*loc, "licences"],
            )
        case "UnlicensedTransporter":
            return ApiError(
                422,
                "unlicensed_transporter",
                f"transporter {a['transporter']} holds no valid hazardous-waste transport licence "
                f"{a['licence']} covering code {name(a['codeId'])}",
                [*loc, "licences"],
            )
        case "WrongTransporterList":
            return ApiError(
                409, "wrong_transporters", "the transporter list is not the dispatch's", [*loc, "transferId"]
            )
        case "NotLegTransporter":
            return ApiError(
                403,
                "not_leg_transporter",
                f"{a['transporter']} is not the transporter of leg {a['leg']}",
                [*loc, "transporter"],
            )
        case "LegOutOfOrder":
            return ApiError(
                409,
                "leg_out_of_order",
                f"leg {a['leg']} is out of order: {a['pickedUp']} legs picked up, {a['delivered']} delivered",
                [*loc, "leg"],
            )
        case "AlreadyRecorded":
            return ApiError(
                409,
                "already_recorded",
                f"this statement ({a['id']}) was recorded already: a replay",
                ["body", "signature"],
            )
        case "NotAccredited":
            return ApiError(
                403,
                "not_accredited",
                f"{a['lab']} holds no valid lab accreditation {a['accreditationId']}",
                [*loc, "accreditationId"],
            )
        case "CertificateValidityPassed":
            return ApiError(
                422,
                "certificate_validity",
                "validUntil must be in the future (and before 2^40 s)",
                [*loc, "validUntil"],
            )
        case "CertificateNotForLot":
            return ApiError(
                422,
                "certificate_not_for_lot",
                f"certificate {a['certificateId']} is not bound to lot {a['lotId']}",
                [*loc, "certificates" if "certificates" in message else "certificateId"],
            )
        case "RevokedCertificate":
            return ApiError(
                422 if "certificates" in message else 409,
                "certificate_revoked",
                f"certificate {a['certificateId']} is revoked",
                [*loc, "certificates" if "certificates" in message else "certificateId"],
            )
        case "CertificateExpired":
            when = datetime.fromtimestamp(a["validUntil"], UTC).date()
            return ApiError(
                422,
                "certificate_expired",
                f"certificate {a['certificateId']} expired on {when}",
                [*loc, "certificates"],
            )
        case "UnknownWasteCode":
            return ApiError(
                422,
                "unknown_waste_code",
                f"waste code {a['codeKey']} is not in the catalogue",
                [*loc, _field_of(message, "", "wasteCode")],
            )
        case "UnknownUnit":
            return ApiError(422, "unknown_unit", f"unit {a['unit']!r} is not KGM, LTR or KWH", [*loc, "unit"])
        case "WasteCodeAlreadyRegistered":
            return ApiError(
                409, "waste_code_registered", "this waste code is in the catalogue already", [*loc, "code"]
            )
        case "PermitAlreadyRegistered":
            return ApiError(
                409,
                "permit_registered",
                f"permit {message.get('permitNumber')} is registered already",
                [*loc, "permitNumber"],
            )
        case "InvalidPermitKind":
            return ApiError(422, "invalid_permit_kind", f"permit kind {a['kind']} is unknown", [*loc, "kind"])
        case "InvalidValidityPeriod":
            return ApiError(
                422,
                "invalid_validity",
                "validUntil must be after validFrom (and before 2^40 s)",
                [*loc, "validUntil"],
            )
        case "InvalidOperations" | "DuplicateCoverage":
            return ApiError(
                422,
                "invalid_coverage",
                f"coverage of waste code {a['codeKey']} is invalid ({rejection.error})",
                [*loc, "coverage"],
            )
        case "PermitAlreadyRevoked":
            return ApiError(
                409, "permit_revoked", f"permit {a['permitId']} is revoked already", [*loc, "permitId"]
            )
        case "UnitMismatch":
            return ApiError(
                422,
                "unit_mismatch",
                f"unit {a['unit']} is not the one this waste code is declared in",
                [*loc, "unit"],
            )
        case "UnknownLot":
            return ApiError(422, "unknown_lot", f"no lot {a['lotId']} exists", [*loc, "lotId"])
        case "NotLotHolder":
            return ApiError(
                403, "not_lot_holder", f"{a['account']} does not hold lot {a['lotId']}", [*loc, "lotId"]
            )
        case "InsufficientLotBalance":
            return ApiError(
                409,
                "insufficient_lot_balance",
                f"lot {a['lotId']} holds {a['balance']}, less than the {a['quantity']} dispatched",
                [*loc, "quantity"],
            )
        case "UnknownOperation":
            return ApiError(
                422,
                "unknown_operation",
                f"{a['operation']!r} is not an R or D operation code",
                [*loc, "operation"],
            )
        case "UnknownPermit":
            return ApiError(
                422, "unknown_permit", f"no permit {a['permitId']} is registered", [*loc, "permitId"]
            )
        case "PermitNotReceivers":
            return ApiError(
                422,
                "permit_not_receivers",
                f"permit {name(a['permitId'])} is not an environmental permit of receiver {a['receiver']}",
                [*loc, "permitId"],
            )
        case "RevokedPermit":
            return ApiError(
                422,
                "permit_revoked",
                f"receiver's permit {name(a['permitId'])} is revoked",
                [*loc, "permitId"],
            )
        case "PermitNotValid":
            when = datetime.fromtimestamp(a["time"], UTC).date()
            return ApiError(
                422,
                "permit_not_valid",
                f"receiver's permit {name(a['permitId'])} is not valid on {when} (valid "
                f"{datetime.fromtimestamp(a['validFrom'], UTC).date()} to "
                f"{datetime.fromtimestamp(min(a['validUntil'], 2**40), UTC).date()})",
                [*loc, "permitId"],
            )
        case "PermitDoesNotCover":
            today = datetime.now(UTC).date()
            return ApiError(
                422,
                "permit_does_not_cover",
                f"receiver's permit {name(a['permitId'])} does not cover code {name(a['codeId'])} "
                f"for operation {a['operation']} on {today}",
                [*loc, "operation"],
            )
        case "PermitCapacityExceeded":
            return ApiError(
                409,
                "permit_capacity_exceeded",
                f"receiver's permit {name(a['permitId'])} has {a['capacity'] - a['used']} of its "
                f"{a['capacity']} capacity for {a['year']} left, less than {a['quantity']}",
                [*loc, "quantity"],
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


# --- rejections, returns, corrections and batches (svc-workflows) --------------------------------------

from ledger_service.statements import DISPATCH  # noqa: E402

# A rejection's return destination is checked as a dispatch to it: the same refusals, about other fields.
_RETURN_FIELDS = {
    "permitId": "returnPermitId",
    "operation": "returnOperation",
    "quantity": "rejectedQuantity",
    "receiver": "returnTo",
}
RETURNING = TRANSFER_STATUSES.index("returning")
_RETURN_ERRORS = (
    "UnknownPermit",
    "PermitNotReceivers",
    "RevokedPermit",
    "PermitNotValid",
    "PermitDoesNotCover",
    "PermitCapacityExceeded",
    "UnknownOperation",
)


def _workflow_rejection(
    rejection: ContractRejection, statement: Statement, message: dict[str, Any], labels: dict[str, str]
) -> ApiError | None:
    """Refusals of rejections, corrections and batches in the party's terms; None for the others."""
    a = rejection.details
    loc: list[str | int] = ["body", "message"]
    match rejection.error:
        case "NothingRejected":
            return ApiError(
                422,
                "nothing_rejected",
                "rejectedQuantity must be positive: accepting all of a transfer is a receipt",
                [*loc, "rejectedQuantity"],
            )
        case "PermitOnReturnToShipper":
            return ApiError(
                422,
                "permit_on_return_to_shipper",
                "a return to the shipper names no permit and no operation: the shipper takes back its own lot",
                [*loc, "returnPermitId"],
            )
        case "WrongDispatch":
            return ApiError(
                409,
                "wrong_dispatch",
                f"the dispatch given is not the one of transfer {a['transferId']} "
                "(a return transfer has no dispatch of its own)",
                [*loc, "transferId"],
            )
        case "NotBatchable":
            return ApiError(
                422,
                "not_batchable",
                f"item {a['index']} of the batch is neither a dispatch nor a receipt",
                ["body", "items"],
            )
        case "UnknownTransfer":
            return ApiError(
                404, "unknown_transfer", f"no transfer {a['transferId']} was dispatched", [*loc, "transferId"]
            )
        case "NotTransferParty":
            return ApiError(
                403,
                "not_transfer_party",
                f"{a['account']} is neither the shipper nor the receiver of transfer {a['transferId']}",
                [*loc, "proposer"],
            )
        case "EmptyCorrection":
            return ApiError(
                422,
                "empty_correction",
                "the correction changes nothing: give a shipped or received delta, or a corrected document",
                [*loc, "shippedDelta"],
            )
        case "NotReceived":
            status = TRANSFER_STATUSES[a["status"]].replace("_", " ")
            return ApiError(
                409,
                "not_received",
                f"transfer {a['transferId']} is {status}: a received quantity is corrected only once "
                "the receiver holds the transfer's lot",
                [*loc, "receivedDelta"],
            )
        case "NoPendingCorrection":
            return ApiError(
                409,
                "no_pending_correction",
                f"correction {a['correctionId']} awaits no countersignature: it is in effect already, "
                "or was never proposed",
                ["body", "signature"],
            )
        case "InvalidSignature" if statement.primary_type == "Correction" and (
            a["signer"].lower() != message["proposer"].lower()
        ):
            return ApiError(
                422,
                "invalid_signature",
                f"the signature is not counterparty {a['signer']}'s countersignature of this correction",
                ["body", "signature"],
            )
        case "SelfTransfer" if statement.primary_type == "Rejection":
            return ApiError(
                422,
                "self_return",
                "the receiver cannot return the refused part to itself",
                [*loc, "returnTo"],
            )
        case "NotAwaitingReceipt" if statement.primary_type == "Rejection" and a["status"] == RETURNING:
            return ApiError(
                409,
                "return_not_rejectable",
                f"transfer {a['transferId']} is a return: it is received, not rejected",
                [*loc, "transferId"],
            )
        case error if statement.primary_type == "Rejection" and error in _RETURN_ERRORS:
            # Explained as a dispatch to the return destination, then pointed at the rejection's fields.
            as_dispatch = {
                "shipper": message["receiver"],
                "receiver": message["returnTo"],
                "permitId": message["returnPermitId"],
                "operation": message["returnOperation"],
                "quantity": message["rejectedQuantity"],
            }
            explained = rejection_error(rejection, DISPATCH, as_dispatch, labels)
            explained.msg = explained.msg.replace("receiver's permit", "returnTo's permit")
            explained.loc = [_RETURN_FIELDS.get(str(part), part) for part in explained.loc]
            return explained
    return None


def item_error(error: ApiError, index: int, field: str = "items") -> dict[str, Any]:
    """An error of item `index` of a batch request's list `field`, located in the request body like a field
    error."""
    where = error.loc[1:] if error.loc[:1] == ["body"] else error.loc
    return {
        "loc": ["body", field, index, *where],
        "msg": f"{field[:-1].replace('_', ' ')} {index}: {error.msg}",
        "type": error.type,
        "status": error.status,
    }


# --- processing and metered flows ------------------------------------------------------------------
# Refusals of the Processing and MeteredFlows modules, and of the ledger's lot hooks they call, named in
# the party's terms (grams in mass balances, periods by number and time).

_OUTPUT_KIND_NAMES = ("no processing output", "product", "by-product", "residue")


def _index_of(items: list[dict[str, Any]], key: str, value: Any) -> int | None:
    for index, item in enumerate(items):
        if str(item.get(key, "")).lower() == str(value).lower():
            return index
    return None


def _grams(value: int) -> str:
    return f"{value:,} g"


def module_rejection(
    rejection: ContractRejection, statement: Statement, message: dict[str, Any], labels: dict[str, str]
) -> ApiError | None:
    """The refusal of a processing, final-use or metered-flow statement; None for the others (and for
    refusals the ledger's own mapping words well: standing, expiry, nonces, replays)."""
    match statement.primary_type:
        case "RecordProcessing":
            return _processing_rejection(rejection, message, labels)
        case "DeclareUse":
            return _use_rejection(rejection, message)
        case "RegisterFlow" | "AnchorPeriods":
            return _flow_rejection(rejection, statement, message)
    return None


def _processing_rejection(
    rejection: ContractRejection, message: dict[str, Any], labels: dict[str, str]
) -> ApiError | None:
    a = rejection.details
    loc: list[str | int] = ["body", "message"]
    inputs, outputs = message["inputs"], message["outputs"]

    def code(key: str) -> str:
        return labels.get(key.lower(), key)

    def where(code_key: str) -> list[str | int]:
        if (i := _index_of(inputs, "codeKey", code_key)) is not None:
            return [*loc, "inputs", i, "codeKey"]
        if (i := _index_of(outputs, "codeKey", code_key)) is not None:
            return [*loc, "outputs", i, "codeKey"]
        return loc

    def input_loc(lot_id: str, field: str) -> list[str | int]:
        i = _index_of(inputs, "lotId", lot_id)
        return [*loc, "inputs", i, field] if i is not None else [*loc, "inputs"]

    match rejection.error:
        case "EmptyProcessing":
            return ApiError(
                422,
                "empty_processing",
                f"a processing needs at least one input lot and one output ({a['inputs']} inputs, "
                f"{a['outputs']} outputs given)",
                [*loc, "inputs" if a["inputs"] == 0 else "outputs"],
            )
        case "InvalidOutputKind":
            return ApiError(
                422,
                "invalid_output_kind",
                f"output {a['index']}: kind {a['kind']} is not 1 (product), 2 (by-product) or 3 (residue)",
                [*loc, "outputs", a["index"], "kind"],
            )
        case "LotCodeMismatch":
            return ApiError(
                422,
                "lot_code_mismatch",
                f"lot {a['lotId']} is not of code {code(a['codeKey'])}",
                input_loc(a["lotId"], "codeKey"),
            )
        case "MasslessUnit":
            return ApiError(
                422,
                "massless_unit",
                f"code {code(a['codeKey'])} is measured in kilowatt-hours, which have no mass: "
                "it cannot be an input or output of a processing",
                where(a["codeKey"]),
            )
        case "InvalidConversion":
            field = where(a["codeKey"])
            if field[-1] == "codeKey":
                field[-1] = "gramsPerUnit"
            return ApiError(
                422,
                "invalid_conversion",
                f"{a['gramsPerUnit']} g per unit is no conversion for code {code(a['codeKey'])}: a code in "
                "kilograms converts at 1000 g per unit, a code in litres at its density in g/L (not 0)",
                field,
            )
        case "MassBalanceExceeded":
            return ApiError(
                422,
                "mass_balance_exceeded",
                f"outputs and losses {_grams(a['producedAndLost'])} exceed inputs {_grams(a['available'])}",
                [*loc, "outputs"],
            )
        case "HazardousProduct":
            return ApiError(
                422,
                "hazardous_product",
                f"output {a['index']}: code {code(a['codeKey'])} is hazardous, so the output is still waste: "
                "only a residue may carry it",
                [*loc, "outputs", a["index"], "kind"],
            )
        case "UnknownWasteCode":
            return ApiError(
                422,
                "unknown_waste_code",
                f"code {a['codeKey']} is not in the catalogue",
                where(a["codeKey"]),
            )
        case "UnknownLot":
            return ApiError(422, "unknown_lot", f"no lot {a['lotId']} exists", input_loc(a["lotId"], "lotId"))
        case "NotLotHolder":
            return ApiError(
                403,
                "not_lot_holder",
                f"{a['account']} does not hold lot {a['lotId']}",
                input_loc(a["lotId"], "lotId"),
            )
        case "InsufficientLotBalance":
            return ApiError(
                409,
                "insufficient_lot_balance",
                f"lot {a['lotId']} holds {a['balance']}, less than the {a['quantity']} put in",
                input_loc(a["lotId"], "quantity"),
            )
        case "ZeroQuantity" | "QuantityTooLarge":
            return ApiError(
                422,
                "invalid_quantity",
                "every input and output quantity must be a positive integer below 2^63",
                [*loc, "outputs"],
            )
    return None


def _use_rejection(rejection: ContractRejection, message: dict[str, Any]) -> ApiError | None:
    a = rejection.details
    loc: list[str | int] = ["body", "message"]
    match rejection.error:
        case "NotUsable":
            kind = _OUTPUT_KIND_NAMES[a["kind"]] if a["kind"] < len(_OUTPUT_KIND_NAMES) else str(a["kind"])
            why = (
                "a residue is still waste: it leaves only by dispatch to a permitted receiver"
                if kind == "residue"
                else "only a product or by-product a processing produced can be declared used"
            )
            return ApiError(
                409 if kind == "residue" else 422,
                "not_usable",
                f"lot {a['lotId']} is {'a ' + kind if kind == 'residue' else kind}: {why}",
                [*loc, "lotId"],
            )
        case "InsufficientLotBalance":
            return ApiError(
                409,
                "insufficient_lot_balance",
                f"lot {a['lotId']} holds {a['balance']}, less than the {a['quantity']} declared used",
                [*loc, "quantity"],
            )
        case "NotLotHolder":
            return ApiError(
                403, "not_lot_holder", f"{a['account']} does not hold lot {a['lotId']}", [*loc, "holder"]
            )
    return None


def _flow_rejection(
    rejection: ContractRejection, statement: Statement, message: dict[str, Any]
) -> ApiError | None:
    a = rejection.details
    loc: list[str | int] = ["body", "message"]
    batch: list[str | int] = ["body", "periods"]
    first = int(message.get("firstPeriod", 0))
    match rejection.error:
        case "SelfFlow":
            return ApiError(
                422, "self_flow", "the supplier cannot name itself as the offtaker", [*loc, "offtaker"]
            )
        case "UnknownUnit":
            return ApiError(
                422,
                "unknown_unit",
                f"unit {a['unit']!r} is not one of KGM, TNE, LTR, MTQ, KWH, MWH, GV",
                [*loc, "unit"],
            )
        case "ZeroPeriodLength":
            return ApiError(
                422, "zero_period_length", "a period must last at least one second", [*loc, "periodSeconds"]
            )
        case "InvalidSignature":
            field = "offtaker" if a["signer"].lower() == message.get("offtaker", "").lower() else "supplier"
            return ApiError(
                422,
                "invalid_signature",
                f"the {field} signature is not {field} {a['signer']}'s signature of this statement",
                ["body", f"{field}_signature"],
            )
        case "UnknownFlow":
            return ApiError(404, "unknown_flow", f"no flow {a['flowId']} is registered", ["path", "flow_id"])
        case "NoPeriods":
            return ApiError(422, "no_periods", "a batch needs at least one period", batch)
        case "PeriodOutOfOrder":
            return ApiError(
                409,
                "period_out_of_order",
                f"periods are anchored in order, each once: the flow's next period is {a['expected']}, "
                f"not {a['period']}",
                ["body", "first_period"],
            )
        case "PeriodNotEnded":
            end = datetime.fromtimestamp(min(a["end"], 2**40), UTC).isoformat(timespec="seconds")
            return ApiError(
                422,
                "period_not_ended",
                f"period {a['period']} ends at {end}: anchor it once it has ended",
                [*batch, a["period"] - first],
            )
        case "InvalidPeriodSignature":
            field = "supplier" if a["signer"].lower() == message.get("supplier", "").lower() else "offtaker"
            return ApiError(
                422,
                "invalid_period_signature",
                f"the {field}'s signature of period {a['period']} is not {a['signer']}'s signature of "
                "its MeterPeriod statement (flow, period, quantity, reading hash)",
                [*batch, a["period"] - first, f"{field}_signature"],
            )
        case "AlreadyRecorded":
            return ApiError(
                409, "flow_registered", f"this flow ({a['id']}) is registered already", ["body", "message"]
            )
    return None


# --- end processing and metered flows --------------------------------------------------------------
