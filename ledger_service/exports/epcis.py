"""GS1 EPCIS 2.0 JSON-LD: a park's or a firm's custody events as an EPCISDocument (docs/exports.md maps
each record to its events and identifiers).

- a dispatch: an ObjectEvent (action OBSERVE) with bizStep `shipping`, the shipped quantity of the lot;
- a receipt: an ObjectEvent with bizStep `receiving` and the quantity the receiver measured;
- a rejection: an ObjectEvent with bizStep `receiving`, disposition `non_conformant` and the refused part;
- a processing: a TransformationEvent, input and output lots as quantityLists in their units;
- a metered flow's anchored period: an ObjectEvent with bizStep `sensor_reporting` and a sensorElement
  whose report is the period's total.

The ledger has no GS1 keys (GTIN, GLN): lots, parties, transfers and flows are named by their URLs under
the deployment's public URL, meters by `urn:symledger:meter:`. The events are written one by one.
"""

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_service.db import models as m
from ledger_service.exports import Selection, TransferRecord, flow_periods, processings

CONTEXT_URL = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
# CBV measurement types of the ledger's units (ledger_service.api.schemas.UNITS).
MEASUREMENT = {
    "KGM": "Mass",
    "TNE": "Mass",
    "MTQ": "Volume",
    "LTR": "Volume",
    "KWH": "Energy",
    "MWH": "Energy",
    "GV": "Energy",
}


