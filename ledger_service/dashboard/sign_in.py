"""Signing in to the dashboard with the party's own key, two ways:

- a login link: `symledger login-link -k KEYSTORE` signs a sign-in challenge (EIP-4361) with the key where it
  lives and prints this page's address with the signed challenge in it. The page asks the person to confirm
  with a button, so a link previewer fetching the address signs nobody in; the challenge is usable once and
  expires within minutes, so a copy of the link in a log is worth nothing;
- a browser wallet: the page's script asks the service for a challenge, the wallet signs it
  (personal_sign, as EIP-4361 prescribes) and posts it here.

Either way the service checks the signature exactly as POST /auth/token does and keeps the access token in an
HttpOnly, SameSite=Strict cookie, which the API accepts for reads only (ledger_service.api.deps).
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from siwe import SiweMessage

from ledger_service.api.deps import SESSION_COOKIE, RuntimeDep, SessionDep
from ledger_service.api.errors import ApiError
from ledger_service.api.routes.auth import redeem
from ledger_service.dashboard.web import PREFIX, page
from ledger_service.signin import revoke_token

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _next(target: str | None) -> str:
    # Only back into the dashboard: an open redirect would lend the ledger's address to a phishing link.
    if target and target.startswith(PREFIX + "/") and not target.startswith("//"):
        return target
    return PREFIX + "/"


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, next: str | None = None) -> HTMLResponse:
    return page(request, "sign_in.html", None, next=_next(next))


@router.get("/sign-in/link", response_class=HTMLResponse)
def login_link(
    request: Request, message: str = "", signature: str = "", next: str | None = None
) -> HTMLResponse:
    """The page a login link opens: whom it signs in, and a button to do it."""
    try:
        parsed = SiweMessage.from_message(message)
    except ValueError:
        return page(
            request,
            "sign_in.html",
            None,
            status_code=400,
            next=_next(next),
            refused=(
                "message",
                "the link holds no sign-in message: ask `symledger login-link` for a new one",
            ),
        )
    return page(
        request,
        "sign_in_link.html",
        None,
        message=message,
        signature=signature,
        address=parsed.address,
        expires=parsed.expiration_time,
        next=_next(next),
    )


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    message: Annotated[str, Form()],
    signature: Annotated[str, Form()],
    next: Annotated[str | None, Form()] = None,
) -> Response:
    """Redeems a signed challenge for an access token kept in the session cookie."""
    try:
        # A form posts its line breaks as CRLF (HTML's form encoding); the message was signed with LF.
        issued = redeem(runtime, session, message.replace("\r\n", "\n"), signature)
    except ApiError as refused:
        session.rollback()
        return page(
            request,
            "sign_in.html",
            None,
            status_code=refused.status,
            next=_next(next),
            refused=(str(refused.loc[-1]), refused.msg),
        )
    settings = runtime.settings
    answer = RedirectResponse(_next(next), status_code=303)
    answer.set_cookie(
        SESSION_COOKIE,
        issued.token,
        max_age=settings.access_token_seconds,
        httponly=True,
        samesite="strict",
        secure=settings.resolved_public_url.startswith("https://"),
        path="/",
    )
    return answer


@router.post("/sign-out")
def sign_out(request: Request, session: SessionDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        revoke_token(session, token, datetime.now(UTC))
        session.commit()
    answer = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
    answer.delete_cookie(SESSION_COOKIE, path="/")
    return answer
