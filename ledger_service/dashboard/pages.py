"""The dashboard's record pages: home, search of transfers and lots, a lot with its lineage graph, a transfer,
and verification reports. Each page asks the same functions the API's routes do, with the viewer as the
caller, so it shows what that party may read through the API and nothing more.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance import packs
from compliance.verdicts import Verdict, worst
from ledger_service.api.deps import Party, RuntimeDep, SessionDep
from ledger_service.api.errors import ApiError
from ledger_service.api.routes import lots as lot_routes
from ledger_service.api.routes import transfers as transfer_routes
from ledger_service.api.routes.documents import Store
from ledger_service.api.routes.verification import (
    Options,
    case_of_lot,
    judged,
    sees_firm,
    verification_period,
    visible_firm,
    visible_park,
)
from ledger_service.api.schemas import LotQuery, Moment, TransferQuery, TransferStatus, VerificationReport
from ledger_service.casefiles import (
    Case,
    evaluate,
    firm_case,
    park_case,
    transfer_case,
    transfers_case,
    with_results,
)
from ledger_service.dashboard import drawings
from ledger_service.dashboard.web import PREFIX, Viewer, field_errors, names, page
from ledger_service.db.models import Participant
from ledger_service.lineage import lineage_graph
from ledger_service.roles import Role
from ledger_service.search import Period

router = APIRouter(prefix=PREFIX, include_in_schema=False)
LINEAGE_DEPTH, LINEAGE_NODES = 20, 300  # what one page draws legibly; the API gives more


def parks_seen(session: SessionDep, party: Party) -> list[str]:
    """The parks whose records the party may read as a whole: all to a regulator, its own to an operator."""
    if party.has(Role.REGULATOR):
        return list(session.scalars(select(Participant.park).distinct().order_by(Participant.park)))
    return [party.park] if party.has(Role.PARK_OPERATOR) and party.park else []


@dataclass(frozen=True)
class Reading:
    """A judged page asked for: by whom, with what it reads (the rule pack is the deployment's)."""

    request: Request
    party: Party
    session: Session
    how: Options

    def page(self, template: str, **context: Any) -> HTMLResponse:
        return page(self.request, template, self.party, names=names(self.session), **context)

    def transfer_verdicts(self, ids: list[str]) -> dict[str, str]:
        """Each transfer's worst verdict, judged as a page of the exports judges its transfers. A verdict
        resting on records the viewer may not see is told, as the API tells it, without its reasons."""
        if not ids:
            return {}
        case = with_results(transfers_case(self.session, ids, None), self.how.store.read)
        found: dict[str, list[Verdict]] = {}
        for rule in evaluate(case, self.how.pack).rules:
            for finding in rule.findings:
                found.setdefault(finding.subject, []).append(finding.verdict)
        return {i: worst(found.get(f"transfer {i}", [])).value for i in ids}

    def report(self, case: Case, api_path: str, **context: Any) -> HTMLResponse:
        """The case's verification report, with links to the API's PDF and JSON of the same report."""
        report = judged(self.session, self.party, case, self.how)
        return self.page("verification.html", report=report, api_path=api_path, **context)


def reading(
    request: Request, party: Viewer, session: SessionDep, runtime: RuntimeDep, store: Store
) -> Reading:
    settings = runtime.settings
    pack = packs.load(
        settings.compliance_pack, settings.compliance_overrides.get(settings.compliance_pack.upper())
    )
    return Reading(request, party, session, Options(pack, "html", None, runtime, store))


ReadingDep = Annotated[Reading, Depends(reading)]


@router.get("/", response_class=HTMLResponse)
def home(request: Request, party: Viewer, session: SessionDep) -> HTMLResponse:
    parks = parks_seen(session, party)
    firms = [
        f
        for f in session.scalars(select(Participant).order_by(Participant.park, Participant.legal_name))
        if sees_firm(party, f)
    ]
    return page(
        request, "home.html", party, parks=parks, firms=firms, me=session.get(Participant, party.address)
    )


def _query(request: Request, model: type[BaseModel]) -> tuple[Any, dict[str, Any], list[tuple[str, str]]]:
    """The search form's filters as the API's query model; blanks are filters not given."""
    form: dict[str, Any] = {}
    for name, value in request.query_params.multi_items():
        if value.strip() == "":
            continue
        if name == "status":
            form.setdefault("status", []).append(value)
        else:
            form[name] = value.strip()
    try:
        return model.model_validate(form), form, []
    except ValidationError as exc:
        return None, form, field_errors(exc)


def _pages(total: int, offset: int, limit: int, request: Request) -> dict[str, str | None]:
    def at(start: int) -> str:
        return str(request.url.include_query_params(offset=start, limit=limit))

    return {
        "previous": at(max(0, offset - limit)) if offset > 0 else None,
        "next": at(offset + limit) if offset + limit < total else None,
    }


@router.get("/transfers", response_class=HTMLResponse)
def transfers(r: ReadingDep) -> HTMLResponse:
    return _search(
        r.request, r.party, r.session, TransferQuery, transfer_routes.list_transfers, "transfers.html", r
    )


@router.get("/lots", response_class=HTMLResponse)
def lots(request: Request, party: Viewer, session: SessionDep) -> HTMLResponse:
    return _search(request, party, session, LotQuery, lot_routes.list_lots, "lots.html")


def _search(
    request: Request,
    party: Party,
    session: SessionDep,
    model: type[BaseModel],
    listed: Callable[..., Any],
    template: str,
    judging: Reading | None = None,
) -> HTMLResponse:
    """A search page: the form as the user filled it, its refused fields, or a page of what it found (with
    each transfer's verdict when `judging`)."""
    query, form, errors = _query(request, model)
    results = listed(session, party, query) if query else None
    verdicts = judging.transfer_verdicts([t.id for t in results.items]) if judging and results else {}
    return page(
        request,
        template,
        party,
        status_code=422 if errors else 200,
        form=form,
        errors=errors,
        results=results,
        verdicts=verdicts,
        statuses=get_args(TransferStatus),
        parks=parks_seen(session, party),
        names=names(session),
        pages=_pages(results.total, results.offset, results.limit, request) if results else {},
    )


def verdicts_of(report: VerificationReport) -> dict[str, str]:
    """Each record's worst verdict over the findings about it, by subject ("lot 0x…", "transfer 0x…")."""
    found: dict[str, list[Verdict]] = {}
    for rule in report.rules:
        for finding in rule.findings:
            found.setdefault(finding.subject, []).append(Verdict(finding.verdict))
    return {subject: worst(vs).value for subject, vs in found.items()}


@router.get("/lots/{lot_id}", response_class=HTMLResponse)
def lot(lot_id: str, r: ReadingDep) -> HTMLResponse:
    row = lot_routes.visible_lot(r.session, r.party, lot_id)
    graph = lineage_graph(r.session, r.party, row, LINEAGE_DEPTH, LINEAGE_NODES)
    # The colours need the verdicts only: the integrity checks are the verification page's.
    report = judged(r.session, r.party, case_of_lot(r.session, row, r.how), r.how, checked=False)
    verdicts = verdicts_of(report)
    units = {n.id: n.waste.unit for n in graph.nodes if n.kind == "lot" and n.waste}
    return r.page(
        "lot.html",
        lot=lot_routes.lot_out(r.session, row),
        graph=graph,
        drawing=drawings.lineage(graph, verdicts, names(r.session), units),
        verdict=report.verdict,
        verdicts=verdicts,
    )


@router.get("/transfers/{transfer_id}", response_class=HTMLResponse)
def transfer(transfer_id: str, r: ReadingDep) -> HTMLResponse:
    row = transfer_routes.visible_transfer(r.session, r.party, transfer_id)
    return r.report(
        transfer_case(r.session, row, r.how.evaluation_date),
        f"/verification/transfers/{transfer_id}",
        transfer=transfer_routes.transfer_out(r.session, row),
    )


@router.get("/verification/lots/{lot_id}", response_class=HTMLResponse)
def verify_lot(lot_id: str, r: ReadingDep) -> HTMLResponse:
    row = lot_routes.visible_lot(r.session, r.party, lot_id)
    return r.report(case_of_lot(r.session, row, r.how), f"/verification/lots/{lot_id}")


class PeriodForm(BaseModel):
    """The period of the park and firm pages' forms, parsed as the API's `from` and `until`."""

    start: Moment | None = Field(None, alias="from")
    until: Moment | None = None


def period_of(request: Request) -> tuple[Period, str, dict[str, str]]:
    """The form's period, its words for the page, and the form's values; 422 naming a bad field."""
    given = {k: v for k in ("from", "until") if (v := request.query_params.get(k, "").strip())}
    try:
        form = PeriodForm.model_validate(given)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = "from" if error["loc"][0] in ("start", "from") else "until"
        raise ApiError(422, "bad_period", error["msg"], ["query", name]) from None
    period, words = verification_period(form.start, form.until)
    return period, words, given


@router.get("/verification/parks/{park}", response_class=HTMLResponse)
def verify_park(park: str, r: ReadingDep) -> HTMLResponse:
    period, words, _ = period_of(r.request)
    visible_park(r.session, r.party, park, ["path", "park"])
    case = park_case(r.session, park, period, words, r.how.evaluation_date)
    return r.report(case, f"/verification/parks/{park}", query=r.request.url.query)


@router.get("/verification/firms/{address}", response_class=HTMLResponse)
def verify_firm(address: str, r: ReadingDep) -> HTMLResponse:
    period, words, _ = period_of(r.request)
    firm = visible_firm(r.session, r.party, address, ["path", "address"])
    case = firm_case(r.session, firm, period, words, r.how.evaluation_date)
    return r.report(case, f"/verification/firms/{address}", query=r.request.url.query)
