"""Uploads, reads and the audit log on the database; callers say who is acting (`uploader`, `reader`).

Who may read a document follows from chain records that cite its hash: the parties of a transfer
whose dispatch cites it, the generator of a lot whose generation record it is, the lab and the lot's
holder for a certificate's document or results, plus whoever uploaded it and any active regulator.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from ledger_service.db.models import (
    Certificate,
    Document,
    DocumentAuditEntry,
    DocumentRequestNonce,
    DocumentUploader,
    Lot,
    Participant,
    Transfer,
)
from ledger_service.documents import requests
from ledger_service.roles import Role

# The audit log's actions.
UPLOAD, DOWNLOAD, DENIED, INTEGRITY_FAILURE = "upload", "download", "denied", "integrity_failure"
AUDIT_ACTIONS = (UPLOAD, DOWNLOAD, DENIED, INTEGRITY_FAILURE)
ACTIVE = "active"


@dataclass(frozen=True)
class SignedRequest:
    """A request as the party claims it: checked by `authenticate`, not before."""

    party: str
    issued_at: int
    nonce: str
    signature: bytes


class RequestRefused(Exception):
    def __init__(self, kind: str, message: str, header: str) -> None:
        super().__init__(message)
        self.kind, self.header = kind, header


@dataclass(frozen=True)
class Deployment:
    """What a signed request is bound to, so that it is good for one deployment only."""

    chain_id: int
    ledger: str


def authenticate(
    session: Session,
    claim: SignedRequest,
    action: str,
    document: str,
    deployment: Deployment,
    ttl_seconds: int,
    skew_seconds: int,
    now: int,
) -> str:
    """The party that signed this request for `action` on `document`, once its nonce is spent.

    Refused when the signature is not the claimed party's over exactly this request, when it was signed
    more than `ttl_seconds` ago (or is dated in the future beyond clock skew), or when its nonce was
    used before. The nonce is spent in `session`: it sticks only if the caller commits.
    """
    if claim.issued_at > now + skew_seconds:
        raise RequestRefused(
            "request_from_the_future",
            f"the request is dated {claim.issued_at - now} s in the future; check the clock",
            requests.ISSUED_AT_HEADER,
        )
    if claim.issued_at < now - ttl_seconds:
        raise RequestRefused(
            "request_expired",
            f"the request was signed {now - claim.issued_at} s ago; requests are valid for {ttl_seconds} s, "
            "sign a new one",
            requests.ISSUED_AT_HEADER,
        )
    payload = requests.typed_data(
        deployment.chain_id, deployment.ledger, action, document, claim.party, claim.issued_at, claim.nonce
    )
    signer = requests.recover(payload, claim.signature)
    if signer is None or signer.lower() != claim.party.lower():
        raise RequestRefused(
            "invalid_request_signature",
            f"the signature is not {claim.party}'s signature of a {action} request for {document}"
            + (f" (it was signed by {signer})" if signer else " (it is not a valid signature)"),
            requests.SIGNATURE_HEADER,
        )
    session.execute(delete(DocumentRequestNonce).where(DocumentRequestNonce.expires_at < now))
    if session.get(DocumentRequestNonce, (claim.party, claim.nonce)) is not None:
        raise RequestRefused(
            "request_replayed",
            "this signed request was used already (a replay?); sign a new one with a fresh nonce",
            requests.NONCE_HEADER,
        )
    session.add(
        DocumentRequestNonce(
            party=claim.party, nonce=claim.nonce, expires_at=claim.issued_at + ttl_seconds + skew_seconds
        )
    )
    session.flush()  # a concurrent replay of the same nonce fails here, on the primary key
    return claim.party


def active_participant(session: Session, address: str) -> Participant | None:
    participant = session.get(Participant, address)
    return participant if participant is not None and participant.status == ACTIVE else None


def is_active_regulator(session: Session, address: str) -> bool:
    participant = active_participant(session, address)
    return participant is not None and bool(participant.roles & Role.REGULATOR.bit)


def standing(session: Session, reader: str, sha256: str) -> str | None:
    """Why `reader` may read the document of hash `sha256` ("uploader", "receiver of transfer 0x..."),
    or None if nothing entitles it to."""
    if session.get(DocumentUploader, (sha256, reader)) is not None:
        return "uploader"
    if is_active_regulator(session, reader):
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
