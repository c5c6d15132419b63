"""SymbiosisLedger.dispatch against the receiver's permit: holder and kind, revocation, validity, operation and
waste-code coverage, and yearly capacity per UTC calendar year.

Times that an assertion names exactly (a permit's validity bounds, the turn of a year) are set on the next
block with `set_next_block_time`; statements sent then are signed with a deadline after that time.
"""

import pytest
from brownie import chain
from typed_statements import (
    ALL_OPERATIONS,
    LOT_QUANTITY,
    OIL_OPERATIONS,
    OPERATIONS,
    RECEIVER,
    SHIPPED,
    SLAG_OPERATIONS,
    PermitKind,
    TransferStatus,
    dispatched_per_year,
    new_party,
    operation_bit,
    operation_index,
    permit_id,
    plain,
    r_operation,
    reverts,
    set_next_block_time,
    utc_timestamp,
    utc_year,
)

DAY = 24 * 3600
YEAR = 365 * DAY


# --- whose permit, of what kind ----------------------------------------------------------------------


def test_unknown_permit(ledger, relayer, shipper, receiver, lot, signed_dispatch):
    unknown = permit_id("GP-999999/BTNMT")
    with reverts("UnknownPermit", unknown):
        ledger.dispatch(*signed_dispatch(shipper, receiver, lot, unknown).args, {"from": relayer})


def test_permit_of_another_holder(
    ledger, relayer, register, shipper, receiver, slag, lot, register_permit, signed_dispatch
):
    # Another receiver's permit cannot cover this receiver's intake.
    other = new_party()
    register(other, RECEIVER)
    others_permit = register_permit(other, [(slag.key, SLAG_OPERATIONS)])
    with reverts("PermitNotReceivers", others_permit, receiver.address):
        ledger.dispatch(*signed_dispatch(shipper, receiver, lot, others_permit).args, {"from": relayer})


def test_permit_of_the_shipper(
    ledger, relayer, shipper, receiver, slag, lot, register_permit, signed_dispatch
):
    shippers_permit = register_permit(shipper, [(slag.key, SLAG_OPERATIONS)])
    with reverts("PermitNotReceivers", shippers_permit, receiver.address):
        ledger.dispatch(*signed_dispatch(shipper, receiver, lot, shippers_permit).args, {"from": relayer})


@pytest.mark.parametrize("kind", [PermitKind.HAZARDOUS_WASTE_TRANSPORT_LICENCE, PermitKind.LAB_ACCREDITATION])
def test_receivers_permit_of_another_kind(
    ledger, relayer, shipper, receiver, slag, lot, register_permit, signed_dispatch, kind
):
    # Held by the receiver and covering slag for R5, but not an environmental permit.
    licence = register_permit(receiver, [(slag.key, SLAG_OPERATIONS)], kind=kind)
    with reverts("PermitNotReceivers", licence, receiver.address):
        ledger.dispatch(*signed_dispatch(shipper, receiver, lot, licence).args, {"from": relayer})


def test_revoked_permit(ledger, relayer, shipper, receiver, lot, permit, revoke_permit, signed_dispatch):
    revoke_permit(permit)
    with reverts("RevokedPermit", permit):
        ledger.dispatch(*signed_dispatch(shipper, receiver, lot, permit).args, {"from": relayer})


def test_dispatch_before_revocation_stands(ledger, shipper, receiver, lot, permit, dispatch, revoke_permit):
    tx = dispatch(shipper, receiver, lot, permit)
    revoke_permit(permit)
    assert (
        plain(ledger.transfer(tx.events["TransferDispatched"]["transferId"]))[1] == TransferStatus.DISPATCHED
    )


# --- validity ----------------------------------------------------------------------------------------


@pytest.fixture
def validity(receiver, slag, register_permit):
    """A permit of the receiver valid from a day ahead for 30 days: (id, validFrom, validUntil)."""
    valid_from = chain[-1].timestamp + DAY
    valid_until = valid_from + 30 * DAY
    pid = register_permit(
        receiver, [(slag.key, SLAG_OPERATIONS)], validFrom=valid_from, validUntil=valid_until
    )
    return pid, valid_from, valid_until


