"""The dashboard's park and firm pages over a period: the eco-industrial-park KPIs as figures and charts, the
material flows as a Sankey diagram, and a button for every export (each a plain link to the API's export,
which the browser's session cookie signs in for).
"""

from urllib.parse import quote, urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from ledger_service import exports
from ledger_service.api.routes import kpis as kpi_routes
from ledger_service.dashboard import drawings
from ledger_service.dashboard.pages import Reading, ReadingDep, period_of
from ledger_service.dashboard.web import PREFIX, names
from ledger_service.search import Period

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/parks/{park}", response_class=HTMLResponse)
def park(park: str, r: ReadingDep) -> HTMLResponse:
    when = period_of(r.request)  # a bad period is told before anything is looked up
    scope = kpi_routes.park_scope(r.session, r.party, park)
    return _overview(r, when, scope, ("park", park), f"/reports/parks/{quote(park)}.pdf")


@router.get("/firms/{address}", response_class=HTMLResponse)
def firm(address: str, r: ReadingDep) -> HTMLResponse:
    when = period_of(r.request)
    scope = kpi_routes.firm_scope(r.session, r.party, address)
    return _overview(r, when, scope, ("firm", address), f"/reports/firms/{address}.pdf")


def _overview(
    r: Reading,
    when: tuple[Period, str, dict[str, str]],
    scope: exports.Scope,
    subject: tuple[str, str],
    report: str,
) -> HTMLResponse:
    period, words, form = when
    asked = kpi_routes.Asked(r.session, r.party, r.how.runtime, r.how.store, (period, words), None)
    figures = asked.kpis(scope)[0]
    known = names(r.session)
    described = {m["material"]: m["description"] or m["material"] for m in figures["materials"]}
    flows = [
        drawings.Flow(
            known.get(f["from"], drawings.short(f["from"])),
            described.get(f["material"], f["material"]),
            known.get(f["to"], drawings.short(f["to"])),
            f["tonnes"],
        )
        for f in figures["flows"]
    ]
    kind, key = subject
    period_query = urlencode(form)
    scoped = urlencode({kind: key, **form})
    return r.page(
        "overview.html",
        kind=kind,
        key=key,
        scope=scope,
        form=form,
        figures=figures,
        sankey=drawings.sankey(flows),
        materials=drawings.bar_chart(
            "Tonnes exchanged per material (passing transfers)",
            "t",
            [
                (described.get(m["material"], m["material"]), m["tonnes"])
                for m in figures["materials"]
                if m["tonnes"]
            ],
        ),
        monthly=drawings.bar_chart(
            "Tonnes exchanged per month (transfers)",
            "t",
            [(s["month"], s["tonnes"]) for s in figures["series"]],
        ),
        co2=drawings.bar_chart(
            "CO2 avoided per month", "kg", [(s["month"], s["co2_avoided_kg"]) for s in figures["series"]]
        ),
        exports=[
            ("Registry (CSV)", f"/exports/registry?{scoped}&format=csv"),
            ("Registry (XLSX)", f"/exports/registry?{scoped}&format=xlsx"),
            ("GS1 EPCIS 2.0 (JSON-LD)", f"/exports/epcis?{scoped}"),
            ("US EPA e-Manifest (JSON)", f"/exports/emanifest?{scoped}"),
            ("Compliance report (PDF)", f"{report}?{period_query}"),
        ],
        verification=f"{PREFIX}/verification/{kind}s/{quote(key)}?{period_query}",
    )
