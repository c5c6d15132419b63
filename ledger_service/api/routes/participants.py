"""Participants: registration, suspension and reinstatement by a regulator's signed statement."""

from fastapi import APIRouter, Response, status
from sqlalchemy import select

from ledger_service.api.deps import SIGNED_IN, RuntimeDep, SessionDep
from ledger_service.api.errors import ApiError
from ledger_service.api.schemas import (
    Address,
    ParticipantOut,
    PreparedStatement,
    RegistrationTerms,
    SignedRegistration,
    SignedStatusChange,
    StatusTerms,
    Submission,
)
from ledger_service.api.signing import ACCEPTED, prepare, record, require_role
from ledger_service.api.views import participant_out
from ledger_service.db.models import Participant
from ledger_service.roles import Role, roles_mask
from ledger_service.statements import REGISTER_PARTICIPANT, SET_PARTICIPANT_STATUS

router = APIRouter(prefix="/participants", tags=["participants"], dependencies=SIGNED_IN)


@router.post("/registrations/prepare", operation_id="prepare_participant_registration")
def prepare_registration(
    terms: RegistrationTerms, runtime: RuntimeDep, session: SessionDep
) -> PreparedStatement:
    """The RegisterParticipant statement a regulator signs to register a participant."""
    fields = {
        "regulator": terms.regulator,
        "participant": terms.participant,
        "roles": roles_mask(terms.roles),
        "legalName": terms.legal_name,
        "enterpriseId": terms.enterprise_id,
        "park": terms.park,
    }
    require_role(runtime, REGISTER_PARTICIPANT, fields, terms.regulator, Role.REGULATOR)
    return prepare(runtime, session, REGISTER_PARTICIPANT, fields, terms)


@router.post(
    "",
    operation_id="register_participant",
    status_code=status.HTTP_201_CREATED,
    responses=ACCEPTED,
)
def register_participant(
    body: SignedRegistration, runtime: RuntimeDep, session: SessionDep, response: Response
) -> ParticipantOut | Submission:
    """Records a regulator's signed registration of a participant."""
    return record(
        runtime,
        session,
        REGISTER_PARTICIPANT,
        body,
        response,
        lambda _p: participant_out(session, _get(session, body.message.participant)),
    )


@router.post("/{address}/status/prepare", operation_id="prepare_participant_status")
def prepare_status(
    address: Address, terms: StatusTerms, runtime: RuntimeDep, session: SessionDep
) -> PreparedStatement:
    """The SetParticipantStatus statement a regulator signs to suspend or reinstate a participant."""
    _get(session, address)
    fields = {
        "regulator": terms.regulator,
        "participant": address,
        "suspended": terms.suspended,
        "reason": terms.reason,
    }
    require_role(runtime, SET_PARTICIPANT_STATUS, fields, terms.regulator, Role.REGULATOR)
    return prepare(runtime, session, SET_PARTICIPANT_STATUS, fields, terms)


@router.post(
    "/{address}/status",
    operation_id="set_participant_status",
    responses=ACCEPTED,
)
def set_status(
    address: Address, body: SignedStatusChange, runtime: RuntimeDep, session: SessionDep, response: Response
) -> ParticipantOut | Submission:
    """Records a regulator's signed suspension or reinstatement of a participant."""
    if body.message.participant != address:
        raise ApiError(
            422,
            "path_mismatch",
            f"message names participant {body.message.participant}, not {address}",
            ["body", "message", "participant"],
        )
    return record(
        runtime,
        session,
        SET_PARTICIPANT_STATUS,
        body,
        response,
        lambda _p: participant_out(session, _get(session, address)),
    )


@router.get("/{address}", operation_id="get_participant")
def get_participant(address: Address, session: SessionDep) -> ParticipantOut:
    """A participant with its roles, status and the chain events behind them."""
    return participant_out(session, _get(session, address))


@router.get("", operation_id="list_participants")
def list_participants(session: SessionDep) -> list[ParticipantOut]:
    """Every registered participant, in order of registration."""
    rows = session.scalars(select(Participant).order_by(Participant.registered_block, Participant.address))
    return [participant_out(session, p) for p in rows]


def _get(session: SessionDep, address: str) -> Participant:
    participant = session.get(Participant, address)
    if participant is None:
        raise ApiError(
            404, "unknown_participant", f"no participant {address} is registered", ["path", "address"]
        )
    return participant
