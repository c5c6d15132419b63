"""The compliance report of a park or a firm over a period, as a PDF: the verdict summary (rules x verdicts,
the failing transfers with their reasons), the eco-industrial-park KPIs, and every transfer with a QR code
linking to its verification page.

Transfers are written a page at a time as ledger_service.exports reads them; the PDF itself is held by
fpdf2 until it is output (a few kilobytes per transfer, its QR code included).
"""

import io
from collections.abc import Iterable
from typing import Any

import segno

from ledger_service.exports import TransferRecord
from ledger_service.kpis import Summary
from ledger_service.rendering import VERDICT_COLOURS, _Pdf

QR_MM = 18


def verification_url(public_url: str, transfer_id: str) -> str:
    return f"{public_url}/verification/transfers/{transfer_id}?format=html"


def _qr_png(url: str) -> io.BytesIO:
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=4, border=2)
    out.seek(0)
    return out


def _heading(doc: _Pdf, text: str) -> None:
    doc.ln(3)
    doc.style(12, bold=True)
    doc.para(text, 7)
    doc.style(9)


def _kpis(doc: _Pdf, kpis: dict[str, Any]) -> None:
    _heading(doc, "Eco-industrial-park KPIs")
    reuse, links, co2, water = kpis["reuse"], kpis["links"], kpis["co2_avoided"], kpis["water_reused"]
    share = reuse["share_reused_recycled"]
    lines = [
        f"Tonnes exchanged (transfers that pass verification): {kpis['tonnes_exchanged']:g} t",
        f"Symbiosis links (distinct shipper-receiver pairs, passing transfers only): {links['count']}",
        f"Generated waste: {reuse['generated_tonnes']:g} t; reused or recycled (R) {reuse['reused_recycled_tonnes']:g} t, "
        f"disposed (D) {reuse['disposed_tonnes']:g} t, still held {reuse['held_tonnes']:g} t, "
        f"other {reuse['other_tonnes']:g} t; share reused or recycled: "
        + ("n/a (nothing generated)" if share is None else f"{share * 100:.1f} %"),
        f"CO2 avoided: {co2['kg']:g} kg (factors {co2['factors']})",
        f"Water reused: {water['m3']:g} m3",
    ]
    for line in lines:
        doc.para(line)
    if kpis["materials"]:
        doc.ln(2)
        with doc.table(col_widths=(38, 62, 14, 22, 20, 24), text_align="LEFT", line_height=5) as table:
            table.row(["Material", "Description", "Unit", "Quantity", "Tonnes", "Failing"])
            for row in kpis["materials"]:
                table.row(
                    [
                        row["material"],
                        row["description"],
                        row["unit"],
                        str(row["quantity"]),
                        f"{row['tonnes']:g}",
                        str(row["not_counted_transfers"]),
                    ]
                )
    for factor in co2["by_factor"]:
        doc.style(7.5, colour=(70, 70, 70))
        doc.para(
            f"Factor {factor['factor']}: {factor['value']} {factor['unit']} [{factor['confidence']}]"
            f"{' (overridden)' if factor['overridden'] else ''} x {factor['tonnes']:g} t = {factor['kg_co2']:g} kg. "
            f"Source: {factor['source']}",
            4,
        )
    doc.style(9)


def _summary(doc: _Pdf, summary: Summary) -> None:
    _heading(doc, "Verdict summary")
    counts = ", ".join(f"{n} {v}" for v, n in sorted(summary.verdicts.items()))
    doc.para(f"{summary.transfers} transfers: {counts or 'none'}")
    verdicts = ("PASS", "WARN", "N/A", "INCONCLUSIVE", "FAIL")
    if summary.rules:
        doc.ln(2)
        with doc.table(col_widths=(40, 25, 25, 25, 35, 30), text_align="LEFT", line_height=5) as table:
            table.row(["Rule", *verdicts])
            for rule, by_verdict in sorted(summary.rules.items()):
                table.row([rule, *(str(by_verdict.get(v, 0)) for v in verdicts)])
    if summary.failing:
        _heading(doc, "Transfers that fail verification")
        for record, reasons in summary.failing:
            doc.style(9, bold=True, colour=VERDICT_COLOURS[record.verdict.value])
            doc.para(f"{record.verdict.value}  transfer {record.id}")
            doc.style(8.5)
            for rule, verdict, reason in reasons:
                doc.para(f"- {rule} ({verdict}): {reason}", 4.5)


def _transfers(doc: _Pdf, pages: Iterable[list[TransferRecord]], public_url: str) -> None:
    _heading(doc, "Transfers (scan a code for the transfer's verification report)")
    for page in pages:
        for r in page:
            if doc.will_page_break(QR_MM + 2):
                doc.add_page()
            top, url = doc.get_y(), verification_url(public_url, r.id)
            doc.image(_qr_png(url), x=doc.l_margin, y=top, w=QR_MM, h=QR_MM, link=url)
            doc.set_xy(doc.l_margin + QR_MM + 3, top)
            doc.style(8.5, bold=True, colour=VERDICT_COLOURS[r.verdict.value])
            doc.cell(0, 4.5, f"{r.verdict.value}  {r.id}", new_x="LMARGIN", new_y="NEXT", link=url)
            doc.style(8)
            received = "in transit" if r.quantity_received is None else f"received {r.quantity_received}"
            for line in (
                f"{r.dispatched_at:%Y-%m-%d %H:%M} UTC  {r.code.scheme} {r.code.code} {r.code.description}",
                f"{r.shipper.legal_name or r.shipper.address} -> {r.receiver.legal_name or r.receiver.address}; "
                f"{r.operation}; shipped {r.quantity_shipped} {r.code.unit}, {received}"
                + (f", refused {r.quantity_rejected}" if r.quantity_rejected else ""),
            ):
                doc.set_x(doc.l_margin + QR_MM + 3)
                doc.cell(
                    0,
                    4,
                    line if doc.unicode else line.encode("latin-1", "replace").decode("latin-1"),
                    new_x="LMARGIN",
                    new_y="NEXT",
                )
            doc.set_y(max(doc.get_y(), top + QR_MM) + 2)


def pdf(
    title: str,
    kpis: dict[str, Any],
    summary: Summary,
    pages: Iterable[list[TransferRecord]],
    public_url: str,
) -> bytes:
    doc = _Pdf()
    doc.set_title(title)
    doc.add_page()
    doc.style(16, bold=True)
    doc.para("Compliance report", 9)
    doc.style(10)
    doc.para(f"Scope: {kpis['scope']}")
    doc.para(f"Period: {kpis['period']}")
    doc.para(f"Rule pack: {kpis['rule_pack']['id']} {kpis['rule_pack']['version']}")
    doc.para(f"As of block {kpis['as_of_block']}, generated {kpis['generated_at']}")
    _summary(doc, summary)
    _kpis(doc, kpis)
    _transfers(doc, pages, public_url)
    return bytes(doc.output())