@pytest.mark.parametrize("offset", [-1, 0], ids=["second-before", "now"])
def test_permit_not_yet_valid(ledger, relayer, shipper, receiver, lot, validity, signed_dispatch, offset):
    pid, valid_from, valid_until = validity
    time = valid_from - 1 if offset == -1 else chain[-1].timestamp + 1
    statement = signed_dispatch(shipper, receiver, lot, pid, deadline=valid_until)
    set_next_block_time(time)
    with reverts("PermitNotValid", pid, valid_from, valid_until, time):
        ledger.dispatch(*statement.args, {"from": relayer})


def test_permit_expired(ledger, relayer, shipper, receiver, lot, validity, signed_dispatch):
    pid, valid_from, valid_until = validity
    statement = signed_dispatch(shipper, receiver, lot, pid, deadline=valid_until + DAY)
    chain.sleep(valid_until - chain.time() - 60)  # close to the end: chain.sleep, then the exact second
    chain.mine()
    set_next_block_time(valid_until + 1)
    with reverts("PermitNotValid", pid, valid_from, valid_until, valid_until + 1):
        ledger.dispatch(*statement.args, {"from": relayer})


def test_permit_long_expired(ledger, relayer, shipper, receiver, lot, validity, signed_dispatch):
    pid, valid_from, valid_until = validity
    # brownie 1.22's chain.mine(timestamp=...) sends anvil a malformed evm_mine: sleep, then mine.
    chain.sleep(valid_until + YEAR - chain.time())
    chain.mine()
    statement = signed_dispatch(shipper, receiver, lot, pid)  # signed now, after the jump
    set_next_block_time(valid_until + YEAR + 1)
    with reverts("PermitNotValid", pid, valid_from, valid_until, valid_until + YEAR + 1):
        ledger.dispatch(*statement.args, {"from": relayer})


@pytest.mark.parametrize("bound", ["validFrom", "validUntil"])
def test_permit_valid_on_its_first_and_last_second(ledger, shipper, receiver, lot, validity, dispatch, bound):
    pid, valid_from, valid_until = validity
    time = valid_from if bound == "validFrom" else valid_until
    set_next_block_time(time)
    tx = dispatch(shipper, receiver, lot, pid, deadline=valid_until + DAY)
    assert tx.timestamp == time
    assert ledger.capacityUsed(pid, utc_year(time)) == SHIPPED


# --- operations and waste codes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "operation", ["", "R", "R0", "R14", "D0", "D16", "X5", "R05", "R1a", "r5", "R 5", "R100"]
)
def test_unknown_operation(ledger, relayer, shipper, receiver, lot, permit, signed_dispatch, operation):
    statement = signed_dispatch(shipper, receiver, lot, permit, operation=operation)
    with reverts("UnknownOperation", operation):
        ledger.dispatch(*statement.args, {"from": relayer})


@pytest.mark.parametrize("operation", ["R1", "R3", "R13", "D10", "D1"])
def test_operation_not_in_the_permit(
    ledger, relayer, shipper, receiver, slag, lot, permit, signed_dispatch, operation
):
    # The permit allows R4 and R5 for slag (D10 only for waste oil).
    statement = signed_dispatch(shipper, receiver, lot, permit, operation=operation)
    with reverts("PermitDoesNotCover", permit, slag.id, operation):
        ledger.dispatch(*statement.args, {"from": relayer})


@pytest.mark.parametrize("allowed", ["R1", "R13", "D1", "D15"])
def test_each_operation_maps_to_its_bit(
    ledger, relayer, shipper, receiver, slag, lot, register_permit, signed_dispatch, dispatch, allowed
):
    # A permit allowing one operation only: every other of the 28 codes is refused, that one accepted.
    pid = register_permit(receiver, [(slag.key, operation_bit(allowed))])
    for operation in OPERATIONS:
        if operation != allowed:
            with reverts("PermitDoesNotCover", pid, slag.id, operation):
                ledger.dispatch(
                    *signed_dispatch(shipper, receiver, lot, pid, operation=operation).args, {"from": relayer}
                )
    tx = dispatch(shipper, receiver, lot, pid, operation=allowed)
    # The event carries the operation as its bit's index: R1..R13 -> 0..12, D1..D15 -> 13..27.
    assert tx.events["TransferDispatched"]["operation"] == operation_index(allowed)
    assert {"R1": 0, "R13": 12, "D1": 13, "D15": 27}[allowed] == operation_index(allowed)


