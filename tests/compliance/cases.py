"""Small hand-built case files for the engine's own tests (the service tests build them from the chain)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from compliance.casefile import (
    CaseFile,
    Certificate,
    Coverage,
    Evidence,
    Lot,
    Party,
    Permit,
    Signature,
    Transfer,
    WasteCode,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SHIPPER = "0x" + "51" * 20
RECEIVER = "0x" + "52" * 20
CARRIER = "0x" + "53" * 20
SLAG = WasteCode("0x" + "c1" * 32, "EU-LOW", "10 02 02", "unprocessed slag", False, "KGM")
PERMIT = Permit(
    "0x" + "e1" * 32,
    "P-123",
    RECEIVER,
    "environmental_permit",
    (Coverage(SLAG.key, frozenset({"R5"})),),
    1_000_000,
    T0 - timedelta(days=365),
    T0 + timedelta(days=365),
    evidence=Evidence("0x" + "a1" * 32, 10, 0),
)


def tx(n: int) -> Evidence:
    return Evidence("0x" + f"{n:064x}", 100 + n, n % 3)


def transfer(n: int, quantity: int = 12_300, received: int | None = 12_300, **changes) -> Transfer:
    dispatched = T0 + timedelta(hours=n)
    signatures = [Signature(SHIPPER, "shipper", "Dispatch", "0x" + f"{n:064x}", dispatched, tx(n))]
    if received is not None:
        signatures.append(
            Signature(
                RECEIVER,
                "receiver",
                "Receipt",
                "0x" + f"{n + 1:064x}",
                dispatched + timedelta(hours=2),
                tx(n + 500),
            )
        )
    t = Transfer(
        id="0x" + f"{n:064x}",
        lot_id="0x" + "10" * 32,
        shipper=SHIPPER,
        receiver=RECEIVER,
        code_key=SLAG.key,
        operation="R5",
        permit_id=PERMIT.id,
        quantity=quantity,
        dispatched_at=dispatched,
        status="received" if received is not None else "dispatched",
        received_quantity=received,
        received_at=dispatched + timedelta(hours=2) if received is not None else None,
        signatures=tuple(signatures),
        evidence=tx(n),
    )
    return replace(t, **changes)


def generated_lot(quantity: int = 100_000, balance: int | None = None) -> Lot:
    return Lot(
        "0x" + "10" * 32,
        SHIPPER,
        SLAG.key,
        "generated",
        quantity,
        quantity if balance is None else balance,
        T0 - timedelta(days=1),
        generator=SHIPPER,
        evidence=tx(999),
    )


def case(transfers: tuple[Transfer, ...] = (), lots: tuple[Lot, ...] = (), **fields) -> CaseFile:
    parties = (
        Party(SHIPPER, "Hoa Phat Steel", "Phu My 3", frozenset({"shipper"}), "active"),
        Party(RECEIVER, "Nam Cau Kien Stone", "Phu My 3", frozenset({"receiver"}), "active"),
    )
    values = dict(
        evaluation_date=T0 + timedelta(days=30),
        subject="test case",
        parties=parties,
        codes=(SLAG,),
        permits=(PERMIT,),
        lots=lots,
        transfers=transfers,
    )
    values.update(fields)
    return CaseFile(**values)


# --- Vietnam: codes of Circular 02/2022's list, the receiver's environmental permit (GPMT), the generator's
# permit declaring its hazardous waste, a carrier's licence and a VIMCERTS lab ------------------------------

LAB = "0x" + "54" * 20
VN = "VN-TT02-2022"
VN_SLAG = WasteCode("0x" + "d1" * 32, VN, "05 01 04", "steel slag", False, "KGM")
VN_SOLVENT = WasteCode("0x" + "d2" * 32, VN, "17 02 03**", "spent halogenated solvents", True, "KGM")
VN_SLUDGE = WasteCode("0x" + "d3" * 32, VN, "10 07 09*", "glass polishing sludge", False, "KGM")
VN_FISH = WasteCode("0x" + "d4" * 32, VN, "02 02 03", "fish heads and bones for feed", False, "KGM")
VN_WATER = WasteCode("0x" + "d5" * 32, VN, "12 06 13", "treated wastewater", False, "LTR")
VN_CODES = (VN_SLAG, VN_SOLVENT, VN_SLUDGE, VN_FISH, VN_WATER)
# The operation each code is sent for.
OPERATION = {VN_SLAG: "R5", VN_SOLVENT: "R2", VN_SLUDGE: "R5", VN_FISH: "R3", VN_WATER: "R3"}


def vn_permit(
    n: int, number: str, holder: str, kind: str, covered: dict, capacity: int = 1_000_000
) -> Permit:
    return Permit(
        "0x" + f"{n:02x}" * 32,
        number,
        holder,
        kind,
        tuple(Coverage(code.key, frozenset(ops)) for code, ops in covered.items()),
        capacity,
        T0 - timedelta(days=365),
        T0 + timedelta(days=365),
        evidence=tx(800 + n),
    )


GPMT = vn_permit(
    0xE2, "GPMT-36/2025", RECEIVER, "environmental_permit", {c: {OPERATION[c]} for c in VN_CODES}
)
GENERATOR_PERMIT = vn_permit(
    0xE3, "GPMT-12/2024", SHIPPER, "environmental_permit", {VN_SOLVENT: set()}, 50_000
)
LICENCE = vn_permit(0xE4, "CTNH-VC-07", CARRIER, "hazardous_waste_transport_licence", {VN_SOLVENT: {"R2"}})
ACCREDITATION = vn_permit(0xE5, "VIMCERTS 085", LAB, "lab_accreditation", {c: set() for c in VN_CODES})


def lot_of(code: WasteCode) -> str:
    return "0x" + ("b" + code.key[3]) * 32


def vn_lot(code: WasteCode, quantity: int = 100_000, balance: int | None = None, **changes) -> Lot:
    lot = replace(
        generated_lot(quantity, balance),
        id=lot_of(code),
        code_key=code.key,
        evidence=tx(900 + int(code.key[3])),
    )
    return replace(lot, **changes)


def vn_transfer(
    n: int, code: WasteCode, quantity: int = 12_300, received: int | None = 12_300, **changes
) -> Transfer:
    t = transfer(
        n,
        quantity,
        received,
        code_key=code.key,
        lot_id=lot_of(code),
        operation=OPERATION[code],
        permit_id=GPMT.id,
    )
    return replace(t, **changes)


def carried(t: Transfer, carrier: str = CARRIER, licence: str = LICENCE.id) -> Transfer:
    """`t` carried by `carrier`: its pick-up half an hour after dispatch, its delivery half an hour before the
    receipt (two hours after dispatch)."""
    legs = (
        Signature(
            carrier,
            "transporter",
            "PickUp",
            "0x" + "a7" * 32,
            t.dispatched_at + timedelta(minutes=30),
            tx(700),
        ),
        Signature(
            carrier,
            "transporter",
            "Delivery",
            "0x" + "a8" * 32,
            t.dispatched_at + timedelta(minutes=90),
            tx(701),
        ),
    )
    dispatch, *receipt = t.signatures
    return replace(t, transporters=(carrier,), licences=(licence,), signatures=(dispatch, *legs, *receipt))


def certificate(n: int, code: WasteCode, results: dict[str, int] | None = None, **changes) -> Certificate:
    c = Certificate(
        "0x" + "c" + f"{n:063x}",
        lot_of(code),
        LAB,
        ACCREDITATION.id,
        "0x" + "c1" * 32,
        "0x" + "c2" * 32,
        T0 - timedelta(days=3),
        T0 + timedelta(days=180),
        results=None if results is None else tuple(sorted(results.items())),
        evidence=tx(600 + n),
    )
    return replace(c, **changes)


def vn_case(transfers: tuple[Transfer, ...] = (), lots: tuple[Lot, ...] = (), **fields) -> CaseFile:
    parties = (
        Party(SHIPPER, "Hoa Phat Steel", "Deep C Hai Phong", frozenset({"shipper"}), "active"),
        Party(RECEIVER, "Nam Cau Kien Stone", "Deep C Hai Phong", frozenset({"receiver"}), "active"),
        Party(CARRIER, "Deep C Logistics", "Deep C Hai Phong", frozenset({"transporter"}), "active"),
        Party(LAB, "Quatest 3", "Deep C Hai Phong", frozenset({"lab"}), "active"),
    )
    values = dict(
        parties=parties,
        codes=VN_CODES,
        permits=(GPMT, GENERATOR_PERMIT, LICENCE, ACCREDITATION),
        lots=lots or tuple(vn_lot(code) for code in VN_CODES),
    )
    values.update(fields)
    return case(transfers, **values)
