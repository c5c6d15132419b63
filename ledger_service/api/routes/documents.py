"""Documents: uploaded by a participant, kept encrypted, read by the parties the chain ties to them.

The uploader and the reader are the signed-in party (the bearer token every endpoint takes), never a claim
in a header or a form field.
"""

import logging
import re
import threading
import uuid
from typing import Annotated, Any

import python_multipart
from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from pydantic import BaseModel
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from ledger_service.api.deps import SIGNED_IN, CurrentParty, RuntimeDep, SessionDep
from ledger_service.api.errors import ApiError
from ledger_service.api.schemas import Address, Bytes32, Utc
from ledger_service.db.models import Document, DocumentAuditEntry
from ledger_service.documents import media, service
from ledger_service.documents.crypto import DocumentUnreadable
from ledger_service.documents.store import DocumentStore, Incoming, TooLarge
from ledger_service.roles import Role
from ledger_service.runtime import Runtime

log = logging.getLogger(__name__)

router = APIRouter(prefix="/documents", tags=["documents"], dependencies=SIGNED_IN)

FILE_FIELD = "file"
# Room for the boundaries and part headers around the file in a multipart body.
MULTIPART_OVERHEAD = 64 * 1024
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class DocumentOut(BaseModel):
    sha256: str
    size: int
    media_type: str


class AuditEntryOut(BaseModel):
    id: int
    at: Utc
    party: str
    sha256: str
    action: str
    request_id: str
    detail: str | None


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    total: int
    offset: int
    limit: int


def request_id(x_request_id: Annotated[str | None, Header()] = None) -> str:
    """The client's request id if it gave a usable one, else a new one; it names the audit entries."""
    return x_request_id if x_request_id and REQUEST_ID.match(x_request_id) else uuid.uuid4().hex


RequestId = Annotated[str, Depends(request_id)]


_store_lock = threading.Lock()


def document_store(request: Request, runtime: RuntimeDep) -> DocumentStore:
    """The app's document store, opened (and its master key made, on first run) at first use."""
    with _store_lock:
        store: DocumentStore | None = getattr(request.app.state, "document_store", None)
        if store is None:
            store = request.app.state.document_store = DocumentStore.open(runtime.settings)
        return store


Store = Annotated[DocumentStore, Depends(document_store)]


# --- upload -------------------------------------------------------------------------------------

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILE_FIELD],
                    "properties": {
                        FILE_FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": "A PDF, PNG or JPEG file, or a JSON document",
                        }
                    },
                    "examples": [{FILE_FIELD: "(the bytes of weighbridge-ticket.pdf)"}],
                }
            }
        },
    }
}


@router.post(
    "",
    operation_id="upload_document",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=UPLOAD_BODY,
    responses={
        413: {"description": "The file is larger than the limit"},
        415: {"description": "The file is not a PDF, PNG, JPEG or JSON document"},
    },
)
async def upload_document(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    store: Store,
    uploader: CurrentParty,
    session: SessionDep,
    request_id: RequestId,
) -> DocumentOut:
    """Stores a document encrypted, uploaded by the signed-in participant; answers with the SHA-256 to
    cite in signed statements."""
    limit = runtime.settings.document_max_bytes
    boundary = _boundary(request, request_id)
    declared_length = request.headers.get("content-length", "")
    if declared_length.isdigit() and int(declared_length) > limit + MULTIPART_OVERHEAD:
        raise _too_large(limit, request_id)
    # The file may take minutes to arrive: the sign-in's database connection is not held meanwhile.
    await run_in_threadpool(session.close)
    incoming = store.receive(limit)
    try:
        body = _MultipartFile(boundary, incoming, limit, request_id)
        try:
            async for chunk in request.stream():
                await run_in_threadpool(body.feed, chunk)
        except ClientDisconnect:
            raise ApiError(400, "incomplete_body", "the client went away before the file was sent") from None
        body.close()
        if incoming.size == 0:
            raise _field_error(422, "empty_file", "the file is empty", request_id)
        sha256 = incoming.finish()
        try:
            media_type = body.sniffer.result(body.declared)
        except media.Refused as refused:
            raise _field_error(415, "unsupported_media_type", str(refused), request_id) from None
        document = await run_in_threadpool(
            _record_upload, runtime, store, incoming, uploader.address, sha256, media_type, request_id
        )
    except BaseException:
        incoming.discard()
        raise
    response.headers["X-Request-ID"] = request_id
    return DocumentOut(sha256=document.sha256, size=document.size, media_type=document.media_type)


