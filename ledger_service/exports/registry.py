"""The legal registry: one row per transfer, in dispatch order, with the record fields of the Waste
Framework Directive's Art. 35 chronological record and of the Vietnamese waste manifest (docs/exports.md
maps each column to them), as CSV or XLSX.

Both are written row by row: the CSV as it streams, the XLSX with openpyxl's write-only workbook (which
spills its rows to a temporary file), so neither holds more than a page of transfers.
"""

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO, Any

from ledger_service.exports import Firm, TransferRecord

COLUMNS = (
    "transfer_id",
    "status",
    "return_of",
    "dispatched_at",
    "picked_up_at",
    "delivered_at",
    "received_at",
    "waste_scheme",
    "waste_code",
    "hazardous",
    "description",
    "unit",
    "quantity_shipped",
    "quantity_received",
    "quantity_rejected",
    "rejection_reason",
    "returned_as",
    "shipper_name",
    "shipper_enterprise_id",
    "shipper_address",
    "receiver_name",
    "receiver_enterprise_id",
    "receiver_address",
    "transporters",
    "operation",
    "receiver_permit",
    "lot_id",
    "document_sha256",
    "dispatch_signed_by",
    "dispatch_tx",
    "pick_up_signed_by",
    "pick_up_tx",
    "delivery_signed_by",
    "delivery_tx",
    "receipt_signed_by",
    "receipt_tx",
    "rejection_signed_by",
    "rejection_tx",
    "corrections",
    "verdict",
    "failed_rules",
    "rule_pack",
)
STEPS = {
    "dispatch": "Dispatch",
    "pick_up": "PickUp",
    "delivery": "Delivery",
    "receipt": "Receipt",
    "rejection": "Rejection",
}


def _firm(f: Firm) -> str:
    return f"{f.legal_name} ({f.enterprise_id}) {f.address}"


def row(r: TransferRecord, pack: str) -> list[Any]:
    """The registry row of a transfer; times as timezone-aware UTC datetimes, quantities as integers in
    `unit`."""
    signed: dict[str, Any] = {}
    for column, statement in STEPS.items():
        steps = r.signed(statement)
        signed[f"{column}_signed_by"] = "; ".join(s.signer for s in steps)
        signed[f"{column}_tx"] = "; ".join(s.tx_hash for s in steps)
    corrections = "; ".join(f"{s.signer} {s.tx_hash}" for s in r.signed("Correction"))
    values = {
        "transfer_id": r.id,
        "status": r.status,
        "return_of": r.return_of or "",
        "dispatched_at": r.dispatched_at,
        "picked_up_at": r.picked_up_at,
        "delivered_at": r.delivered_at,
        "received_at": r.received_at,
        "waste_scheme": r.code.scheme,
        "waste_code": r.code.code,
        "hazardous": "yes" if r.code.hazardous else "no",
        "description": r.code.description,
        "unit": r.code.unit,
        "quantity_shipped": r.quantity_shipped,
        "quantity_received": r.quantity_received,
        "quantity_rejected": r.quantity_rejected,
        "rejection_reason": r.rejection_reason or "",
        "returned_as": r.returned_as or "",
        "shipper_name": r.shipper.legal_name,
        "shipper_enterprise_id": r.shipper.enterprise_id,
        "shipper_address": r.shipper.address,
        "receiver_name": r.receiver.legal_name,
        "receiver_enterprise_id": r.receiver.enterprise_id,
        "receiver_address": r.receiver.address,
        "transporters": "; ".join(_firm(t) for t in r.transporters),
        "operation": r.operation,
        "receiver_permit": r.permit_number or "",
        "lot_id": r.lot_id,
        "document_sha256": r.document_hash,
        **signed,
        "corrections": corrections,
        "verdict": r.verdict.value,
        "failed_rules": " ".join(r.failed_rules),
        "rule_pack": pack,
    }
    return [values[c] for c in COLUMNS]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def csv_chunks(pages: Iterable[list[TransferRecord]], pack: str) -> Iterator[bytes]:
    """The registry as CSV (UTF-8 with a byte-order mark, so that spreadsheets read the Vietnamese names),
    a page of rows per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    yield "\ufeff".encode() + buffer.getvalue().encode()
    for page in pages:
        buffer.seek(0)
        buffer.truncate()
        for record in page:
            writer.writerow([_text(v) for v in row(record, pack)])
        yield buffer.getvalue().encode()


def write_xlsx(pages: Iterable[list[TransferRecord]], pack: str, title: str, out: IO[bytes]) -> None:
    """The registry as an XLSX workbook into `out`, written in openpyxl's write-only mode: rows go to
    disk as they come."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Registry")
    sheet.freeze_panes = "B2"
    header = []
    for name in COLUMNS:
        cell = WriteOnlyCell(sheet, name)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for page in pages:
        for record in page:
            # Excel keeps no time zone: the times are UTC, as the header of docs/exports.md says.
            sheet.append(
                [v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in row(record, pack)]
            )
    about = workbook.create_sheet("About")
    about.append(["Symbiosis Ledger registry", title])
    about.append(["Times", "UTC"])
    about.append(["Rule pack", pack])
    workbook.save(out)
