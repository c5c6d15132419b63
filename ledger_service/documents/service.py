"""Uploads, reads and the audit log on the database; callers say who is acting (`uploader`, `reader`).

Who may read a document follows from chain records that cite its hash: the parties of a transfer
whose dispatch cites it, the generator of a lot whose generation record it is, the lab and the lot's
holder for a certificate's document or results, plus whoever uploaded it and any active regulator.
"""

from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ledger_service.db.models import (
    Certificate,
    Document,
    DocumentAuditEntry,
    DocumentUploader,
    Lot,
    Transfer,
)

# The audit log's actions.
UPLOAD, DOWNLOAD, DENIED, INTEGRITY_FAILURE = "upload", "download", "denied", "integrity_failure"
AUDIT_ACTIONS = (UPLOAD, DOWNLOAD, DENIED, INTEGRITY_FAILURE)


def standing(session: Session, reader: str, sha256: str, *, regulator: bool) -> str | None:
    """Why `reader` (a `regulator` or not, as the chain holds its roles now) may read the document of hash
    `sha256` ("uploader", "receiver of transfer 0x..."), or None if nothing entitles it to."""
    if session.get(DocumentUploader, (sha256, reader)) is not None:
        return "uploader"
    if regulator:
        return "regulator"
    for transfer in session.scalars(select(Transfer).where(Transfer.document_hash == sha256)):
        roles = {"shipper": [transfer.shipper], "receiver": [transfer.receiver]}
        roles["transporter"] = list(transfer.transporters or [])
        for role, parties in roles.items():
            if reader in parties:
                return f"{role} of transfer {transfer.id}"
    for lot in session.scalars(
        select(Lot).where(Lot.document_hash == sha256, Lot.origin == "generated", Lot.holder == reader)
    ):
        return f"generator of lot {lot.id}"
    certificates = session.scalars(
        select(Certificate).where(
            or_(Certificate.document_hash == sha256, Certificate.results_hash == sha256)
        )
    )
    for certificate in certificates:
        if certificate.lab == reader:
            return f"lab of certificate {certificate.id}"
        lot = session.get(Lot, certificate.lot_id)
        if lot is not None and lot.holder == reader:
            return f"holder of lot {lot.id}, certified by certificate {certificate.id}"
    return None


def record_upload(
    session: Session, uploader: str, sha256: str, size: int, media_type: str, request_id: str
) -> Document:
    now = datetime.now(UTC)
    document = session.get(Document, sha256)
    if document is None:
        document = Document(sha256=sha256, size=size, media_type=media_type, created_at=now)
        session.add(document)
    if session.get(DocumentUploader, (sha256, uploader)) is None:
        session.add(DocumentUploader(sha256=sha256, uploader=uploader, uploaded_at=now))
    audit(session, uploader, sha256, UPLOAD, request_id)
    return document


def audit(
    session: Session, party: str, sha256: str, action: str, request_id: str, detail: str | None = None
) -> None:
    assert action in AUDIT_ACTIONS, action
    session.add(
        DocumentAuditEntry(
            at=datetime.now(UTC),
            party=party,
            sha256=sha256,
            action=action,
            request_id=request_id,
            detail=detail,
        )
    )
