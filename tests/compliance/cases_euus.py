"""Hand-built case files for the EU and US packs: codes of both schemes, transfers with every custody
signature, lab certificates with results, processings that make by-products and end-of-waste products."""

from dataclasses import replace
from datetime import timedelta

from cases import CARRIER, RECEIVER, SHIPPER, SLAG, T0, case, tx

from compliance.casefile import (
    Certificate,
    Correction,
    Document,
    Lot,
    Party,
    Processing,
    ProcessingInput,
    ProcessingOutput,
    Signature,
    Transfer,
    WasteCode,
)

BUYER = "0x" + "54" * 20
LAB = "0x" + "55" * 20
HOURS = timedelta(hours=1)
DAYS = timedelta(days=1)


def code(n: int, scheme: str, entry: str, description: str, hazardous: bool, unit: str = "KGM") -> WasteCode:
    return WasteCode("0x" + f"{0xC0 + n:02x}" * 32, scheme, entry, description, hazardous, unit, tx(600 + n))


GLASS_SLUDGE = code(
    2, "EU-LOW", "10 11 14", "glass-polishing and -grinding sludge other than 10 11 13", False
)
GLASS_SLUDGE_HAZ = code(3, "EU-LOW", "10 11 13*", "glass-polishing and -grinding sludge (hazardous)", True)
STEEL_WASTE = code(4, "EU-LOW", "17 04 05", "iron and steel", False)
SCRAP = code(5, "EU-LOW", "19 12 02", "ferrous metal", False)
CULLET = code(6, "EU-LOW", "19 12 05", "glass", False)
SOLVENT_EU = code(7, "EU-LOW", "14 06 03*", "other solvents and solvent mixtures", True)
STONE = code(8, "UN-CPC", "15320", "artificial stone", False)
SOLVENT = code(9, "US-RCRA", "F003", "spent non-halogenated solvents", True)
DRUMS = code(10, "US-RCRA", "D001", "ignitable waste in drums", True, "H87")
SPENT_ACID = code(11, "US-RCRA", "D002", "corrosive waste", True, "LTR")
NON_HAZ_US = code(12, "US-RCRA", "NONHAZ", "non-hazardous industrial waste", False)
ASH_VN = code(13, "VN-TT02-2022", "04 02 04", "bottom ash", False)
CODES = (SLAG, GLASS_SLUDGE, GLASS_SLUDGE_HAZ, STEEL_WASTE, SCRAP, CULLET, SOLVENT_EU, STONE)
CODES += (SOLVENT, DRUMS, SPENT_ACID, NON_HAZ_US, ASH_VN)

PARTIES = (
    Party(SHIPPER, "Hoa Phat Steel", "Phu My 3", frozenset({"shipper"}), "active"),
    Party(RECEIVER, "Nam Cau Kien Stone", "Phu My 3", frozenset({"receiver", "shipper"}), "active"),
    Party(CARRIER, "Saigon Hazmat Haulage", "Phu My 3", frozenset({"transporter"}), "active"),
    Party(BUYER, "Kalundborg Foundry", "Kalundborg", frozenset({"receiver"}), "active"),
    Party(LAB, "Quatest 3", "Phu My 3", frozenset({"lab"}), "active"),
)


def carried(
    n: int,
    waste: WasteCode = SOLVENT,
    quantity: int = 10_000,
    received: int | None = 10_000,
    pickup: timedelta | None = HOURS,
    delivered: timedelta | None = 5 * HOURS,
    signed: timedelta | None = 6 * HOURS,
    **changes,
) -> Transfer:
    """Transfer `n` of `waste` from SHIPPER to RECEIVER by CARRIER: the shipper signs its dispatch at T0 + n
    hours; the carrier's pick-up, its delivery and the receiver's receipt follow after the given delays (None:
    not signed yet). Without a receipt, nothing is received."""
    dispatched = T0 + n * HOURS
    steps = [(SHIPPER, "shipper", "Dispatch", timedelta(0))]
    steps += [(CARRIER, "transporter", "PickUp", pickup), (CARRIER, "transporter", "Delivery", delivered)]
    steps += [(RECEIVER, "receiver", "Receipt", signed if received is not None else None)]
    signatures = tuple(
        Signature(party, role, statement, "0x" + f"{n * 10 + i:064x}", dispatched + after, tx(n * 10 + i))
        for i, (party, role, statement, after) in enumerate(steps)
        if after is not None
    )
    t = Transfer(
        id="0x" + f"{n:064x}",
        lot_id="0x" + "10" * 32,
        shipper=SHIPPER,
        receiver=RECEIVER,
        code_key=waste.key,
        operation="R2",
        permit_id="0x" + "e1" * 32,
        quantity=quantity,
        dispatched_at=dispatched,
        status="received" if received is not None else "dispatched",
        transporters=(CARRIER,),
        licences=("0x" + "00" * 32,),
        received_quantity=received,
        received_at=dispatched + signed if received is not None and signed is not None else None,
        signatures=signatures,
        evidence=tx(n),
    )
    return replace(t, **changes)


def certificate(
    n: int, lot_id: str, issued_days: int = -10, results: dict[str, int] | None = None, **changes
) -> Certificate:
    """Certificate `n` on `lot_id`, issued `issued_days` from T0 and valid a year."""
    issued = T0 + issued_days * DAYS
    c = Certificate(
        id="0x" + f"{n:02x}" * 32,
        lot_id=lot_id,
        lab=LAB,
        accreditation_id="0x" + "ac" * 32,
        document_hash="0x" + "d0" * 32,
        results_hash="0x" + "d1" * 32,
        issued_at=issued,
        valid_until=issued + 365 * DAYS,
        results=tuple(sorted(results.items())) if results is not None else None,
        evidence=tx(700 + n),
    )
    return replace(c, **changes)


