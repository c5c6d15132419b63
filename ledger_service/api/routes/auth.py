"""Sign-in with the party's own key: challenge, signed challenge for a bearer token, who am I, sign-out."""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from ledger_service.api.deps import ACTIVE, CurrentParty, LiveToken, RuntimeDep, SessionDep
from ledger_service.api.errors import ApiError
from ledger_service.api.schemas import Address, Strict, Utc
from ledger_service.roles import role_names
from ledger_service.runtime import Runtime
from ledger_service.signin import IssuedToken, SignInRefused, issue_challenge, redeem_challenge, revoke_token

router = APIRouter(prefix="/auth", tags=["sign-in"])


class ChallengeRequest(Strict):
    address: Address = Field(examples=["0x8ba1f109551bD432803012645Ac136ddd64DBA72"])

    model_config = {
        "json_schema_extra": {"examples": [{"address": "0x8ba1f109551bD432803012645Ac136ddd64DBA72"}]}
    }


class ChallengeOut(BaseModel):
    message: str = Field(
        description="The EIP-4361 message to sign with the address's key (EIP-191 personal_sign)"
    )
    nonce: str
    expires_at: Utc


class SignedChallenge(Strict):
    message: str = Field(description="The challenge's message, unchanged")
    signature: str = Field(description="0x-prefixed 65-byte signature of the message (personal_sign)")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "message": "127.0.0.1:8000 wants you to sign in with your Ethereum account:\n0x…\n\n…",
                    "signature": "0x" + "ab" * 65,
                }
            ]
        }
    }


class AccessTokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    address: str
    expires_at: Utc


class PartyOut(BaseModel):
    address: str
    roles: list[str] = Field(description="As the on-chain registry holds them now")
    park: str | None


@router.post("/challenge", operation_id="create_sign_in_challenge")
def create_challenge(body: ChallengeRequest, runtime: RuntimeDep, session: SessionDep) -> ChallengeOut:
    """An EIP-4361 sign-in message for `address`, valid for a few minutes and usable once."""
    settings = runtime.settings
    challenge = issue_challenge(
        session,
        address=body.address,
        domain=_domain(settings.resolved_public_url),
        uri=settings.resolved_public_url,
        chain_id=runtime.gateway.chain_id(),
        ttl=timedelta(seconds=settings.sign_in_challenge_seconds),
        now=datetime.now(UTC),
    )
    session.commit()
    return ChallengeOut(message=challenge.message, nonce=challenge.nonce, expires_at=challenge.expires_at)


@router.post(
    "/token",
    operation_id="create_access_token",
    responses={
        401: {
            "description": "Not a challenge of this service, unknown, used or expired, or not signed by its address"
        },
        403: {"description": "The address is not an active participant"},
        503: {"description": "The chain node is unavailable: the participant's status cannot be read"},
    },
)
def create_token(body: SignedChallenge, runtime: RuntimeDep, session: SessionDep) -> AccessTokenOut:
    """A short-lived bearer token for a signed challenge. The address must be an active participant."""
    issued = redeem(runtime, session, body.message, body.signature)
    return AccessTokenOut(access_token=issued.token, address=issued.address, expires_at=issued.expires_at)


def redeem(runtime: Runtime, session: Session, message: str, signature: str) -> IssuedToken:
    """A new access token for a signed challenge of an active participant, committed; 401 or 403 if not."""
    settings = runtime.settings
    try:
        issued = redeem_challenge(
            session,
            message=message,
            signature=signature,
            domain=_domain(settings.resolved_public_url),
            chain_id=runtime.gateway.chain_id(),
            token_ttl=timedelta(seconds=settings.access_token_seconds),
            now=datetime.now(UTC),
        )
    except SignInRefused as refused:
        raise ApiError(401, "sign_in_refused", refused.reason, ["body", refused.field]) from None
    _, participant_status = runtime.gateway.participant(issued.address)
    if participant_status != ACTIVE:
        session.rollback()
        raise ApiError(
            403,
            "participant_not_active",
            f"{issued.address} is not an active participant",
            ["body", "message"],
        )
    session.commit()
    return issued


@router.get("/me", operation_id="get_signed_in_party")
def me(party: CurrentParty) -> PartyOut:
    """The signed-in party, with its roles as the chain holds them at this moment."""
    return PartyOut(address=party.address, roles=role_names(party.roles), park=party.park)


@router.post("/logout", operation_id="revoke_access_token", status_code=status.HTTP_204_NO_CONTENT)
def logout(token: LiveToken, session: SessionDep) -> Response:
    """Revokes the request's access token at once. A suspended party may sign out too, so that its token
    cannot serve again should it be reinstated before the token expires."""
    revoke_token(session, token, datetime.now(UTC))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _domain(public_url: str) -> str:
    # EIP-4361's domain is the authority (host[:port]) of the URL the party signs in at.
    return urlsplit(public_url).netloc
