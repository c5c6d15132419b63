"""A verification report as a person reads it: an HTML page (server-rendered, no external assets) and a
PDF with the same content. Both render the API's VerificationReport, so the three never disagree."""

from functools import cache
from pathlib import Path

from fpdf import FPDF
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ledger_service.api.schemas import EvidenceOut, VerificationReport

HERE = Path(__file__).parent
# DejaVu Sans covers Vietnamese and every other Latin script a legal name may use (Debian: fonts-dejavu-core,
# in the base image); without it the PDF falls back to a core font and Latin-1.
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
INTEGRITY_COLOURS = {"verified": (22, 120, 60), "failed": (180, 30, 30), "not checked": (160, 60, 0)}
VERDICT_COLOURS = {
    "PASS": (22, 120, 60),
    "FAIL": (180, 30, 30),
    "INCONCLUSIVE": (160, 60, 0),
    "WARN": (150, 110, 0),
    "N/A": (100, 100, 100),
}


@cache
def _templates() -> Environment:
    return Environment(loader=FileSystemLoader(HERE), autoescape=select_autoescape(["html"]))


def html(report: VerificationReport) -> str:
    return _templates().get_template("report.html").render(r=report, evidence=evidence_line)


def evidence_line(e: EvidenceOut) -> str:
    parts = [f"tx {e.tx_hash}" if e.tx_hash else "not on chain"]
    if e.block_number is not None:
        parts.append(f"block {e.block_number}")
    if e.log_index is not None:
        parts.append(f"log {e.log_index}")
    if e.signer:
        parts.append(f"signed by {e.signer}")
    if e.document_hash:
        parts.append(f"document {e.document_hash}")
    return ", ".join(parts)


class _Pdf(FPDF):
    def __init__(self) -> None:
        super().__init__(format="A4")
        self.unicode = (DEJAVU / "DejaVuSans.ttf").is_file() and (DEJAVU / "DejaVuSans-Bold.ttf").is_file()
        if self.unicode:
            self.add_font("DejaVu", "", str(DEJAVU / "DejaVuSans.ttf"))
            self.add_font("DejaVu", "B", str(DEJAVU / "DejaVuSans-Bold.ttf"))
        self.set_auto_page_break(True, margin=15)
        self.set_margins(15, 15, 15)

    def style(self, size: float, bold: bool = False, colour: tuple[int, int, int] = (0, 0, 0)) -> None:
        self.set_font("DejaVu" if self.unicode else "helvetica", "B" if bold else "", size)
        self.set_text_color(*colour)

    def para(self, text: str, height: float = 5) -> None:
        if not self.unicode:
            text = text.encode("latin-1", "replace").decode("latin-1")
        self.multi_cell(0, height, text, align="L", new_x="LMARGIN", new_y="NEXT")

    def footer(self) -> None:
        self.set_y(-12)
        self.style(7, colour=(110, 110, 110))
        self.cell(0, 5, f"page {self.page_no()}/{{nb}}", align="R")


def pdf(report: VerificationReport) -> bytes:
    doc = _Pdf()
    doc.set_title(f"Verification: {report.subject}")
    doc.add_page()
    doc.style(16, bold=True)
    doc.para("Compliance verification report", 9)
    doc.style(10)
    doc.para(f"Subject: {report.subject}")
    doc.para(f"Evaluation date: {report.evaluation_date.isoformat()}")
    doc.para(f"Rule pack: {report.pack.id} {report.pack.version}, sha256 {report.pack.hash}")
    for name, value in report.pack.overrides.items():
        doc.para(f"Override: {name} = {value}")
    doc.style(12, bold=True, colour=VERDICT_COLOURS[report.verdict])
    counts = ", ".join(f"{n} {v}" for v, n in report.counts.items() if n)
    doc.para(f"Verdict: {report.verdict} ({counts})", 8)
    doc.style(9)
    for check in report.integrity:
        colour = INTEGRITY_COLOURS.get(check.status, (0, 0, 0))
        doc.style(9, bold=True, colour=colour)
        doc.para(f"Integrity of the {check.check}: {check.status}", 5)
        doc.style(9)
        doc.para(check.summary, 5)
        for problem in check.problems:
            doc.para(f"- {problem}", 4)
    doc.ln(3)

    doc.style(9)
    with doc.table(col_widths=(30, 100, 22, 28), text_align="LEFT", line_height=5) as table:
        table.row(["Rule", "Title", "Severity", "Verdict"])
        for rule in report.rules:
            table.row([rule.id, rule.title, rule.severity, rule.verdict])

    for rule in report.rules:
        doc.ln(4)
        doc.style(11, bold=True)
        doc.para(f"{rule.id}: {rule.title}", 6)
        doc.style(9, colour=VERDICT_COLOURS[rule.verdict])
        doc.para(f"Verdict {rule.verdict}; severity {rule.severity}; jurisdiction {rule.jurisdiction}")
        doc.style(9)
        doc.para(f"Citation: {rule.citation}")
        if rule.unconfirmed:
            doc.para(f"Unconfirmed parameters (to be confirmed by counsel): {', '.join(rule.unconfirmed)}")
        for finding in rule.findings:
            doc.ln(1)
            doc.style(9, bold=True, colour=VERDICT_COLOURS[finding.verdict])
            doc.para(f"{finding.verdict}  {finding.subject}")
            doc.style(9)
            doc.para(finding.reason)
            doc.style(7.5, colour=(70, 70, 70))
            for e in finding.evidence:
                doc.para(f"Evidence: {evidence_line(e)}", 4)
    return bytes(doc.output())
