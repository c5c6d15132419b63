"""Certificates of analysis: issued by an accredited lab for one lot, revocable by that lab or a regulator."""

from fastapi import APIRouter, Response, status

from ledger_service.access import certificates_visible_to, visible
from ledger_service.api.deps import SIGNED_IN, CurrentParty, RuntimeDep, SessionDep
from ledger_service.api.errors import ApiError
from ledger_service.api.schemas import (
    Bytes32,
    CertificateOut,
    CertificateRevocationTerms,
    CertificateTerms,
    PreparedStatement,
    SignedCertificate,
    SignedCertificateRevocation,
    Submission,
)
from ledger_service.api.signing import ACCEPTED, prepare, record, require_role
from ledger_service.api.views import certificate_out
from ledger_service.db.models import Certificate, Lot, Permit
from ledger_service.roles import PermitKind, Role
from ledger_service.statements import ISSUE_CERTIFICATE, REVOKE_CERTIFICATE

router = APIRouter(prefix="/certificates", tags=["certificates"], dependencies=SIGNED_IN)


@router.post("/prepare", operation_id="prepare_certificate")
def prepare_certificate(
    terms: CertificateTerms, runtime: RuntimeDep, session: SessionDep
) -> PreparedStatement:
    """The IssueCertificate statement a lab signs to certify a lot."""
    fields = {
        "lab": terms.lab,
        "lotId": terms.lot_id,
        "accreditationId": terms.accreditation_id,
        "documentHash": terms.document_hash,
        "resultsHash": terms.results_hash,
        "validUntil": int(terms.valid_until.timestamp()),
    }
    require_role(runtime, ISSUE_CERTIFICATE, fields, terms.lab, Role.LAB)
    if session.get(Lot, terms.lot_id) is None:
        raise ApiError(422, "unknown_lot", f"no lot {terms.lot_id} is recorded", ["body", "lot_id"])
    accreditation = session.get(Permit, terms.accreditation_id)
    if (
        accreditation is None
        or accreditation.kind != PermitKind.LAB_ACCREDITATION
        or accreditation.holder != terms.lab
    ):
        raise ApiError(
            422,
            "not_accredited",
            f"{terms.accreditation_id} is not a lab accreditation of {terms.lab}",
            ["body", "accreditation_id"],
        )
    return prepare(runtime, session, ISSUE_CERTIFICATE, fields, terms)


@router.post("", operation_id="issue_certificate", status_code=status.HTTP_201_CREATED, responses=ACCEPTED)
def issue_certificate(
    body: SignedCertificate, runtime: RuntimeDep, session: SessionDep, response: Response
) -> CertificateOut | Submission:
    """Records a lab's signed certificate; its id is the statement's EIP-712 digest."""
    return record(
        runtime,
        session,
        ISSUE_CERTIFICATE,
        body,
        response,
        lambda p: certificate_out(session, _get(session, p.digest)),
    )


@router.post("/{certificate_id}/revocation/prepare", operation_id="prepare_certificate_revocation")
def prepare_revocation(
    certificate_id: Bytes32, terms: CertificateRevocationTerms, runtime: RuntimeDep, session: SessionDep
) -> PreparedStatement:
    """The RevokeCertificate statement the issuing lab, or an active regulator, signs (naming itself as `lab`)."""
    certificate = _get(session, certificate_id)
    fields = {
        "lab": terms.lab,
        "certificateId": certificate_id,
        "lotId": certificate.lot_id,
        "reason": terms.reason,
    }
    if terms.lab != certificate.lab:
        require_role(runtime, REVOKE_CERTIFICATE, fields, terms.lab, Role.REGULATOR)
    return prepare(runtime, session, REVOKE_CERTIFICATE, fields, terms)


@router.post("/{certificate_id}/revocation", operation_id="revoke_certificate", responses=ACCEPTED)
def revoke_certificate(
    certificate_id: Bytes32,
    body: SignedCertificateRevocation,
    runtime: RuntimeDep,
    session: SessionDep,
    response: Response,
) -> CertificateOut | Submission:
    """Records the signed revocation of the issuing lab or of a regulator."""
    if body.message.certificateId != certificate_id:
        raise ApiError(
            422,
            "path_mismatch",
            f"message names certificate {body.message.certificateId}, not {certificate_id}",
            ["body", "message", "certificateId"],
        )
    return record(
        runtime,
        session,
        REVOKE_CERTIFICATE,
        body,
        response,
        lambda _p: certificate_out(session, _get(session, certificate_id)),
    )


@router.get("/{certificate_id}", operation_id="get_certificate")
def get_certificate(certificate_id: Bytes32, session: SessionDep, party: CurrentParty) -> CertificateOut:
    """A certificate with its lot, lab, validity, revocation and evidence (if the caller may see it)."""
    certificate = _get(session, certificate_id)
    if not visible(session, Certificate.id == certificate_id, certificates_visible_to(party)):
        raise ApiError(
            404,
            "unknown_certificate",
            f"no certificate {certificate_id} is recorded",
            ["path", "certificate_id"],
        )
    return certificate_out(session, certificate)


def _get(session: SessionDep, certificate_id: str) -> Certificate:
    certificate = session.get(Certificate, certificate_id)
    if certificate is None:
        raise ApiError(
            404,
            "unknown_certificate",
            f"no certificate {certificate_id} is recorded",
            ["path", "certificate_id"],
        )
    return certificate
