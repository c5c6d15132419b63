"""The error answers of each operation, in the OpenAPI document.

Every error has FastAPI's validation-error shape (`{"detail": [{"loc", "msg", "type"}]}`, see errors.py), so
each is documented with that schema. Which errors an operation can give follows from how it is served, not
from each handler: a signed-in operation (one with a bearer token in the document) can refuse the token
(401) or the party (403) and asks the chain who the party is (503 when the node is down); an id in the path
can name nothing (404); any POST can meet what is recorded already or a reused Idempotency-Key (409).
"""

from typing import Any

from fastapi import FastAPI

ERRORS = {
    401: "Not signed in, or the access token is unknown, expired or revoked (WWW-Authenticate: Bearer)",
    403: "The signed-in party may not do this: it is suspended, or lacks the role or the standing",
    404: "The path names nothing the ledger holds",
    409: "Conflicts with what is recorded (a used nonce, a state reached already) or with an earlier request "
    "under the same Idempotency-Key",
    503: "The chain node is unavailable; nothing was recorded, try again after Retry-After seconds",
}
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}


def _errors_of(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    codes = [401, 403, 503] if operation.get("security") else []
    if "{" in path:
        codes.append(404)
    if method == "post":
        codes.append(409)
    return sorted(codes)


def document_errors(app: FastAPI) -> None:
    """Adds to `app`'s OpenAPI document the error answers its operations can give (a handler's own, more
    specific description of one is kept), each with the error schema."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                responses = operation["responses"]
                for code in _errors_of(path, method, operation):
                    responses.setdefault(str(code), {"description": ERRORS[code]})
                for code, answer in responses.items():
                    if code[0] in "45":
                        answer.setdefault("content", _ERROR_CONTENT)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
