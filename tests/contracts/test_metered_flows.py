"""Metered flows (contracts/flows/MeteredFlows.sol): a pipe's periodic totals, signed by both parties.

A supplier (active SHIPPER) and an offtaker (active RECEIVER) register a flow together; then periods are
anchored in order, many per transaction, each signed by both, each only after it has ended. Every rule is
exercised on its legal and its refused path; refusals are matched to the exact custom error.

The property test at the end draws sequences of anchor calls with hypothesis through brownie's `given`, which
takes its own chain snapshot: what it uses is module-scoped (set up before that snapshot, see
test_properties.py).
"""

import pytest
from brownie import ERC1271Wallet, MeteredFlows, chain
from brownie.test import given
from flow_statements import (
    FLOW_UNITS,
    HOUR,
    METER_ID,
    NO_SIGNATURE,
    anchored_periods,
    compact,
    expand,
    malleable,
    period_digest,
    reading_hash,
    sign_digest,
    sign_flow,
    sign_period,
    sign_periods,
    signed_by_type,
)
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from typed_statements import (
    RECEIVER,
    SHIPPER,
    ZERO_ADDRESS,
    address_of,
    deadline_in,
    new_party,
    next_nonce,
    plain,
    reverts,
    set_next_block_time,
)

ENDED = 24  # periods of the `flow` fixture that have ended when it is registered
QUANTITIES = [41_250, 39_980, 0, 40_115, 2**64 - 1]  # a period may carry nothing (the pipe was shut)


@pytest.fixture(scope="module")
def metered_flows(registry, relayer):
    """MeteredFlows, deployed beside SymbiosisLedger, which it asks for the parties' standing."""
    return MeteredFlows.deploy(registry, {"from": relayer})


@pytest.fixture(scope="module")
def supplier(shipper):
    """The steam supplier: an active SHIPPER."""
    return shipper


@pytest.fixture(scope="module")
def offtaker(receiver):
    """The steam offtaker: an active RECEIVER."""
    return receiver


@pytest.fixture(scope="module")
def signed_flow(metered_flows):
    """A RegisterFlow statement signed by both parties (or by `supplier_signer` / `offtaker_signer` in their
    place): hourly steam in tonnes, period 0 starting ENDED hours before the latest block."""

    def build(supplier, offtaker, supplier_signer=None, offtaker_signer=None, chain_id=None, **fields):
        message = {
            "supplier": address_of(supplier),
            "offtaker": address_of(offtaker),
            "medium": "steam",
            "unit": "TNE",
            "meterId": METER_ID,
            "periodSeconds": HOUR,
            "firstPeriodStart": chain[-1].timestamp - ENDED * HOUR,
            "nonce": next_nonce(),
            "deadline": deadline_in(3600),
            **fields,
        }
        return sign_flow(
            metered_flows, supplier_signer or supplier, offtaker_signer or offtaker, message, chain_id
        )

    return build


@pytest.fixture(scope="module")
def register_flow(metered_flows, relayer, signed_flow):
    """Registers a flow (arguments as `signed_flow`); returns the flow id."""

    def run(supplier, offtaker, **kwargs):
        statement = signed_flow(supplier, offtaker, **kwargs)
        metered_flows.registerFlow(*statement.args, {"from": relayer})
        return statement.digest

    return run


@pytest.fixture(scope="module")
def anchor(metered_flows, relayer):
    """Anchors `entries` (Period tuples, or SignedPeriods) of `flow_id` from `first`; returns the transaction."""

    def run(flow_id, first, entries):
        entries = [e.entry() if hasattr(e, "entry") else e for e in entries]
        return metered_flows.anchorPeriods(flow_id, first, entries, {"from": relayer})

    return run


@pytest.fixture(scope="module")
def periods(metered_flows, supplier, offtaker):
    """Periods of a flow of `supplier` and `offtaker` from `first`, with `quantities`, signed by both."""

    def build(flow_id, first, quantities, supplier_signer=supplier, offtaker_signer=offtaker):
        return sign_periods(metered_flows, supplier_signer, offtaker_signer, flow_id, first, quantities)

    return build


@pytest.fixture
def flow(supplier, offtaker, register_flow):
    """The id of an hourly steam flow from `supplier` to `offtaker` whose first ENDED periods have ended."""
    return register_flow(supplier, offtaker)


