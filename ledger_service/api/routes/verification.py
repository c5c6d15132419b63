"""Verification: the deployed contracts against their source (docs/verification.md), and the records — a
lot's lineage, a transfer, a firm or a park over a period — judged against a rule pack (compliance) on the
read model (ledger_service.casefiles).

A records' answer is the pack's report: every rule with its verdict and the findings it rests on, each citing
the chain events it read. JSON by default; `format=html` (or `Accept: text/html`) gives a page a person
reads, `format=pdf` (or `Accept: application/pdf`) the same content as a PDF.

Who may verify what follows ledger_service.access: a regulator anything, a park operator its park and
its park's firms and records, a firm itself and the records it may see; anything else answers 404 as if
unknown. In a lot's lineage, the findings about records the caller may not see tell their verdict only.
"""

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance import packs
from ledger_service import rendering
from ledger_service.api.deps import SIGNED_IN, CurrentParty, Party, RuntimeDep, SessionDep
from ledger_service.api.errors import ApiError
from ledger_service.api.routes.documents import Store
from ledger_service.api.routes.lots import visible_lot
from ledger_service.api.routes.transfers import visible_transfer
from ledger_service.api.schemas import (
    Address,
    Bytes32,
    ContractsVerification,
    ContractVerificationOut,
    Moment,
    ParkName,
    VerificationReport,
)
from ledger_service.api.views import verification_out
from ledger_service.casefiles import (
    Case,
    LineageTooLarge,
    evaluate,
    firm_case,
    hidden_from,
    lot_case,
    park_case,
    transfer_case,
    with_documents_checked,
    with_results,
)
from ledger_service.db.models import Lot, Participant
from ledger_service.documents.store import DocumentStore
from ledger_service.integrity import integrity
from ledger_service.roles import Role
from ledger_service.runtime import Runtime
from ledger_service.search import Period, period
from ledger_service.verification.bytecode import SourceError, compile_tree, verify_deployment

router = APIRouter(prefix="/verification", tags=["verification"], dependencies=SIGNED_IN)


@router.get("/contracts", operation_id="verify_contracts")
def verify_contracts(runtime: RuntimeDep) -> ContractsVerification:
    """Each deployed contract's runtime code against the source tree the service was given, compiled with
    the pinned compiler and settings (once per service process: the first call takes tens of seconds)."""
    try:
        compilation = compile_tree(runtime.settings.contract_sources)
    except SourceError as exc:
        raise ApiError(503, "sources_unavailable", str(exc)) from exc
    results = verify_deployment(runtime.gateway, runtime.deployment, compilation)
    return ContractsVerification(
        verified=all(r.verified for r in results),
        contracts=[ContractVerificationOut(**asdict(r)) for r in results],
    )


# --- records against a rule pack -------------------------------------------------------------------------

PackId = Literal[tuple(packs.available())]  # type: ignore[valid-type]
Format = Literal["json", "html", "pdf"]
RENDERED = {
    200: {
        "description": "The report: JSON, an HTML page (format=html) or a PDF (format=pdf)",
        "content": {"text/html": {}, "application/pdf": {}},
    }
}


@dataclass(frozen=True)
class Options:
    pack: packs.Pack
    format: str
    evaluation_date: datetime | None
    runtime: Runtime
    store: DocumentStore


def options(
    request: Request,
    runtime: RuntimeDep,
    store: Store,
    pack: Annotated[
        PackId | None,
        Query(description="The rule pack (default: the deployment's, SYMLEDGER_COMPLIANCE_PACK)"),
    ] = None,
    format_: Annotated[
        Format | None, Query(alias="format", description="Default: from the Accept header, else json")
    ] = None,
    at: Annotated[
        datetime | None,
        Query(description="The evaluation date deadlines are judged at (default: now); UTC unless it says"),
    ] = None,
) -> Options:
    settings = runtime.settings
    pack_id = pack or settings.compliance_pack
    try:
        loaded = packs.load(pack_id, settings.compliance_overrides.get(pack_id.upper()))
    except packs.PackError as exc:  # the deployment's own settings name a pack or override wrongly
        raise ApiError(500, "rule_pack_misconfigured", str(exc), ["query", "pack"]) from exc
    accept = request.headers.get("accept", "")
    negotiated = "html" if "text/html" in accept else "pdf" if "application/pdf" in accept else "json"
    when = at if at is None or at.tzinfo else at.replace(tzinfo=UTC)
    return Options(loaded, format_ or negotiated, when, runtime, store)


def verification_period(
    start: Annotated[
        Moment | None, Query(alias="from", description="Records from this date or date-time on")
    ] = None,
    until: Annotated[
        Moment | None, Query(description="Records up to this date (inclusive) or date-time")
    ] = None,
) -> tuple[Period, str]:
    """The period and its words for the report's subject."""
    words = [f"{name} {moment.isoformat()}" for name, moment in (("from", start), ("until", until)) if moment]
    return period(start, until, ("from", "until")), " ".join(words) or "(all records)"


