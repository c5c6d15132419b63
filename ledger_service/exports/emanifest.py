"""US EPA e-Manifest JSON (schema v1.3): one manifest per transfer of a US-RCRA waste code, mapped from
the transfer (generator = shipper, transporters, designated facility = receiver, one waste line), as the
`save` service reads it.

The ledger holds no EPA site ids of its own. A US participant is registered with its EPA id as its
enterprise id; a manifest whose generator, transporter or designated facility has an enterprise id that
is not an EPA id, or whose unit e-Manifest has no code for, is left out, with the reason. Every field
e-Manifest asks for and the ledger does not hold is named in the entry's `missing` list instead of being
made up (docs/exports.md).
"""

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledger_service.exports import Firm, Step, TransferRecord

US_SCHEME = "US-RCRA"
# An EPA site id as EPA issues it: twelve characters, a two-letter activity location code (a US state's or
# territory's postal code) then ten letters or digits (the schema allows fewer; EPA issues none). Both
# keep other countries' tax ids out: FR…, IT… by the location, a German DE… VAT number (eleven characters)
# by the length (docs/exports.md).
EPA_ID = re.compile(r"^[A-Z]{2}[A-Z0-9]{10}$")
_STATES_AND_TERRITORIES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC "
    "ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI"
)
LOCATIONS = frozenset(_STATES_AND_TERRITORIES.split())


def epa_id(enterprise_id: str) -> bool:
    return bool(EPA_ID.match(enterprise_id)) and enterprise_id[:2] in LOCATIONS


# e-Manifest's units of the ledger's units (ledger_service.api.schemas.UNITS); energy has none.
UNITS = {
    "KGM": ("K", "Kilograms"),
    "TNE": ("M", "Metric Tons (1000 Kilograms)"),
    "LTR": ("L", "Liters"),
    "MTQ": ("N", "Cubic Meters"),
}
# Asked for by e-Manifest's business rules, held by no ledger record.
ALWAYS_MISSING = (
    "generator/transporters/designatedFacility: mailingAddress, siteAddress, contact phone, emergencyPhone "
    "(the ledger holds a party's legal name, enterprise id and chain address only)",
    "wastes[0].dotInformation (UN/NA number, proper shipping name, hazard class, packing group): not held; "
    "dotHazardous is the waste code's hazardous flag",
    "wastes[0].quantity containerNumber and containerType: not held",
    "wastes[0].managementMethod (H code): not held; the R/D operation is in additionalInfo.comments",
    "wastes[0].br and pcb: false, as the ledger holds no biennial-report or PCB data",
    "electronic signatures are the parties' EIP-712 signatures on the chain (signer.userId is the "
    "signing address), not CROMERR signatures",
)


@dataclass(frozen=True)
class Entry:
    transfer_id: str
    manifest: dict[str, Any] | None
    left_out: str | None = None

    def json(self) -> dict[str, Any]:
        if self.manifest is None:
            return {"transfer_id": self.transfer_id, "left_out": self.left_out}
        return {"transfer_id": self.transfer_id, "manifest": self.manifest, "missing": list(ALWAYS_MISSING)}


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _signature(step: Step | None, firm: Firm) -> list[dict[str, Any]]:
    if step is None:
        return []
    signer = {"userId": step.signer, "companyName": firm.legal_name[:80]}
    return [{"signer": signer, "signatureDate": _time(step.at)}]


def _site(firm: Firm, step: Step | None, **fields: Any) -> dict[str, Any]:
    return {
        "epaSiteId": firm.enterprise_id,
        "name": firm.legal_name[:80],
        **fields,
        "electronicSignaturesInfo": _signature(step, firm),
    }


def _first(steps: list[Step], signer: str | None = None) -> Step | None:
    return next((s for s in steps if signer is None or s.signer == signer), None)