def anchored(tx):
    """(flow id, period, quantity, reading hash) of each period `tx` anchored, from its one PeriodsAnchored event."""
    assert len(tx.events["PeriodsAnchored"]) == 1
    return anchored_periods(tx)


def expected(flow_id, signed):
    return [(bytes(flow_id), p.period, p.quantity, p.reading_hash) for p in signed]


# --- registration ---------------------------------------------------------------------------------------


def test_a_flow_is_registered_on_both_signatures(metered_flows, relayer, supplier, offtaker, signed_flow):
    statement = signed_flow(supplier, offtaker, medium="treated wastewater", unit="MTQ")
    tx = metered_flows.registerFlow(*statement.args, {"from": relayer})

    assert bytes(tx.return_value) == statement.digest
    event = tx.events["FlowRegistered"]
    message = statement.message
    assert plain(dict(event)) == {
        "flowId": statement.digest,
        "supplier": supplier.address,
        "offtaker": offtaker.address,
        "medium": "treated wastewater",
        "unit": "MTQ",
        "meterId": METER_ID,
        "periodSeconds": HOUR,
        "firstPeriodStart": message["firstPeriodStart"],
    }
    assert plain(metered_flows.flow(statement.digest)) == (
        supplier.address,
        offtaker.address,
        message["firstPeriodStart"],
        HOUR,
        0,
    )
    assert plain(metered_flows.flow(b"\x01" * 32)) == (ZERO_ADDRESS, ZERO_ADDRESS, 0, 0, 0)
    assert len(tx.events) == 1


def test_the_registry_is_the_ledger(metered_flows, registry):
    assert metered_flows.registry() == registry.address


@pytest.mark.parametrize("unit", FLOW_UNITS)
def test_every_listed_unit_is_accepted(metered_flows, relayer, supplier, offtaker, signed_flow, unit):
    statement = signed_flow(supplier, offtaker, medium="CO2", unit=unit)
    tx = metered_flows.registerFlow(*statement.args, {"from": relayer})
    assert tx.events["FlowRegistered"]["unit"] == unit


@pytest.mark.parametrize("unit", ["", "kgm", "KG", "M3", "GJ", "TNE ", "KGMKGM"])
def test_an_unlisted_unit_is_refused(metered_flows, relayer, supplier, offtaker, signed_flow, unit):
    statement = signed_flow(supplier, offtaker, unit=unit)
    with reverts("UnknownUnit", unit):
        metered_flows.registerFlow(*statement.args, {"from": relayer})


def test_terms_are_checked(metered_flows, relayer, supplier, offtaker, signed_flow):
    statement = signed_flow(supplier, supplier)
    with reverts("SelfFlow", supplier.address):
        metered_flows.registerFlow(*statement.args, {"from": relayer})
    statement = signed_flow(supplier, offtaker, medium="")
    with reverts("EmptyField", "medium"):
        metered_flows.registerFlow(*statement.args, {"from": relayer})
    statement = signed_flow(supplier, offtaker, periodSeconds=0)
    with reverts("ZeroPeriodLength"):
        metered_flows.registerFlow(*statement.args, {"from": relayer})


def test_each_party_must_sign_its_own_statement(metered_flows, relayer, supplier, offtaker, signed_flow):
    stranger = new_party()
    for supplier_signer, offtaker_signer, refused in [
        (stranger, offtaker, supplier),
        (supplier, stranger, offtaker),
        (offtaker, supplier, supplier),  # each signed as the other
        (supplier, supplier, offtaker),  # the supplier signed twice
    ]:
        statement = signed_flow(
            supplier, offtaker, supplier_signer=supplier_signer, offtaker_signer=offtaker_signer
        )
        with reverts("InvalidSignature", refused.address):
            metered_flows.registerFlow(*statement.args, {"from": relayer})

    # One party's signature missing.
    statement = signed_flow(supplier, offtaker)
    with reverts("InvalidSignature", offtaker.address):
        metered_flows.registerFlow(statement.struct(), statement.supplier_signature, b"", {"from": relayer})


def test_a_statement_altered_after_signing_is_refused(
    metered_flows, relayer, supplier, offtaker, signed_flow
):
    statement = signed_flow(supplier, offtaker)
    for change in [
        {"periodSeconds": 60},
        {"firstPeriodStart": 0},
        {"meterId": b"\x02" * 32},
        {"medium": "CO2"},
    ]:
        tampered = (statement.struct(**change), statement.supplier_signature, statement.offtaker_signature)
        with reverts("InvalidSignature", supplier.address):
            metered_flows.registerFlow(*tampered, {"from": relayer})


