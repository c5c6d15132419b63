"""Eco-industrial-park KPIs (GET /kpis/...) and the compliance report PDF (GET /reports/...) of a park or a
firm over a period (ledger_service.kpis, docs/kpis.md).

Who may ask is who may verify or export: a regulator any park or firm, a park operator its park and its
park's firms, a firm itself; anything else answers 404 as if unknown.
"""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlalchemy.orm import Session

from ledger_service import exports, kpis
from ledger_service.api.deps import SIGNED_IN, CurrentParty, Party, RuntimeDep, SessionDep
from ledger_service.api.errors import ApiError
from ledger_service.api.routes.documents import Store
from ledger_service.api.routes.exports import PackQuery, _pack
from ledger_service.api.routes.verification import PeriodDep, visible_firm, visible_park
from ledger_service.api.schemas import Address, ParkName
from ledger_service.documents.store import DocumentStore
from ledger_service.rendering import compliance_report
from ledger_service.runtime import Runtime
from ledger_service.search import Period

router = APIRouter(tags=["kpis"], dependencies=SIGNED_IN)


def park_scope(session: Session, party: Party, park: str) -> exports.Scope:
    visible_park(session, party, park, ["path", "park"])
    return exports.Scope(park=park)


def firm_scope(session: Session, party: Party, address: str) -> exports.Scope:
    firm = visible_firm(session, party, address, ["path", "address"])
    session.expunge(firm)
    return exports.Scope(firm=firm)


@dataclass(frozen=True)
class Asked:
    """KPIs or a report asked for: by whom, over which period, judged by which pack."""

    session: Session
    party: Party
    runtime: Runtime
    store: DocumentStore
    when: tuple[Period, str]
    pack: str | None

    def kpis(
        self, scope: exports.Scope, summary: kpis.Summary | None = None
    ) -> tuple[dict[str, Any], Any, Any]:
        loaded = _pack(self.runtime, self.pack)
        selection = exports.Selection.now(self.session, scope, self.when[0])
        try:
            factors = kpis.factors(self.runtime.settings)
        except (OSError, ValueError) as exc:  # the deployment's own settings name a file or factor wrongly
            raise ApiError(500, "kpi_factors_misconfigured", str(exc), ["query", "pack"]) from exc
        result = kpis.compute(self.session, selection, loaded, self.store.read, factors, summary)
        return kpis.answer(scope, self.when[1], selection, loaded, result), selection, loaded

    def report(self, scope: exports.Scope) -> Response:
        summary = kpis.Summary()
        header, selection, loaded = self.kpis(scope, summary)
        pages = exports.transfer_pages(self.session, selection, loaded, self.store.read)
        body = compliance_report.pdf(
            f"Compliance report: {scope.name} {self.when[1]}",
            header,
            summary,
            pages,
            self.runtime.settings.resolved_public_url,
        )
        return Response(
            body,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="report-{scope.slug}.pdf"',
                "X-Export-Transfers": str(summary.transfers),
                "X-Export-Block": str(selection.block),
            },
        )


def asked(
    session: SessionDep,
    party: CurrentParty,
    runtime: RuntimeDep,
    store: Store,
    when: PeriodDep,
    pack: PackQuery = None,
) -> Asked:
    return Asked(session, party, runtime, store, when, pack)


AskedDep = Annotated[Asked, Depends(asked)]
PDF = {200: {"content": {"application/pdf": {}}, "description": "The compliance report"}}


@router.get("/kpis/parks/{park}", operation_id="park_kpis")
def park_kpis(park: ParkName, asked: AskedDep) -> dict[str, Any]:
    """A park's KPIs over the period: tonnes exchanged per material, share of generated waste reused or
    recycled, symbiosis links (passing transfers only), CO2 avoided (cited factors), water reused, and a
    monthly series for charts."""
    return asked.kpis(park_scope(asked.session, asked.party, park))[0]


@router.get("/kpis/firms/{address}", operation_id="firm_kpis")
def firm_kpis(address: Address, asked: AskedDep) -> dict[str, Any]:
    """A firm's KPIs over the period, from the records the firm itself may see."""
    return asked.kpis(firm_scope(asked.session, asked.party, address))[0]


@router.get("/reports/parks/{park}.pdf", operation_id="park_report", response_class=Response, responses=PDF)
def park_report(park: ParkName, asked: AskedDep) -> Response:
    """A park's compliance report over the period, as a PDF: verdict summary, failing transfers with their
    reasons, the KPIs, and each transfer with a QR code linking to its verification page."""
    return asked.report(park_scope(asked.session, asked.party, park))


@router.get(
    "/reports/firms/{address}.pdf", operation_id="firm_report", response_class=Response, responses=PDF
)
def firm_report(address: Address, asked: AskedDep) -> Response:
    """A firm's compliance report over the period, as a PDF."""
    return asked.report(firm_scope(asked.session, asked.party, address))
