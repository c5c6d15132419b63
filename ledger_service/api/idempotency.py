"""Idempotency keys: a client that retries a POST with the same `Idempotency-Key` gets the first answer again.

Signed statements are idempotent already (the outbox keys them by their EIP-712 digest); the header makes
every other POST safe to retry too — a webhook subscription, a sign-in challenge, a batch whose answer was
lost. Keys are scoped to the caller (its bearer token, or none), kept for `idempotency_ttl_seconds`. The
same key with another request is refused (409), as is a retry while the first request is still running.
A 5xx answer is not kept, so a retry after an outage runs again. Multipart uploads are left alone: they
are large, and documents are stored by their content's hash anyway.
"""

import hashlib
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import Headers
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ledger_service.db.models import IdempotentRequest

HEADER = "Idempotency-Key"
_VALID_KEY = re.compile(r"[\x21-\x7e]{1,200}")


class IdempotencyMiddleware:
    """Only a keyed POST goes through `_KeyedRequests`; every other request reaches the app untouched, so
    that a streamed answer (an export) that fails half-way fails for its client too: Starlette's
    BaseHTTPMiddleware would end such a stream as if it were whole."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.keyed = _KeyedRequests(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            headers = Headers(scope=scope)
            if HEADER in headers and not headers.get("content-type", "").startswith("multipart/"):
                await self.keyed(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _KeyedRequests(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        key = request.headers[HEADER]
        if not _VALID_KEY.fullmatch(key):
            return _error(422, "invalid_idempotency_key", "1 to 200 printable ASCII characters, no spaces")
        runtime = request.app.state.runtime
        body = await request.body()
        scope = hashlib.sha256(request.headers.get("authorization", "").encode()).hexdigest()
        fingerprint = hashlib.sha256(
            b"\n".join([request.method.encode(), request.url.path.encode(), request.url.query.encode(), body])
        ).hexdigest()
        now = datetime.now(UTC)
        ttl = timedelta(seconds=runtime.settings.idempotency_ttl_seconds)

        with runtime.sessions() as session:
            session.execute(delete(IdempotentRequest).where(IdempotentRequest.created_at < now - ttl))
            earlier = session.get(IdempotentRequest, (scope, key))
            if earlier is not None:
                return _replay(earlier, fingerprint)
            session.add(IdempotentRequest(scope=scope, key=key, fingerprint=fingerprint, created_at=now))
            try:
                session.commit()
            except IntegrityError:
                # Another request with this key was admitted between our read and our insert.
                return _error(409, "idempotency_key_in_progress", "a request with this key is still running")

        response = await call_next(request)
        content = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
        with runtime.sessions() as session:
            row = session.get(IdempotentRequest, (scope, key))
            if row is not None:
                if response.status_code >= 500:
                    session.delete(row)
                else:
                    row.status_code = response.status_code
                    row.media_type = response.headers.get("content-type")
                    row.body = content
                session.commit()
        return Response(content, response.status_code, headers=dict(response.headers))


def _replay(earlier: IdempotentRequest, fingerprint: str) -> Response:
    if earlier.fingerprint != fingerprint:
        return _error(409, "idempotency_key_reused", "this key was used for another request; use a new key")
    if earlier.status_code is None:
        return _error(409, "idempotency_key_in_progress", "a request with this key is still running")
    headers = {"Idempotent-Replayed": "true"}
    if earlier.media_type:
        headers["content-type"] = earlier.media_type
    return Response(earlier.body or b"", earlier.status_code, headers=headers)


def _error(status: int, type_: str, msg: str) -> Response:
    headers = {"Retry-After": "1"} if type_ == "idempotency_key_in_progress" else None
    return JSONResponse({"detail": [{"loc": ["header", HEADER], "msg": msg, "type": type_}]}, status, headers)
