"""The regulator's catalogue: waste codes and the permits and licences that cover them."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import select

from compliance.operations import operations_mask
from ledger_service.api.deps import SIGNED_IN, RuntimeDep, SessionDep
from ledger_service.api.errors import ApiError
from ledger_service.api.schemas import (
    Address,
    Bytes32,
    PermitOut,
    PermitTerms,
    PreparedStatement,
    RevocationTerms,
    SignedPermit,
    SignedRevocation,
    SignedWasteCode,
    Submission,
    WasteCodeOut,
    WasteCodeTerms,
)
from ledger_service.api.signing import ACCEPTED, prepare, record, require_role
from ledger_service.api.views import permit_out, waste_code_out
from ledger_service.db.models import Permit, WasteCode
from ledger_service.roles import Role
from ledger_service.statements import REGISTER_PERMIT, REGISTER_WASTE_CODE, REVOKE_PERMIT, code_key, permit_id

router = APIRouter(tags=["catalogue"], dependencies=SIGNED_IN)


@router.post("/waste-codes/prepare", operation_id="prepare_waste_code")
def prepare_waste_code(terms: WasteCodeTerms, runtime: RuntimeDep, session: SessionDep) -> PreparedStatement:
    """The RegisterWasteCode statement a regulator signs to add a code to the catalogue."""
    fields = {
        "regulator": terms.regulator,
        "scheme": terms.scheme,
        "code": terms.code,
        "unit": terms.unit,
        "hazardous": terms.hazardous,
        "description": terms.description,
    }
    require_role(runtime, REGISTER_WASTE_CODE, fields, terms.regulator, Role.REGULATOR)
    return prepare(runtime, session, REGISTER_WASTE_CODE, fields, terms)


@router.post(
    "/waste-codes",
    operation_id="register_waste_code",
    status_code=status.HTTP_201_CREATED,
    responses=ACCEPTED,
)
def register_waste_code(
    body: SignedWasteCode, runtime: RuntimeDep, session: SessionDep, response: Response
) -> WasteCodeOut | Submission:
    """Records a regulator's signed registration of a waste code."""
    return record(
        runtime,
        session,
        REGISTER_WASTE_CODE,
        body,
        response,
        lambda _p: waste_code_out(session, _code(session, code_key(body.message.scheme, body.message.code))),
    )


@router.get("/waste-codes", operation_id="list_waste_codes")
def list_waste_codes(session: SessionDep) -> list[WasteCodeOut]:
    """The catalogue, in order of registration."""
    return [
        waste_code_out(session, c)
        for c in session.scalars(select(WasteCode).order_by(WasteCode.catalogue_id))
    ]


@router.post("/permits/prepare", operation_id="prepare_permit")
def prepare_permit(terms: PermitTerms, runtime: RuntimeDep, session: SessionDep) -> PreparedStatement:
    """The RegisterPermit statement a regulator signs to register a permit or licence."""
    if terms.valid_until <= terms.valid_from:
        raise ApiError(
            422, "invalid_validity", "valid_until must be after valid_from", ["body", "valid_until"]
        )
    coverage = []
    for i, item in enumerate(terms.coverage):
        key = code_key(item.scheme, item.code)
        if session.get(WasteCode, key) is None:
            raise ApiError(
                422,
                "unknown_waste_code",
                f"waste code {item.scheme} {item.code} is not in the catalogue",
                ["body", "coverage", i, "code"],
            )
        coverage.append({"codeKey": key, "operations": operations_mask(item.operations)})
    fields = {
        "regulator": terms.regulator,
        "permitNumber": terms.permit_number,
        "holder": terms.holder,
        "kind": terms.kind.code,
        "coverage": coverage,
        "yearlyCapacity": terms.yearly_capacity,
        "validFrom": int(terms.valid_from.timestamp()),
        "validUntil": int(terms.valid_until.timestamp()),
    }
    require_role(runtime, REGISTER_PERMIT, fields, terms.regulator, Role.REGULATOR)
    return prepare(runtime, session, REGISTER_PERMIT, fields, terms)


@router.post(
    "/permits", operation_id="register_permit", status_code=status.HTTP_201_CREATED, responses=ACCEPTED
)
def register_permit(
    body: SignedPermit, runtime: RuntimeDep, session: SessionDep, response: Response
) -> PermitOut | Submission:
    """Records a regulator's signed registration of a permit or licence."""
    return record(
        runtime,
        session,
        REGISTER_PERMIT,
        body,
        response,
        lambda _p: permit_out(session, _permit(session, permit_id(body.message.permitNumber))),
    )


@router.post("/permits/{permit_id}/revocation/prepare", operation_id="prepare_permit_revocation")
def prepare_revocation(
    permit_id: Bytes32, terms: RevocationTerms, runtime: RuntimeDep, session: SessionDep
) -> PreparedStatement:
    """The RevokePermit statement a regulator signs to revoke a permit."""
    _permit(session, permit_id)
    fields = {"regulator": terms.regulator, "permitId": permit_id, "reason": terms.reason}
    require_role(runtime, REVOKE_PERMIT, fields, terms.regulator, Role.REGULATOR)
    return prepare(runtime, session, REVOKE_PERMIT, fields, terms)


@router.post("/permits/{permit_id}/revocation", operation_id="revoke_permit", responses=ACCEPTED)
def revoke_permit(
    permit_id: Bytes32, body: SignedRevocation, runtime: RuntimeDep, session: SessionDep, response: Response
) -> PermitOut | Submission:
    """Records a regulator's signed revocation of a permit."""
    if body.message.permitId != permit_id:
        raise ApiError(
            422,
            "path_mismatch",
            f"message names permit {body.message.permitId}, not {permit_id}",
            ["body", "message", "permitId"],
        )
    return record(
        runtime,
        session,
        REVOKE_PERMIT,
        body,
        response,
        lambda _p: permit_out(session, _permit(session, permit_id)),
    )


@router.get("/permits/{permit_id}", operation_id="get_permit")
def get_permit(permit_id: Bytes32, session: SessionDep) -> PermitOut:
    """A permit with its coverage, validity, revocation and evidence."""
    return permit_out(session, _permit(session, permit_id))


@router.get("/permits", operation_id="list_permits")
def list_permits(
    session: SessionDep,
    holder: Annotated[Address | None, Query(description="The holder's address")] = None,
) -> list[PermitOut]:
    """Permits, optionally of one holder."""
    query = select(Permit).order_by(Permit.permit_number)
    if holder:
        query = query.where(Permit.holder == holder)
    return [permit_out(session, p) for p in session.scalars(query)]


def _code(session: SessionDep, key: str) -> WasteCode:
    code = session.get(WasteCode, key)
    if code is None:
        raise ApiError(404, "unknown_waste_code", f"no waste code {key} is registered", ["path", "code_key"])
    return code


def _permit(session: SessionDep, key: str) -> Permit:
    permit = session.get(Permit, key)
    if permit is None:
        raise ApiError(404, "unknown_permit", f"no permit {key} is registered", ["path", "permit_id"])
    return permit
