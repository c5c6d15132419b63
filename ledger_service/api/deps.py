"""Dependencies shared by the routers."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from ledger_service.api.errors import ApiError
from ledger_service.db.models import Participant
from ledger_service.roles import Role
from ledger_service.runtime import Runtime
from ledger_service.signin import token_holder

# The registry's ParticipantStatus values.
ACTIVE, SUSPENDED = 1, 2
_bearer = HTTPBearer(auto_error=False, description="The access token POST /auth/token gives")
# The dashboard keeps the same access token in this cookie (HttpOnly, SameSite=Strict). It is taken for reads
# only: a page of another site can make a browser send a POST with the cookie, so everything that writes
# needs the token in the Authorization header, which only the party's own code can set.
SESSION_COOKIE = "symledger_session"
READS = frozenset({"GET", "HEAD"})


def refuse_nul_characters(request: Request) -> None:
    """A query or path parameter holding U+0000 is refused by name: PostgreSQL cannot compare text with it."""
    for where, parameters in (
        ("query", request.query_params.multi_items()),
        ("path", request.path_params.items()),
    ):
        for name, value in parameters:
            if isinstance(value, str) and "\x00" in value:
                raise ApiError(
                    422,
                    "nul_character",
                    f"{name} contains a NUL character (U+0000), which no text may hold",
                    [where, name],
                )


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def get_session(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Iterator[Session]:
    with runtime.sessions() as session:
        yield session


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[Session, Depends(get_session)]


# --- the signed-in party ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    """The party a request's bearer token was issued to, with its roles as the chain holds them now."""

    address: str
    roles: int
    park: str | None

    def has(self, role: Role) -> bool:
        return bool(self.roles & role.bit)


def request_token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    """The request's access token: its bearer token, else, on a read, the dashboard's cookie."""
    if credentials is not None:
        return credentials.credentials
    return request.cookies.get(SESSION_COOKIE) if request.method in READS else None


def get_current_party(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Party:
    token = request_token(request, credentials)
    if token is None:
        raise _unauthorised("sign in first: POST /auth/challenge, sign it, POST /auth/token")
    return party_of(runtime, session, token, writes=request.method not in READS)


def party_of(runtime: Runtime, session: Session, token: str, writes: bool = False) -> Party:
    """The active participant `token` was issued to; 401 for a dead token, 403 for an inactive party.

    A request that writes asks the chain for the party's standing, so a suspension stops its next write
    wherever the suspension was sent from. A read takes it from the read model: a suspension sent through
    this service is there when its request returns, one sent through another relayer once indexed (the
    indexer's poll). That spares every read a round trip to the node, half of a simple read's work, and
    keeps the read model readable while the node is unreachable."""
    address = token_holder(session, token, datetime.now(UTC))
    if address is None:
        raise _unauthorised("the access token is unknown, expired or revoked: sign in again")
    registered = session.get(Participant, address)
    if writes or registered is None:  # not indexed yet: registered through another relayer a moment ago
        roles, status = runtime.gateway.participant(address)
    else:
        roles, status = registered.roles, ACTIVE if registered.status == "active" else SUSPENDED
    if status != ACTIVE:
        what = "is suspended" if status == SUSPENDED else "is not a registered participant"
        raise ApiError(403, "participant_not_active", f"{address} {what}", ["header", "Authorization"])
    return Party(address, roles, registered.park if registered else None)


CurrentParty = Annotated[Party, Depends(get_current_party)]
# For a router whose every endpoint needs a signed-in, active participant.
SIGNED_IN = [Depends(get_current_party)]


def get_bearer_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    if credentials is None:
        raise _unauthorised("sign in first: POST /auth/challenge, sign it, POST /auth/token")
    return credentials.credentials


BearerToken = Annotated[str, Depends(get_bearer_token)]


def get_live_token(session: SessionDep, token: BearerToken) -> str:
    """The request's bearer token, if it is alive (issued, unexpired, unrevoked), whatever its holder's
    standing: a suspended party may still give up its token."""
    if token_holder(session, token, datetime.now(UTC)) is None:
        raise _unauthorised("the access token is unknown, expired or revoked: sign in again")
    return token


LiveToken = Annotated[str, Depends(get_live_token)]


def _unauthorised(msg: str) -> ApiError:
    return ApiError(401, "not_signed_in", msg, ["header", "Authorization"], {"WWW-Authenticate": "Bearer"})