def lot(n: int, holder: str, waste: WasteCode, origin: str, created_days: int = -30, **changes) -> Lot:
    """Lot `n` of 10,000 of `waste`, opened `created_days` from T0."""
    opened = Lot(
        "0x" + f"{n:02x}" * 32,
        holder,
        waste.key,
        origin,
        10_000,
        10_000,
        T0 + created_days * DAYS,
        generator=holder if origin == "generated" else None,
        evidence=tx(800 + n),
    )
    return replace(opened, **changes)


def shipped(
    n: int, of: Lot, receiver: str = BUYER, operation: str = "R4", days: int = 0, **changes
) -> Transfer:
    """Its holder's transfer `n` of lot `of`, direct (no carrier), dispatched `n` minutes after T0 + `days`
    days and received two hours later."""
    t = carried(
        n,
        _code_of(of),
        quantity=of.quantity,
        received=of.quantity,
        pickup=None,
        delivered=None,
        signed=2 * HOURS,
        lot_id=of.id,
        shipper=of.holder,
        receiver=receiver,
        operation=operation,
        transporters=(),
        licences=(),
    )
    moved = days * DAYS - n * HOURS + n * timedelta(minutes=1)
    t = replace(
        t,
        dispatched_at=t.dispatched_at + moved,
        received_at=t.received_at + moved if t.received_at else None,
        signatures=tuple(
            replace(
                s,
                party=of.holder if s.statement == "Dispatch" else receiver,
                recorded_at=s.recorded_at + moved,
            )
            for s in t.signatures
        ),
    )
    return replace(t, **changes)


def _code_of(of: Lot) -> WasteCode:
    return next(c for c in CODES if c.key == of.code_key)


def processing(
    n: int, processor: str, inputs: tuple[Lot, ...], outputs: tuple[tuple[str, Lot], ...], **changes
):
    return Processing(
        id="0x" + f"{n:02x}" * 32,
        processor=processor,
        recorded_at=T0 - 20 * DAYS,
        inputs=tuple(ProcessingInput(i.id, i.quantity) for i in inputs),
        outputs=tuple(ProcessingOutput(o.id, kind, o.quantity) for kind, o in outputs),
        evidence=tx(900 + n),
        **changes,
    )


def correction(n: int, t: Transfer, shipped_delta: int, received_delta: int, after: timedelta, **changes):
    """A correction of `t` countersigned `after` its receipt."""
    assert t.received_at is not None
    c = Correction(
        "0x" + f"{n:02x}" * 32,
        t.id,
        shipped_delta,
        received_delta,
        "weighbridge re-read",
        t.received_at + after - HOURS,
        t.received_at + after,
        tx(950 + n),
    )
    return replace(c, **changes)


def document(t: Transfer, stored: bool = True, intact: bool | None = True) -> Document:
    assert t.document_hash is not None
    return Document(t.document_hash, "application/pdf", stored, intact)


def euus_case(transfers=(), lots=(), **fields):
    """A case file of these parties and codes, evaluated 30 days after T0 unless told otherwise."""
    return case(tuple(transfers), tuple(lots), parties=PARTIES, codes=CODES, **fields)


def by_product() -> tuple[Lot, Processing, Transfer, Certificate]:
    """Slag a steel mill (SHIPPER) declared a by-product of making steel from virgin inputs, shipped to
    RECEIVER for R5 on T0 and certified five weeks before."""
    steel = lot(0x21, SHIPPER, STONE, "produced")
    slag = lot(0x22, SHIPPER, SLAG, "produced", balance=0)
    mill = processing(
        0x31, SHIPPER, (), (("product", steel), ("by_product", slag)), external_grams=50_000_000
    )
    return slag, mill, shipped(41, slag, receiver=RECEIVER, operation="R5"), certificate(0x51, slag.id, -35)


def recovered(output: WasteCode, source_operation: str = "R4"):
    """RECEIVER recovered iron and steel waste it received from SHIPPER (for `source_operation`) into a
    product lot coded `output`, which it ships to BUYER on T0: the product lot, the lots it came from
    (generated, then received), the processing, the incoming transfer and the outgoing consignment."""
    generated = lot(0x20, SHIPPER, STEEL_WASTE, "generated", -90, balance=0)
    incoming = shipped(40, generated, receiver=RECEIVER, operation=source_operation, days=-61)
    waste = lot(0x23, RECEIVER, STEEL_WASTE, "received", -61, source_transfer=incoming.id, balance=0)
    product = lot(0x24, RECEIVER, output, "produced", -20, balance=0)
    plant = processing(0x32, RECEIVER, (waste,), (("product", product),))
    consignment = shipped(42, product, receiver=BUYER, operation="R4")
    return product, (generated, waste), plant, incoming, consignment


def recovered_case(output: WasteCode, certs=(), source_operation: str = "R4", **changes):
    """The case file of `recovered(output)`; `changes` replace fields of its consignment."""
    product, sources, plant, incoming, consignment = recovered(output, source_operation)
    return euus_case(
        (incoming, replace(consignment, **changes)),
        (product, *sources),
        processings=(plant,),
        certificates=tuple(certs),
    )