def manifest(r: TransferRecord) -> Entry:
    """The manifest of a US-RCRA transfer, or why it is left out."""
    unit = UNITS.get(r.code.unit)
    if unit is None:
        return Entry(r.id, None, f"unit {r.code.unit} has no e-Manifest unit of measurement")
    for role, firm in [("generator (shipper)", r.shipper), ("designated facility (receiver)", r.receiver)] + [
        (f"transporter {i + 1}", t) for i, t in enumerate(r.transporters)
    ]:
        if not epa_id(firm.enterprise_id):
            return Entry(
                r.id,
                None,
                f"the {role} {firm.legal_name} ({firm.address}) has no EPA site id: its enterprise id "
                f"{firm.enterprise_id!r} is not one",
            )
    pickups = r.signed("PickUp")
    transporters = [
        _site(
            t,
            pickups[i] if i < len(pickups) and pickups[i].signer == t.address else _first(pickups, t.address),
            order=i + 1,
        )
        for i, t in enumerate(r.transporters)
    ]
    closing = _first(r.signed("Receipt")) or _first(r.signed("Rejection"))
    received = r.quantity_received
    quantity_differs = received is not None and received + r.quantity_rejected != r.quantity_shipped
    line: dict[str, Any] = {
        "lineNumber": 1,
        "dotHazardous": r.code.hazardous,
        "epaWaste": r.code.hazardous,
        "br": False,
        "pcb": False,
        "quantity": {
            "quantity": r.quantity_shipped,
            "unitOfMeasurement": {"code": unit[0], "description": unit[1]},
        },
        "discrepancyResidueInfo": {"wasteQuantity": quantity_differs, "wasteType": False, "residue": False},
        "additionalInfo": {
            "comments": [{"label": "Recovery/disposal operation", "description": r.operation}]
        },
    }
    if quantity_differs:
        line["discrepancyResidueInfo"]["discrepancyComments"] = (
            f"shipped {r.quantity_shipped} {r.code.unit}, received {received}"
            + (f", rejected {r.quantity_rejected}" if r.quantity_rejected else "")
        )
    if r.code.hazardous:
        line["hazardousWaste"] = {
            "federalWasteCodes": [{"code": r.code.code, "description": r.code.description[:255]}]
        }
    else:
        line["wasteDescription"] = r.code.description
    dispatch = r.signed("Dispatch")
    document: dict[str, Any] = {
        "submissionType": "FullElectronic",
        "generator": _site(r.shipper, dispatch[0] if dispatch else None),
        "transporters": transporters,
        "designatedFacility": _site(r.receiver, closing),
        "wastes": [line],
        "rejection": bool(r.quantity_rejected),
        "additionalInfo": {
            "comments": [
                {"label": "Symbiosis Ledger transfer", "description": r.id},
                {"label": "Dispatch transaction", "description": dispatch[0].tx_hash if dispatch else ""},
                {"label": "Compliance verdict", "description": r.verdict.value},
            ]
        },
    }
    if r.quantity_rejected:
        accepted = (received or 0) > 0
        info: dict[str, Any] = {
            "rejectionType": "PartialReject" if accepted else "FullReject",
            "rejectionComments": (r.rejection_reason or "rejected")[:255],
        }
        if r.returned_as:  # the refused part went back, by a return transfer, to the shipper
            info["alternateDesignatedFacilityType"] = "Generator"
        document["rejectionInfo"] = info
    return Entry(r.id, document)


def document_chunks(
    pages: Iterable[list[TransferRecord]], scope_name: str, created: datetime
) -> Iterator[bytes]:
    """{"scope", "created", "manifests": [{transfer_id, manifest, missing} | {transfer_id, left_out}]}: the
    US-RCRA transfers only, written one by one."""
    head = json.dumps({"scope": scope_name, "created": _time(created), "manifests": []}, ensure_ascii=False)
    yield head[: -len("[]}")].encode() + b"["
    first = True
    for page in pages:
        parts = []
        for r in page:
            if r.code.scheme != US_SCHEME:
                continue
            parts.append(("" if first else ",") + "\n" + json.dumps(manifest(r).json(), ensure_ascii=False))
            first = False
        yield "".join(parts).encode()
    yield b"\n]}\n"
