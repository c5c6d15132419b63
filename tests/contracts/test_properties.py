"""Property tests (hypothesis through brownie's `given`, which reverts the chain between examples).

In a module of their own: brownie's `given` takes its own chain snapshot, which replaces the one
`fn_isolation` reverts to, so state a function-scoped fixture set up would leak into the next test. The lot,
the waste code and the permits are therefore module-scoped here (overriding conftest's function-scoped
ones): set up once, before any snapshot, every example of every test starts from them.
(brownie's stateful runner crashes in 1.22.2, see TOOLCHAIN.md: sequences are drawn as lists instead.)
"""

import time

import pytest
from brownie.test import given
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from typed_statements import (
    LOT_QUANTITY,
    MAX_QUANTITY,
    SLAG,
    SLAG_OPERATIONS,
    CatalogueCode,
    TransferStatus,
    code_key,
    plain,
    reverts,
    set_next_block_time,
    utc_timestamp,
    utc_year,
)

# deadline=None: each example sends transactions, whose latency is not the property under test.
# data_too_large: hypothesis 6.27 (brownie's) now and then overruns its example buffer on lists of 64-bit
# quantities, and fails the run for it (it did in CI once) although every example it tried passed.
EXAMPLES = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def slag(register_waste_code):
    tx = register_waste_code(*SLAG)
    return CatalogueCode(code_key(*SLAG[:2]), tx.events["WasteCodeRegistered"]["id"])


@pytest.fixture(scope="module")
def permit(receiver, slag, register_permit):
    return register_permit(receiver, [(slag.key, SLAG_OPERATIONS)])


@pytest.fixture(scope="module")
def lasting_permit(receiver, slag, register_permit):
    """A permit of the receiver valid until the end of the uint40 range (year 36812)."""
    return register_permit(receiver, [(slag.key, SLAG_OPERATIONS)], validUntil=2**40 - 1)


@pytest.fixture(scope="module")
def lot(shipper, slag, register_lot):
    return register_lot(shipper)


# Small and large parts of the 80 t lot, so that sequences both fit and overdraw it.
part = st.one_of(st.integers(1, LOT_QUANTITY // 4), st.integers(1, LOT_QUANTITY))


@EXAMPLES
@given(quantities=st.lists(part, min_size=1, max_size=7), ship_the_rest=st.booleans())
def test_split_dispatches_never_overdraw_a_lot(
    ledger, relayer, shipper, receiver, lot, permit, signed_dispatch, quantities, ship_the_rest
):
    balance, shipped = LOT_QUANTITY, {}
    for quantity in quantities:
        statement = signed_dispatch(shipper, receiver, lot, permit, quantity=quantity)
        if quantity <= balance:
            ledger.dispatch(*statement.args, {"from": relayer})
            balance -= quantity
            shipped[statement.digest] = quantity
        else:
            with reverts("InsufficientLotBalance", lot, balance, quantity):
                ledger.dispatch(*statement.args, {"from": relayer})
        assert plain(ledger.lot(lot))[1] == balance
    if ship_the_rest and balance:
        statement = signed_dispatch(shipper, receiver, lot, permit, quantity=balance)
        ledger.dispatch(*statement.args, {"from": relayer})
        shipped[statement.digest] = balance
        balance = 0

    assert plain(ledger.lot(lot))[1] == balance >= 0
    stored = {transfer_id: plain(ledger.transfer(transfer_id))[2] for transfer_id in shipped}
    assert stored == shipped
    assert balance + sum(stored.values()) == LOT_QUANTITY


@EXAMPLES
@given(
    shipments=st.lists(
        st.tuples(st.integers(1, LOT_QUANTITY // 4), st.integers(1, MAX_QUANTITY)), min_size=1, max_size=4
    )
)
def test_received_lots_hold_exactly_what_was_measured(
    ledger, shipper, receiver, slag, lot, permit, dispatch, receive, shipments
):
    for shipped, received in shipments:
        transfer_id = dispatch(shipper, receiver, lot, permit, quantity=shipped).events["TransferDispatched"][
            "transferId"
        ]
        tx = receive(transfer_id, receiver, received)
        assert tx.events["TransferReceived"]["shippedQuantity"] == shipped
        assert plain(ledger.lot(transfer_id)) == (receiver.address, received, slag.id)
        assert plain(ledger.transfer(transfer_id)) == (
            receiver.address,
            TransferStatus.RECEIVED,
            shipped,
            slag.id,
        )
    # Whatever the receivers measured, the source lot was debited by what was shipped.
    assert plain(ledger.lot(lot))[1] == LOT_QUANTITY - sum(shipped for shipped, _ in shipments)


# --- calendar years ----------------------------------------------------------------------------------

FIRST_YEAR = utc_year(time.time()) + 1  # the chain can only move forward from today
LAST_YEAR = 9999  # the last year Python's datetime, the reference here, can name
DAY = 24 * 3600


def _year_turns():
    # The last and the first second of a year, where a wrong calendar would show first.
    return st.tuples(st.integers(FIRST_YEAR, LAST_YEAR), st.sampled_from([-1, 0])).map(
        lambda t: utc_timestamp(t[0]) + t[1]
    )


@EXAMPLES
@given(
    when=st.one_of(
        _year_turns(),
        st.integers(utc_timestamp(FIRST_YEAR), utc_timestamp(LAST_YEAR, 12, 31) - DAY),
    )
)
def test_capacity_is_counted_in_the_utc_calendar_year(
    ledger, shipper, receiver, lot, lasting_permit, dispatch, when
):
    set_next_block_time(when)
    tx = dispatch(shipper, receiver, lot, lasting_permit, quantity=7, deadline=when + DAY)
    assert tx.timestamp == when
    year = utc_year(when)
    used = [ledger.capacityUsed(lasting_permit, y) for y in (year - 1, year, year + 1)]
    assert used == [0, 7, 0]