class Names:
    """The URIs of the ledger's records under the deployment's public URL."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def lot(self, lot_id: str) -> str:
        return f"{self.base}/lots/{lot_id}"

    def party(self, address: str) -> str:
        return f"{self.base}/participants/{address}"

    def transfer(self, transfer_id: str) -> str:
        return f"{self.base}/transfers/{transfer_id}"

    def processing(self, processing_id: str) -> str:
        return f"{self.base}/processings/{processing_id}"

    def flow(self, flow_id: str) -> str:
        return f"{self.base}/flows/{flow_id}"

    def material(self, name: str) -> str:
        return f"{self.base}/ns/materials/{quote(name, safe='')}"

    @property
    def vocabulary(self) -> str:
        return f"{self.base}/ns/epcis#"


def _time(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _event(kind: str, event_id: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "eventID": event_id,
        "eventTime": _time(at),
        "eventTimeZoneOffset": "+00:00",
        **{k: v for k, v in fields.items() if v is not None},
    }


def transfer_events(r: TransferRecord, names: Names) -> Iterator[dict[str, Any]]:
    transfer = names.transfer(r.id)
    unit = r.code.unit
    parties = {
        "sourceList": [{"type": "owning_party", "source": names.party(r.shipper.address)}],
        "destinationList": [{"type": "owning_party", "destination": names.party(r.receiver.address)}],
    }
    common = {
        "bizTransactionList": [{"type": "bol", "bizTransaction": transfer}],
        "symledger:wasteCode": f"{r.code.scheme} {r.code.code}",
        "symledger:hazardous": r.code.hazardous,
        "symledger:operation": r.operation,
        "symledger:verdict": r.verdict.value,
    }
    dispatch = r.signed("Dispatch")
    yield _event(
        "ObjectEvent",
        f"{transfer}#dispatch",
        r.dispatched_at,
        action="OBSERVE",
        bizStep="shipping",
        disposition="in_transit",
        quantityList=[{"epcClass": names.lot(r.lot_id), "quantity": r.quantity_shipped, "uom": unit}],
        **parties,
        **common,
        **_signed(dispatch[0] if dispatch else None),
    )
    # A receipt, or a rejection accepting part, opens the receiver's lot, whose id is the transfer's.
    receipt = r.signed("Receipt") or r.signed("Rejection")
    if r.quantity_received is not None and receipt:
        balanced = r.quantity_received + r.quantity_rejected == r.quantity_shipped
        yield _event(
            "ObjectEvent",
            f"{transfer}#receipt",
            receipt[0].at,
            action="OBSERVE",
            bizStep="receiving",
            disposition="conformant" if balanced else "mismatch_quantity",
            quantityList=[{"epcClass": names.lot(r.id), "quantity": r.quantity_received, "uom": unit}],
            **parties,
            **common,
            **{"symledger:shippedQuantity": r.quantity_shipped},
            **_signed(receipt[0]),
        )
    rejection = r.signed("Rejection")
    if r.quantity_rejected and rejection:
        yield _event(
            "ObjectEvent",
            f"{transfer}#rejection",
            rejection[0].at,
            action="OBSERVE",
            bizStep="receiving",
            disposition="non_conformant",
            quantityList=[{"epcClass": names.lot(r.lot_id), "quantity": r.quantity_rejected, "uom": unit}],
            **parties,
            **common,
            **{"symledger:reason": r.rejection_reason or "", "symledger:returnedAs": r.returned_as},
            **_signed(rejection[0]),
        )


def _signed(step: Any) -> dict[str, str]:
    if step is None:
        return {}
    return {"symledger:signedBy": step.signer, "symledger:transactionHash": step.tx_hash}


def processing_event(p: m.Processing, units: dict[str, str], names: Names) -> dict[str, Any]:
    def quantities(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {"epcClass": names.lot(i["lot_id"]), "quantity": int(i["quantity"]), "uom": units[i["code_key"]]}
            for i in items
        ]

    external = [
        {"epcClass": names.material(e["material"]), "quantity": int(e["grams"]), "uom": "GRM"}
        for e in p.external_inputs
    ]
    return _event(
        "TransformationEvent",
        names.processing(p.id),
        p.recorded_at,
        transformationID=names.processing(p.id),
        bizStep="commissioning",
        inputQuantityList=quantities(p.inputs) + external,
        outputQuantityList=quantities(p.outputs),
        sourceList=[{"type": "owning_party", "source": names.party(p.processor)}],
        **{
            "symledger:lossGrams": int(p.loss_grams),
            "symledger:lossDescription": p.loss_description,
            "symledger:signedBy": p.processor,
            "symledger:transactionHash": p.recorded_tx,
        },
    )


def flow_event(flow: m.MeteredFlow, period: m.MeteredPeriod, names: Names) -> dict[str, Any]:
    start = flow.first_period_start + period.period * flow.period_seconds
    begins, ends = (datetime.fromtimestamp(t, UTC) for t in (start, start + flow.period_seconds))
    quantity = int(period.quantity)
    return _event(
        "ObjectEvent",
        f"{names.flow(flow.id)}/periods/{period.period}",
        ends,
        recordTime=_time(period.anchored_at),
        action="OBSERVE",
        bizStep="sensor_reporting",
        quantityList=[{"epcClass": names.flow(flow.id), "quantity": quantity, "uom": flow.unit}],
        sourceList=[{"type": "owning_party", "source": names.party(flow.supplier)}],
        destinationList=[{"type": "owning_party", "destination": names.party(flow.offtaker)}],
        sensorElementList=[
            {
                "sensorMetadata": {
                    "startTime": _time(begins),
                    "endTime": _time(ends),
                    "deviceID": f"urn:symledger:meter:{flow.meter_id}",
                },
                "sensorReport": [
                    {"type": MEASUREMENT.get(flow.unit, "Dimensionless"), "value": quantity, "uom": flow.unit}
                ],
            }
        ],
        **{
            "symledger:medium": flow.medium,
            "symledger:readingHash": period.reading_hash,
            "symledger:transactionHash": period.anchored_tx,
        },
    )


def document_chunks(
    session: Session,
    selection: Selection,
    pages: Iterable[list[TransferRecord]],
    base_url: str,
    created: datetime,
) -> Iterator[bytes]:
    """The EPCISDocument: the transfers' events, then the processings', then the metered periods'."""
    names = Names(base_url)
    head = {
        "@context": [CONTEXT_URL, {"symledger": names.vocabulary}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": _time(created),
        "sender": names.base,
        "epcisBody": {"eventList": []},
    }
    opening = json.dumps(head, ensure_ascii=False)
    yield opening[: -len("[]}}")].encode() + b"["
    first = True

    def emit(event: dict[str, Any]) -> bytes:
        nonlocal first
        text = ("" if first else ",") + "\n" + json.dumps(event, ensure_ascii=False)
        first = False
        return text.encode()

    for page in pages:
        yield b"".join(emit(e) for r in page for e in transfer_events(r, names))
    units = dict(session.execute(select(m.WasteCode.code_key, m.WasteCode.unit)).all())
    for p in processings(session, selection):
        yield emit(processing_event(p, units, names))
    for flow, anchored in flow_periods(session, selection):
        yield emit(flow_event(flow, anchored, names))
    yield b"\n]}}\n"