def test_a_statement_for_another_chain_is_refused(metered_flows, relayer, supplier, offtaker, signed_flow):
    statement = signed_flow(supplier, offtaker, chain_id=1)
    with reverts("InvalidSignature", supplier.address):
        metered_flows.registerFlow(*statement.args, {"from": relayer})


def test_a_statement_past_its_deadline_is_refused(metered_flows, relayer, supplier, offtaker, signed_flow):
    statement = signed_flow(supplier, offtaker, deadline=deadline_in(-1))
    with reverts("SignatureExpired", statement.message["deadline"]):
        metered_flows.registerFlow(*statement.args, {"from": relayer})


def test_a_registration_cannot_be_replayed(metered_flows, relayer, supplier, offtaker, signed_flow):
    statement = signed_flow(supplier, offtaker)
    metered_flows.registerFlow(*statement.args, {"from": relayer})
    with reverts("AlreadyRecorded", statement.digest):
        metered_flows.registerFlow(*statement.args, {"from": relayer})
    # The same terms under another nonce are another flow.
    again = sign_flow(metered_flows, supplier, offtaker, {**statement.message, "nonce": next_nonce()})
    tx = metered_flows.registerFlow(*again.args, {"from": relayer})
    assert bytes(tx.return_value) == again.digest != statement.digest


def test_parties_must_be_registered_and_active(
    metered_flows, relayer, register, set_status, supplier, offtaker, signed_flow
):
    unknown = new_party()
    with reverts("UnregisteredParticipant", unknown.address):
        metered_flows.registerFlow(*signed_flow(unknown, offtaker).args, {"from": relayer})
    with reverts("UnregisteredParticipant", unknown.address):
        metered_flows.registerFlow(*signed_flow(supplier, unknown).args, {"from": relayer})

    suspended = new_party()
    register(suspended, SHIPPER | RECEIVER)
    set_status(suspended, True)
    with reverts("SuspendedParticipant", suspended.address):
        metered_flows.registerFlow(*signed_flow(suspended, offtaker).args, {"from": relayer})
    with reverts("SuspendedParticipant", suspended.address):
        metered_flows.registerFlow(*signed_flow(supplier, suspended).args, {"from": relayer})
    set_status(suspended, False)
    metered_flows.registerFlow(*signed_flow(suspended, offtaker).args, {"from": relayer})


def test_parties_must_hold_their_roles(metered_flows, relayer, register, supplier, offtaker, signed_flow):
    # The supplier must ship, the offtaker receive: `offtaker` holds only RECEIVER, `shipping` only SHIPPER.
    with reverts("MissingRole", offtaker.address, SHIPPER):
        metered_flows.registerFlow(*signed_flow(offtaker, supplier).args, {"from": relayer})
    shipping = new_party()
    register(shipping, SHIPPER)
    with reverts("MissingRole", shipping.address, RECEIVER):
        metered_flows.registerFlow(*signed_flow(supplier, shipping).args, {"from": relayer})


# --- anchoring periods ---------------------------------------------------------------------------------


def test_one_period_is_anchored(metered_flows, flow, periods, anchor):
    signed = periods(flow, 0, [41_250])
    tx = anchor(flow, 0, signed)
    assert anchored(tx) == expected(flow, signed)
    assert plain(metered_flows.flow(flow))[4] == 1


def test_many_periods_are_anchored_in_one_transaction(metered_flows, flow, periods, anchor):
    signed = periods(flow, 0, [40_000 + 17 * i for i in range(ENDED)])
    tx = anchor(flow, 0, signed)
    # One event per period, in order, each with the period's data.
    assert anchored(tx) == expected(flow, signed)
    assert plain(metered_flows.flow(flow))[4] == ENDED


def test_batches_follow_each_other(metered_flows, flow, periods, anchor):
    first = periods(flow, 0, QUANTITIES)
    second = periods(flow, len(QUANTITIES), QUANTITIES[:2])
    assert anchored(anchor(flow, 0, first)) == expected(flow, first)
    assert anchored(anchor(flow, len(QUANTITIES), second)) == expected(flow, second)
    assert plain(metered_flows.flow(flow))[4] == len(QUANTITIES) + 2