def test_every_operation_under_a_permit_allowing_all(
    ledger, shipper, receiver, slag, lot, register_permit, dispatch
):
    pid = register_permit(receiver, [(slag.key, ALL_OPERATIONS)])
    emitted = [
        dispatch(shipper, receiver, lot, pid, quantity=1, operation=operation).events["TransferDispatched"][
            "operation"
        ]
        for operation in OPERATIONS
    ]
    assert emitted == list(range(28))
    assert plain(ledger.lot(lot))[1] == LOT_QUANTITY - len(OPERATIONS)


def test_code_not_covered(
    ledger, relayer, shipper, receiver, permit, register_waste_code, register_lot, signed_dispatch
):
    # Fly ash: a catalogued code the receiver's permit does not list.
    tx = register_waste_code("EU-LOW", "10 01 02", "KGM", False, "coal fly ash")
    ash_id = tx.events["WasteCodeRegistered"]["id"]
    ash_lot = register_lot(shipper, wasteCode="10 01 02")
    with reverts("PermitDoesNotCover", permit, ash_id, "R5"):
        ledger.dispatch(*signed_dispatch(shipper, receiver, ash_lot, permit).args, {"from": relayer})


def test_operations_are_per_code(
    ledger, relayer, shipper, receiver, waste_oil, permit, register_lot, signed_dispatch, dispatch
):
    # R5 is allowed for slag but not for waste oil; D10 the other way round (checked in test_operation_not_in_the_permit).
    oil_lot = register_lot(shipper, wasteCode="13 02 05*", unit="LTR", quantity=5_000)
    with reverts("PermitDoesNotCover", permit, waste_oil.id, "R5"):
        ledger.dispatch(
            *signed_dispatch(shipper, receiver, oil_lot, permit, quantity=100).args, {"from": relayer}
        )
    for operation in ("R9", "R13", "D10"):
        assert OIL_OPERATIONS & operation_bit(operation)
        dispatch(shipper, receiver, oil_lot, permit, quantity=100, operation=operation)
    assert plain(ledger.lot(oil_lot))[1] == 4_700


def test_r4_is_allowed_for_slag(ledger, shipper, receiver, lot, permit, dispatch):
    assert r_operation(4) | r_operation(5) == SLAG_OPERATIONS
    tx = dispatch(shipper, receiver, lot, permit, operation="R4")
    assert tx.events["TransferDispatched"]["operation"] == operation_index("R4") == 3


# --- yearly capacity ---------------------------------------------------------------------------------


@pytest.fixture
def small_permit(receiver, slag, register_permit):
    """A permit of the receiver for slag with a yearly capacity of 30 t."""
    return register_permit(receiver, [(slag.key, SLAG_OPERATIONS)], yearlyCapacity=30_000)


def test_capacity_exceeded(ledger, relayer, shipper, receiver, lot, small_permit, dispatch, signed_dispatch):
    first = dispatch(shipper, receiver, lot, small_permit)
    dispatch(shipper, receiver, lot, small_permit)
    year = utc_year(first.timestamp)
    assert ledger.capacityUsed(small_permit, year) == 2 * SHIPPED

    with reverts("PermitCapacityExceeded", small_permit, year, 25_000, SHIPPED, 30_000):
        ledger.dispatch(*signed_dispatch(shipper, receiver, lot, small_permit).args, {"from": relayer})

    dispatch(shipper, receiver, lot, small_permit, quantity=5_000)  # fills it exactly
    assert ledger.capacityUsed(small_permit, year) == 30_000
    with reverts("PermitCapacityExceeded", small_permit, year, 30_000, 1, 30_000):
        ledger.dispatch(
            *signed_dispatch(shipper, receiver, lot, small_permit, quantity=1).args, {"from": relayer}
        )
    assert plain(ledger.lot(lot))[1] == LOT_QUANTITY - 30_000


def test_single_dispatch_above_capacity(
    ledger, relayer, shipper, receiver, lot, small_permit, signed_dispatch
):
    year = utc_year(chain[-1].timestamp)
    statement = signed_dispatch(shipper, receiver, lot, small_permit, quantity=30_001)
    with reverts("PermitCapacityExceeded", small_permit, year, 0, 30_001, 30_000):
        ledger.dispatch(*statement.args, {"from": relayer})


def test_capacity_is_per_permit(
    ledger, shipper, receiver, slag, lot, small_permit, register_permit, dispatch
):
    other = register_permit(receiver, [(slag.key, SLAG_OPERATIONS)], yearlyCapacity=30_000)
    tx = dispatch(shipper, receiver, lot, small_permit, quantity=30_000)
    dispatch(shipper, receiver, lot, other, quantity=30_000)
    year = utc_year(tx.timestamp)
    assert (ledger.capacityUsed(small_permit, year), ledger.capacityUsed(other, year)) == (30_000, 30_000)


