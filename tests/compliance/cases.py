"""Small hand-built case files for the engine's own tests (the service tests build them from the chain)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from compliance.casefile import (
    CaseFile,
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