def test_the_signatures_are_the_typed_data_signatures(metered_flows, supplier, flow):
    # The test helper signs the digest directly: the same bytes a wallet's eth_signTypedData_v4 gives.
    digest = period_digest(metered_flows, flow, 3, 12, reading_hash(3))
    assert sign_digest(supplier, digest) == signed_by_type(
        metered_flows, supplier, flow, 3, 12, reading_hash(3)
    )


def test_a_gap_is_refused(flow, periods, anchor):
    with reverts("PeriodOutOfOrder", flow, 1, 0):
        anchor(flow, 1, periods(flow, 1, [10, 20]))
    anchor(flow, 0, periods(flow, 0, [10, 20]))
    with reverts("PeriodOutOfOrder", flow, 3, 2):
        anchor(flow, 3, periods(flow, 3, [30]))


def test_a_period_cannot_be_anchored_twice(flow, periods, anchor):
    signed = periods(flow, 0, [10, 20, 30])
    anchor(flow, 0, signed)
    with reverts("PeriodOutOfOrder", flow, 0, 3):
        anchor(flow, 0, signed)
    # Overlapping the last anchored period, with the same or other totals.
    with reverts("PeriodOutOfOrder", flow, 2, 3):
        anchor(flow, 2, signed[2:] + periods(flow, 3, [40]))
    with reverts("PeriodOutOfOrder", flow, 2, 3):
        anchor(flow, 2, periods(flow, 2, [31, 40]))


def test_an_empty_batch_is_refused(flow, anchor):
    with reverts("NoPeriods", flow):
        anchor(flow, 0, [])


def test_an_unknown_flow_is_refused(metered_flows, flow, periods, anchor):
    unknown = b"\x0f" * 32
    with reverts("UnknownFlow", unknown):
        anchor(unknown, 0, periods(unknown, 0, [10]))


def test_a_period_must_have_ended(metered_flows, relayer, supplier, offtaker, register_flow, periods, anchor):
    start = chain[-1].timestamp + 100
    flow_id = register_flow(supplier, offtaker, firstPeriodStart=start)
    signed = periods(flow_id, 0, [10, 20])

    end = start + HOUR
    set_next_block_time(end - 1)
    with reverts("PeriodNotEnded", flow_id, 0, end):
        anchor(flow_id, 0, signed[:1])
    # A batch is refused whole when its last period has not ended.
    set_next_block_time(end)
    with reverts("PeriodNotEnded", flow_id, 1, end + HOUR):
        anchor(flow_id, 0, signed)
    set_next_block_time(end)
    tx = anchor(flow_id, 0, signed[:1])
    assert tx.timestamp == end
    assert anchored(tx) == expected(flow_id, signed[:1])


def test_a_flow_may_start_in_the_past_or_the_future(supplier, offtaker, register_flow, periods, anchor):
    # Period 0 of a flow registered today may have started years ago (its readings anchored late) ...
    old = register_flow(supplier, offtaker, firstPeriodStart=0, periodSeconds=365 * 24 * HOUR)
    anchor(old, 0, periods(old, 0, [5, 6, 7]))
    # ... or start later: nothing can be anchored before it ends.
    start = chain[-1].timestamp + 30 * 24 * HOUR
    later = register_flow(supplier, offtaker, firstPeriodStart=start)
    with reverts("PeriodNotEnded", later, 0, start + HOUR):
        anchor(later, 0, periods(later, 0, [5]))


@pytest.mark.parametrize("field", ["quantity", "readingHash"])
def test_a_period_altered_after_signing_is_refused(supplier, flow, periods, anchor, field):
    signed = periods(flow, 0, [10, 20, 30])
    change = {"quantity": 21} if field == "quantity" else {"readingHash": reading_hash(1, "forged ")}
    entries = [signed[0].entry(), signed[1].entry(**change), signed[2].entry()]
    # The supplier's signature is checked first: it no longer matches period 1.
    with reverts("InvalidPeriodSignature", flow, 1, supplier.address):
        anchor(flow, 0, entries)