OptionsDep = Annotated[Options, Depends(options)]
PeriodDep = Annotated[tuple[Period, str], Depends(verification_period)]


@router.get(
    "/lots/{lot_id}", operation_id="verify_lot", response_model=VerificationReport, responses=RENDERED
)
def verify_lot(lot_id: Bytes32, session: SessionDep, party: CurrentParty, how: OptionsDep) -> Response:
    """A lot and its whole lineage (upstream to the generated lots, downstream to the final uses)."""
    case = case_of_lot(session, visible_lot(session, party, lot_id), how)
    return _answer(session, party, case, how, f"lot-{lot_id}")


def case_of_lot(session: Session, lot: Lot, how: Options) -> Case:
    """The lot's lineage as a case file; 422 when it is beyond the deployment's bound."""
    try:
        return lot_case(session, lot, how.runtime.settings.verification_max_records, how.evaluation_date)
    except LineageTooLarge as exc:
        raise ApiError(
            422,
            "lineage_too_large",
            f"{exc}: verify its transfers, or its firms or park over a period, instead",
            ["path", "lot_id"],
        ) from exc


@router.get(
    "/transfers/{transfer_id}",
    operation_id="verify_transfer",
    response_model=VerificationReport,
    responses=RENDERED,
)
def verify_transfer(
    transfer_id: Bytes32, session: SessionDep, party: CurrentParty, how: OptionsDep
) -> Response:
    """A transfer (with the return of what its receiver refused), its lots, permits, parties and
    certificates."""
    transfer = visible_transfer(session, party, transfer_id)
    return _answer(
        session, party, transfer_case(session, transfer, how.evaluation_date), how, f"transfer-{transfer_id}"
    )


@router.get(
    "/firms/{address}", operation_id="verify_firm", response_model=VerificationReport, responses=RENDERED
)
def verify_firm(
    address: Address, session: SessionDep, party: CurrentParty, how: OptionsDep, when: PeriodDep
) -> Response:
    """A firm's transfers (by dispatch date), the lots it opened and the processings it recorded in the
    period, with the lots of its own they took from."""
    firm = visible_firm(session, party, address, ["path", "address"])
    case = firm_case(session, firm, when[0], when[1], how.evaluation_date)
    return _answer(session, party, case, how, f"firm-{address}")


@router.get(
    "/parks/{park}", operation_id="verify_park", response_model=VerificationReport, responses=RENDERED
)
def verify_park(
    park: ParkName, session: SessionDep, party: CurrentParty, how: OptionsDep, when: PeriodDep
) -> Response:
    """A park's records in the period: those its park operator sees (its firms' transfers, lots and
    processings)."""
    visible_park(session, party, park, ["path", "park"])
    case = park_case(session, park, when[0], when[1], how.evaluation_date)
    return _answer(session, party, case, how, "park")


def visible_park(session: Session, party: Party, park: str, loc: list[str]) -> None:
    """Refuses, as if the park were unknown, anyone but a regulator and the park's own operator."""
    known = session.scalar(select(Participant.address).where(Participant.park == park).limit(1))
    if known is None or not (
        party.has(Role.REGULATOR) or (party.has(Role.PARK_OPERATOR) and party.park == park)
    ):
        raise ApiError(404, "unknown_park", f"no participant is registered in park {park!r}", loc)


def visible_firm(session: Session, party: Party, address: str, loc: list[str]) -> Participant:
    """The firm, to a party who may see its records; as if unknown to anyone else."""
    firm = session.get(Participant, address)
    if firm is None or not sees_firm(party, firm):
        raise ApiError(404, "unknown_participant", f"no participant {address} is registered", loc)
    return firm


def sees_firm(party: Party, firm: Participant) -> bool:
    return (
        party.has(Role.REGULATOR)
        or party.address == firm.address
        or (party.has(Role.PARK_OPERATOR) and party.park == firm.park)
    )


def judged(
    session: Session, party: Party, case: Case, how: Options, *, checked: bool = True
) -> VerificationReport:
    """The case judged by the pack, as `party` may read it; with the integrity checks unless not `checked`
    (the dashboard's lineage colours need the verdicts only)."""
    case = with_results(case, how.store.read)
    checked_case, unreadable = with_documents_checked(case, how.store.read)
    checks = integrity(how.runtime, case.file, unreadable) if checked else []
    # The differences name records; a regulator reads them, others their summary (records may be others').
    return verification_out(
        evaluate(checked_case, how.pack),
        hidden_from(session, party, case),
        checks,
        party.has(Role.REGULATOR),
    )


def _answer(session: SessionDep, party: Party, case: Case, how: Options, name: str) -> Response:
    report = judged(session, party, case, how)
    headers = {"X-Verdict": report.verdict}
    if how.format == "html":
        return HTMLResponse(rendering.html(report), headers=headers)
    if how.format == "pdf":
        headers["Content-Disposition"] = f'inline; filename="verification-{name}.pdf"'
        return Response(rendering.pdf(report), media_type="application/pdf", headers=headers)
    return JSONResponse(report.model_dump(mode="json"), headers=headers)
