"""What every dashboard page shares: its templates, the signed-in viewer, and its answer to an error.

The viewer is the party whose access token the browser holds in the session cookie (ledger_service.api.deps
SESSION_COOKIE): the same token, checked the same way, as an API client's bearer token, so a page shows
exactly what that party may read through the API. A page asked for without a live sign-in sends the browser
to the sign-in page and back.
"""

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError
from sqlalchemy import select

from ledger_service import rendering
from ledger_service.api.deps import SESSION_COOKIE, Party, RuntimeDep, SessionDep, party_of
from ledger_service.api.errors import ApiError
from ledger_service.db.models import Participant
from ledger_service.roles import role_names

HERE = Path(__file__).parent
PREFIX = "/dashboard"
VERDICTS = ("PASS", "FAIL", "INCONCLUSIVE", "WARN", "N/A")


@cache
def templates() -> Jinja2Templates:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(HERE / "templates"), FileSystemLoader(rendering.HERE)]),
        autoescape=select_autoescape(["html"]),
    )
    env.globals.update(evidence=rendering.evidence_line, verdict_class=verdict_class, short=_short)
    return Jinja2Templates(env=env)


def verdict_class(verdict: str) -> str:
    return "v-" + verdict.replace("/", "").lower()


def _short(hex_id: str | None) -> str:
    if not hex_id:
        return ""
    return f"{hex_id[:8]}…{hex_id[-4:]}" if len(hex_id) > 14 else hex_id


class SignInNeeded(Exception):
    """The page needs a signed-in participant; the browser is sent to sign in, then back."""


def viewer(request: Request, runtime: RuntimeDep, session: SessionDep) -> Party:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInNeeded()
    try:
        return party_of(runtime, session, token)
    except ApiError as refused:
        if refused.status == 401:  # expired or revoked: sign in again
            raise SignInNeeded() from None
        raise


Viewer = Annotated[Party, Depends(viewer)]


def page(
    request: Request, template: str, party: Party | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """`template` rendered in the dashboard's frame, for `party` (None on the sign-in pages)."""
    return templates().TemplateResponse(
        request,
        template,
        {
            "party": party,
            "roles": [r.lower().replace("_", " ") for r in role_names(party.roles)] if party else [],
            **context,
        },
        status_code=status_code,
    )


def names(session: SessionDep) -> dict[str, str]:
    """Every registered party's legal name by address: the pages name firms, not addresses."""
    return {
        address: name
        for address, name in session.execute(select(Participant.address, Participant.legal_name))
    }


def field_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """A form's refused fields, each with the reason, as the page lists them."""
    return [(".".join(str(p) for p in e["loc"]) or "query", e["msg"]) for e in exc.errors()]


def sign_in_redirect(request: Request) -> str:
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{PREFIX}/sign-in?next={quote(wanted, safe='')}"


def error_page(request: Request, exc: ApiError) -> HTMLResponse:
    """An API refusal (unknown record, bad filter, node down) as a page: the field and the reason."""
    return page(
        request,
        "error.html",
        None,
        status_code=exc.status,
        error=exc,
        field=" → ".join(str(p) for p in exc.loc[1:]) or None,
        now=datetime.now(UTC),
    )