def test_capacity_counts_every_code_of_the_permit(
    ledger,
    relayer,
    shipper,
    receiver,
    permit,
    register_permit,
    slag,
    waste_oil,
    lot,
    register_lot,
    dispatch,
    signed_dispatch,
):
    # One yearly capacity per permit, whatever code and unit each dispatch is in.
    pid = register_permit(
        receiver, [(slag.key, SLAG_OPERATIONS), (waste_oil.key, OIL_OPERATIONS)], yearlyCapacity=20_000
    )
    oil_lot = register_lot(shipper, wasteCode="13 02 05*", unit="LTR", quantity=10_000)
    tx = dispatch(shipper, receiver, lot, pid, quantity=15_000)
    year = utc_year(tx.timestamp)
    with reverts("PermitCapacityExceeded", pid, year, 15_000, 6_000, 20_000):
        ledger.dispatch(
            *signed_dispatch(shipper, receiver, oil_lot, pid, quantity=6_000, operation="R9").args,
            {"from": relayer},
        )


def test_capacity_resets_in_the_next_calendar_year(
    ledger, relayer, shipper, receiver, lot, small_permit, dispatch, signed_dispatch
):
    first = dispatch(shipper, receiver, lot, small_permit, quantity=30_000)
    year = utc_year(first.timestamp)
    new_year = utc_timestamp(year + 1)

    # Still this year on its last second: refused.
    chain.sleep(new_year - chain.time() - 3600)
    chain.mine()
    statement = signed_dispatch(shipper, receiver, lot, small_permit, quantity=1, deadline=new_year + DAY)
    set_next_block_time(new_year - 1)
    with reverts("PermitCapacityExceeded", small_permit, year, 30_000, 1, 30_000):
        ledger.dispatch(*statement.args, {"from": relayer})

    # On 1 January 00:00:00 UTC the capacity is whole again.
    set_next_block_time(new_year)
    tx = dispatch(shipper, receiver, lot, small_permit, quantity=30_000, deadline=new_year + DAY)
    assert tx.timestamp == new_year
    assert ledger.capacityUsed(small_permit, year + 1) == 30_000
    with reverts("PermitCapacityExceeded", small_permit, year + 1, 30_000, 1, 30_000):
        ledger.dispatch(*statement.args, {"from": relayer})
    # The permit's one capacity slot now counts the new year: the old year reads 0, its figure is in the events.
    assert ledger.capacityUsed(small_permit, year) == 0
    assert dispatched_per_year(ledger, small_permit, first.block_number) == {year: 30_000, year + 1: 30_000}


def test_capacity_years_follow_utc_not_365_day_blocks(
    ledger, shipper, receiver, slag, lot, register_permit, dispatch
):
    # 2028 is a leap year: its 29 February and 31 December belong to 2028, 1 January 2029 to 2029.
    pid = register_permit(
        receiver, [(slag.key, SLAG_OPERATIONS)], yearlyCapacity=10, validUntil=utc_timestamp(2031)
    )
    # Capacity 10, two dispatches of 5 a year: a dispatch counted in the year before would be refused, one
    # counted in the year after would leave its year's reading short.
    from_block = chain.height + 1
    for when, year, before in [
        (utc_timestamp(2028, 2, 29, 12), 2028, 0),
        (utc_timestamp(2028, 12, 31, 23, 59, 59), 2028, 5),
        (utc_timestamp(2029, 1, 1), 2029, 0),
        (utc_timestamp(2029, 12, 31, 23, 59, 59), 2029, 5),
        (utc_timestamp(2030, 1, 1, 0, 0, 1), 2030, 0),
    ]:
        assert utc_year(when) == year
        assert ledger.capacityUsed(pid, year) == before
        set_next_block_time(when)
        dispatch(shipper, receiver, lot, pid, quantity=5, deadline=when + DAY)
        assert ledger.capacityUsed(pid, year) == before + 5
    # Only the latest dispatch's year reads in capacityUsed; each year's figure is in the events.
    assert [ledger.capacityUsed(pid, y) for y in (2027, 2028, 2029, 2030, 2031)] == [0, 0, 0, 5, 0]
    assert dispatched_per_year(ledger, pid, from_block) == {2028: 10, 2029: 10, 2030: 5}