def test_both_signatures_are_required(metered_flows, supplier, offtaker, flow, periods, anchor):
    signed = periods(flow, 0, [10, 20])
    stranger = new_party()
    by_stranger = sign_period(metered_flows, stranger, stranger, flow, 1, 20)
    for changes, refused in [
        ({"offtaker": NO_SIGNATURE}, offtaker),  # missing
        ({"supplier": NO_SIGNATURE}, supplier),
        ({"offtaker": compact(by_stranger.offtaker_signature)}, offtaker),  # another key's
        ({"supplier": compact(by_stranger.supplier_signature)}, supplier),
        ({"offtaker": compact(signed[1].supplier_signature)}, offtaker),  # the supplier's, twice
        (
            {
                "supplier": compact(signed[1].offtaker_signature),
                "offtaker": compact(signed[1].supplier_signature),
            },
            supplier,
        ),  # swapped
        ({"offtaker": compact(signed[0].offtaker_signature)}, offtaker),  # of another period
    ]:
        with reverts("InvalidPeriodSignature", flow, 1, refused.address):
            anchor(flow, 0, [signed[0].entry(), signed[1].entry(**changes)])
    assert plain(metered_flows.flow(flow))[4] == 0


def test_a_malleable_signature_is_refused(offtaker, flow, periods, anchor):
    # The high-s twin of a valid signature recovers the same key; ECDSA's canonical form only is accepted.
    signed = periods(flow, 0, [10])
    with reverts("InvalidPeriodSignature", flow, 0, offtaker.address):
        anchor(flow, 0, [signed[0].entry(offtaker=malleable(*compact(signed[0].offtaker_signature)))])


def test_period_signatures_are_bound_to_their_flow(supplier, offtaker, flow, register_flow, periods, anchor):
    other = register_flow(supplier, offtaker)  # same parties and terms, another nonce
    signed = periods(flow, 0, [10])
    with reverts("InvalidPeriodSignature", other, 0, supplier.address):
        anchor(other, 0, signed)
    anchor(flow, 0, signed)


def test_period_signatures_are_bound_to_their_contract(registry, relayer, supplier, offtaker, periods):
    # A second deployment has another domain: the same flow registered there (its own id) ...
    twin = MeteredFlows.deploy(registry, {"from": relayer})
    message = {
        "supplier": supplier.address,
        "offtaker": offtaker.address,
        "medium": "steam",
        "unit": "TNE",
        "meterId": METER_ID,
        "periodSeconds": HOUR,
        "firstPeriodStart": 0,
        "nonce": 1,
        "deadline": deadline_in(3600),
    }
    statement = sign_flow(twin, supplier, offtaker, message)
    twin.registerFlow(*statement.args, {"from": relayer})
    # ... refuses a period of it signed for the first deployment's domain.
    signed = periods(statement.digest, 0, [10])
    with reverts("InvalidPeriodSignature", statement.digest, 0, supplier.address):
        twin.anchorPeriods(statement.digest, 0, [p.entry() for p in signed], {"from": relayer})
    signed = sign_periods(twin, supplier, offtaker, statement.digest, 0, [10])
    twin.anchorPeriods(statement.digest, 0, [p.entry() for p in signed], {"from": relayer})


def test_parties_must_be_active_when_periods_are_anchored(
    relayer, register, set_status, supplier, register_flow, periods, anchor, metered_flows
):
    offtaker = new_party()
    register(offtaker, RECEIVER)
    flow_id = register_flow(supplier, offtaker)
    signed = periods(flow_id, 0, [10, 20], offtaker_signer=offtaker)

    set_status(offtaker, True)
    with reverts("SuspendedParticipant", offtaker.address):
        anchor(flow_id, 0, signed)
    # Reinstated, the periods it signed before are anchored.
    set_status(offtaker, False)
    anchor(flow_id, 0, signed)

    set_status(supplier, True)
    with reverts("SuspendedParticipant", supplier.address):
        anchor(flow_id, 2, periods(flow_id, 2, [30], offtaker_signer=offtaker))