def _boundary(request: Request, request_id: str) -> bytes:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send the document as multipart/form-data with a `{FILE_FIELD}` field",
            ["header", "content-type"],
            {"X-Request-ID": request_id},
        )
    return options[b"boundary"]


def _record_upload(
    runtime: Runtime,
    store: DocumentStore,
    incoming: Incoming,
    uploader: str,
    sha256: str,
    media_type: str,
    request_id: str,
) -> Document:
    with runtime.sessions() as session:
        created = incoming.commit()
        try:
            document = service.record_upload(session, uploader, sha256, incoming.size, media_type, request_id)
            session.commit()
        except BaseException:
            session.rollback()
            # A failed upload leaves no blob behind, unless a concurrent upload of the same file recorded it.
            if created and session.get(Document, sha256) is None:
                store.remove(sha256)
            raise
        return document


class _MultipartFile:
    """A multipart/form-data body whose one field is the file, encrypted into the store as it arrives:
    neither the whole file nor its plaintext on disk is ever held."""

    def __init__(self, boundary: bytes, incoming: Incoming, limit: int, request_id: str) -> None:
        self._incoming, self._limit, self._request_id = incoming, limit, request_id
        self._received = 0
        self._header_name = self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._in_file = self._seen_file = False
        self.declared: str | None = None
        self.sniffer = media.Sniffer()
        try:
            self._parser = python_multipart.MultipartParser(
                boundary,
                {
                    "on_part_begin": self._part_begin,
                    "on_header_field": self._header_field,
                    "on_header_value": self._header_value_data,
                    "on_header_end": self._header_end,
                    "on_headers_finished": self._headers_finished,
                    "on_part_data": self._part_data,
                    "on_part_end": self._part_end,
                },
            )
        except FormParserError as exc:
            raise self._malformed(exc) from None

    def feed(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._received > self._limit + MULTIPART_OVERHEAD:
            raise _too_large(self._limit, self._request_id)
        try:
            self._parser.write(chunk)
        except FormParserError as exc:
            raise self._malformed(exc) from None

    def close(self) -> None:
        try:
            self._parser.finalize()
        except FormParserError as exc:
            raise self._malformed(exc) from None
        if not self._seen_file:
            raise _field_error(422, "missing", f"field `{FILE_FIELD}` is required", self._request_id)

    def _malformed(self, exc: Exception) -> ApiError:
        return ApiError(
            422, "malformed_multipart", f"the multipart body is malformed: {exc}", ["body"], self._headers_out
        )

    @property
    def _headers_out(self) -> dict[str, str]:
        return {"X-Request-ID": self._request_id}

    def _part_begin(self) -> None:
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("latin-1")
        if name != FILE_FIELD:
            raise ApiError(
                422,
                "unexpected_field",
                f"unexpected field {name!r}: send the document alone, in field `{FILE_FIELD}`",
                ["body", name],
                self._headers_out,
            )
        if self._seen_file:
            raise _field_error(422, "one_file_only", "upload one document per request", self._request_id)
        declared, _ = parse_options_header(self._headers.get(b"content-type", b""))
        self.declared = declared.decode("latin-1").lower() or None
        self._in_file = self._seen_file = True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        try:
            self._incoming.write(chunk)
        except TooLarge:
            raise _too_large(self._limit, self._request_id) from None
        try:
            self.sniffer.feed(chunk)
        except media.Refused as refused:
            raise _field_error(415, "unsupported_media_type", str(refused), self._request_id) from None

    def _part_end(self) -> None:
        self._in_file = False


def _too_large(limit: int, request_id: str) -> ApiError:
    return _field_error(
        413, "document_too_large", f"the file is larger than the limit of {limit} bytes", request_id
    )


def _field_error(status_code: int, type_: str, msg: str, request_id: str) -> ApiError:
    return ApiError(status_code, type_, msg, ["body", FILE_FIELD], {"X-Request-ID": request_id})


# --- the audit log ------------------------------------------------------------------------------


@router.get(
    "/audit",
    operation_id="list_document_audit",
    responses={403: {"description": "The signed-in party is not a regulator"}},
)
def list_document_audit(
    session: SessionDep,
    reader: CurrentParty,
    request_id: RequestId,
    response: Response,
    sha256: Annotated[Bytes32 | None, Query(description="Only entries about this document")] = None,
    party: Annotated[Address | None, Query(description="Only entries of this party")] = None,
    action: Annotated[
        str | None,
        Query(pattern="^(" + "|".join(service.AUDIT_ACTIONS) + ")$", description="Only this action"),
    ] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AuditPage:
    """Who uploaded, read, was refused or hit a failed integrity check, oldest first. Regulators only."""
    if not reader.has(Role.REGULATOR):
        raise ApiError(
            403,
            "not_regulator",
            f"{reader.address} is not a regulator; only regulators read the document audit log",
            ["header", "Authorization"],
            {"X-Request-ID": request_id},
        )
    query = select(DocumentAuditEntry)
    if sha256 is not None:
        query = query.where(DocumentAuditEntry.sha256 == sha256)
    if party is not None:
        query = query.where(DocumentAuditEntry.party == party)
    if action is not None:
        query = query.where(DocumentAuditEntry.action == action)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(DocumentAuditEntry.id).offset(offset).limit(limit)).all()
    response.headers["X-Request-ID"] = request_id
    return AuditPage(
        items=[AuditEntryOut.model_validate(row, from_attributes=True) for row in rows],
        total=total,
        offset=offset,
        limit=limit,
    )


# --- download -----------------------------------------------------------------------------------


@router.get(
    "/{sha256}",
    operation_id="download_document",
    response_class=Response,
    responses={
        200: {
            "description": "The document, decrypted and checked against its SHA-256",
            "content": {media_type: {} for media_type in media.ACCEPTED},
        },
        403: {"description": "No chain record entitles the signed-in party to this document"},
        404: {"description": "No document with this hash was uploaded"},
        500: {"description": "The stored copy failed its integrity check and was not served"},
    },
)
def download_document(
    sha256: Bytes32,
    session: SessionDep,
    store: Store,
    party: CurrentParty,
    request_id: RequestId,
) -> Response:
    """The document, for its uploader, the parties of records citing it, and regulators.

    Every read, refused read and failed integrity check is written to the audit log.
    """
    headers = {"X-Request-ID": request_id}
    reader = party.address
    standing = service.standing(session, reader, sha256, regulator=party.has(Role.REGULATOR))
    if standing is None:
        service.audit(session, reader, sha256, service.DENIED, request_id)
        session.commit()
        raise ApiError(
            403,
            "document_access_denied",
            f"{reader} may not read document {sha256}: only its uploader, the parties of transfers, "
            "lots and certificates citing it, and regulators may",
            ["path", "sha256"],
            headers,
        )
    document = session.get(Document, sha256)
    if document is None:
        raise ApiError(
            404, "unknown_document", f"no document {sha256} was uploaded", ["path", "sha256"], headers
        )
    try:
        content = store.read(sha256)
    except DocumentUnreadable as failure:
        log.error("document %s failed its integrity check (request %s): %s", sha256, request_id, failure)
        service.audit(session, reader, sha256, service.INTEGRITY_FAILURE, request_id, str(failure))
        session.commit()
        raise ApiError(
            500,
            "integrity_failure",
            f"the stored copy of document {sha256} failed its integrity check and was not served "
            f"({failure}); the incident is logged (request {request_id})",
            ["path", "sha256"],
            headers,
        ) from None
    service.audit(session, reader, sha256, service.DOWNLOAD, request_id, f"as {standing}")
    session.commit()
    return Response(
        content,
        media_type=document.media_type,
        headers={
            **headers,
            "Content-Disposition": f'attachment; filename="{sha256[2:]}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