def test_contract_wallets_sign_flows_and_periods(metered_flows, relayer, register, register_flow, anchor):
    # Each party a contract wallet (ERC-1271) of its own key; the keys themselves are registered as nothing.
    supplier_key, offtaker_key = new_party(), new_party()
    supplier_wallet = ERC1271Wallet.deploy(supplier_key.address, {"from": relayer})
    offtaker_wallet = ERC1271Wallet.deploy(offtaker_key.address, {"from": relayer})
    register(supplier_wallet, SHIPPER)
    register(offtaker_wallet, RECEIVER)

    flow_id = register_flow(
        supplier_wallet, offtaker_wallet, supplier_signer=supplier_key, offtaker_signer=offtaker_key
    )
    assert plain(metered_flows.flow(flow_id))[:2] == (supplier_wallet.address, offtaker_wallet.address)
    signed = sign_periods(metered_flows, supplier_key, offtaker_key, flow_id, 0, [10, 20])
    tx = anchor(flow_id, 0, signed)
    assert anchored(tx) == expected(flow_id, signed)

    # The wallet accepts only its owner's signature.
    stranger = new_party()
    forged = sign_period(metered_flows, supplier_key, stranger, flow_id, 2, 30)
    with reverts("InvalidPeriodSignature", flow_id, 2, offtaker_wallet.address):
        anchor(flow_id, 2, [forged])
    # A wallet is asked with the signature in its 65-byte form.
    honest = sign_period(metered_flows, supplier_key, offtaker_key, flow_id, 2, 30)
    assert expand(*compact(honest.offtaker_signature)) == honest.offtaker_signature
    anchor(flow_id, 2, [honest])
    assert plain(metered_flows.flow(flow_id))[4] == 3


# --- property: whatever the calls, anchored periods are contiguous from 0 and carry what was signed ----------

# deadline=None: each example sends transactions, whose latency is not the property under test.
# data_too_large: lists of lists of 64-bit totals now and then overrun hypothesis 6.27's example buffer.
EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
LASTING_ENDED = 10  # periods of `lasting_flow` ended for the hour after it is registered


@pytest.fixture(scope="module")
def lasting_flow(metered_flows, relayer, supplier, offtaker, signed_flow):
    """(flow id, start): a module-scoped hourly flow whose periods 0..9 have ended and period 10 has not."""
    start = chain[-1].timestamp - LASTING_ENDED * HOUR - 100
    statement = signed_flow(supplier, offtaker, firstPeriodStart=start)
    metered_flows.registerFlow(*statement.args, {"from": relayer})
    return statement.digest, start


# Hypothesis prefers the first of sampled values: the common case comes first.
call = st.tuples(
    st.sampled_from([0, 0, 1, -1, -2]),  # where the batch starts, against the flow's next period
    st.sampled_from([3, 1, 4, 2, 0]),  # how many periods it holds
    st.lists(st.integers(0, 2**64 - 1), min_size=4, max_size=4),  # their totals (the first ones)
    st.one_of(st.none(), st.integers(0, 3)),  # which of its periods the relayer alters, if any
)


@EXAMPLES
@given(calls=st.lists(call, min_size=1, max_size=7))
def test_anchored_periods_are_contiguous_and_hold_what_was_signed(
    metered_flows, supplier, offtaker, lasting_flow, anchor, calls
):
    flow_id, start = lasting_flow
    next_period, events, signed_total = 0, [], 0
    for offset, size, totals, altered in calls:
        first, quantities = max(next_period + offset, 0), totals[:size]
        signed = sign_periods(metered_flows, supplier, offtaker, flow_id, first, quantities)
        entries = [p.entry() for p in signed]
        if altered is not None and altered < len(signed):
            entries[altered] = signed[altered].entry(quantity=signed[altered].quantity ^ 1)
        following = first + len(signed)
        if first != next_period:
            refusal = ("PeriodOutOfOrder", flow_id, first, next_period)
        elif not signed:
            refusal = ("NoPeriods", flow_id)
        elif following > LASTING_ENDED:
            refusal = ("PeriodNotEnded", flow_id, following - 1, start + following * HOUR)
        elif altered is not None and altered < len(signed):
            refusal = ("InvalidPeriodSignature", flow_id, first + altered, supplier.address)
        else:
            refusal = None

        event(refusal[0] if refusal else "anchored")
        if refusal:
            with reverts(*refusal):
                anchor(flow_id, first, entries)
        else:
            tx = anchor(flow_id, first, entries)
            events += anchored(tx)
            signed_total += sum(quantities)
            next_period = following
        assert plain(metered_flows.flow(flow_id))[4] == next_period

    assert [period for _, period, _, _ in events] == list(range(next_period))
    assert sum(q for _, _, q, _ in events) == signed_total
    assert all(bytes(f) == bytes(flow_id) for f, _, _, _ in events)
    assert [h for _, _, _, h in events] == [reading_hash(p) for p in range(next_period)]
