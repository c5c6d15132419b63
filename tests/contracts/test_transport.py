"""SymbiosisLedger's transport legs (custody/Transfers.sol): a dispatch may name the transporters that carry the
waste, in order, each with the licence it carries under; each leg's transporter then signs a pick-up and a
delivery, and the receiver may sign its receipt only after the last delivery. Hazardous waste may only be
carried by the shipper itself or by a holder of a valid hazardous-waste transport licence covering its code.

Statuses: without legs DISPATCHED -> RECEIVED; with legs AWAITING_PICK_UP -> IN_TRANSIT -> DELIVERED -> RECEIVED.
"""

import pytest
from brownie import chain
from typed_statements import (
    MAX_LEGS,
    OIL_OPERATIONS,
    RECEIVER,
    SHIPPED,
    SLAG_OPERATIONS,
    TRANSPORTER,
    WASTE_OIL,
    ZERO_BYTES32,
    PermitKind,
    TransferStatus,
    deadline_in,
    leg_args,
    new_party,
    plain,
    r_operation,
    reverts,
    transporters_hash,
    utc_year,
)

DAY = 24 * 3600
OIL_QUANTITY = 3_000  # litres of waste oil in the `oil_lot` fixture
OIL_SHIPPED = 2_500


@pytest.fixture(scope="module")
def carriers(register):
    """Three active participants holding only the TRANSPORTER role."""
    parties = [new_party() for _ in range(3)]
    for party in parties:
        register(party, TRANSPORTER)
    return parties


@pytest.fixture
def oil_lot(shipper, waste_oil, permit, register_lot):
    """A lot of waste oil (EU-LOW 13 02 05*, hazardous, in litres) that `shipper` holds; `permit` covers it."""
    return register_lot(
        shipper, wasteScheme=WASTE_OIL[0], wasteCode=WASTE_OIL[1], unit="LTR", quantity=OIL_QUANTITY
    )


@pytest.fixture
def licence_of(waste_oil, register_permit):
    """licence_of(holder, **fields): registers a hazardous-waste transport licence of `holder` covering waste oil
    (unless `coverage_` says otherwise); returns its id."""

    def run(holder, coverage_=None, **fields):
        coverage_ = [(waste_oil.key, OIL_OPERATIONS)] if coverage_ is None else coverage_
        fields.setdefault("kind", PermitKind.HAZARDOUS_WASTE_TRANSPORT_LICENCE)
        return register_permit(holder, coverage_, **fields)

    return run


@pytest.fixture
def carry(ledger, relayer, shipper, receiver, lot, permit, signed_dispatch):
    """carry(transporters, licences=zeros, lot_id=lot, **fields): relays a dispatch of `lot` carried by
    `transporters`; returns (transfer id, transaction)."""

    def run(transporters, licences=None, lot_id=None, **fields):
        licences = [ZERO_BYTES32] * len(transporters) if licences is None else licences
        statement = signed_dispatch(
            shipper,
            receiver,
            lot if lot_id is None else lot_id,
            permit,
            transporters=transporters,
            licences=licences,
            **fields,
        )
        tx = ledger.dispatch(*statement.args, {"from": relayer})
        return statement.digest, tx

    return run


def oil_dispatch(transporters, licences):
    """Dispatch fields for the waste oil: incineration on land (D10) of `OIL_SHIPPED` litres."""
    return {"transporters": transporters, "licences": licences, "quantity": OIL_SHIPPED, "operation": "D10"}


def status(ledger, transfer_id):
    return plain(ledger.transfer(transfer_id))[1]


def carriage(ledger, transfer_id):
    return plain(ledger.carriage(transfer_id))


# --- carried: the legal path -------------------------------------------------------------------------


def test_one_leg(ledger, shipper, receiver, slag, lot, transporter, carry, pick_up, deliver, receive):
    legs = [transporter]
    transfer_id, tx = carry(legs)

    # The id is the digest of the dispatch the shipper signed, transporters and licences included.
    assert plain(tx.return_value) == transfer_id
    assert tx.events.keys() == ["TransferDispatched", "TransferCarried"]
    assert plain(dict(tx.events["TransferCarried"])) == {
        "transferId": transfer_id,
        "transporters": (transporter.address,),
        "licences": (ZERO_BYTES32,),
    }
    assert plain(ledger.transfer(transfer_id)) == (
        receiver.address,
        TransferStatus.AWAITING_PICK_UP,
        SHIPPED,
        slag.id,
    )
    expected_hash = transporters_hash(legs)
    assert carriage(ledger, transfer_id) == (expected_hash, 1, 0, 0)

    tx = pick_up(transfer_id, legs, 0)
    assert tx.events.keys() == ["LegPickedUp"]
    assert plain(dict(tx.events["LegPickedUp"])) == {
        "transferId": transfer_id,
        "transporter": transporter.address,
        "leg": 0,
    }
    assert status(ledger, transfer_id) == TransferStatus.IN_TRANSIT
    assert carriage(ledger, transfer_id) == (expected_hash, 1, 1, 0)

    tx = deliver(transfer_id, legs, 0)
    assert tx.events.keys() == ["LegDelivered"]
    assert plain(dict(tx.events["LegDelivered"])) == {
        "transferId": transfer_id,
        "transporter": transporter.address,
        "leg": 0,
    }
    assert status(ledger, transfer_id) == TransferStatus.DELIVERED
    assert carriage(ledger, transfer_id) == (expected_hash, 1, 1, 1)

    receive(transfer_id, receiver, SHIPPED - 10)
    assert status(ledger, transfer_id) == TransferStatus.RECEIVED
    assert plain(ledger.lot(transfer_id)) == (receiver.address, SHIPPED - 10, slag.id)
    # The carriage record stays as custody left it.
    assert carriage(ledger, transfer_id) == (expected_hash, 1, 1, 1)


def test_several_legs_in_order(ledger, receiver, carriers, carry, pick_up, deliver, receive):
    transfer_id, _ = carry(carriers)
    expected_hash = transporters_hash(carriers)
    assert carriage(ledger, transfer_id) == (expected_hash, 3, 0, 0)
    assert status(ledger, transfer_id) == TransferStatus.AWAITING_PICK_UP

    for leg, carrier in enumerate(carriers):
        tx = pick_up(transfer_id, carriers, leg)
        assert plain(dict(tx.events["LegPickedUp"])) == {
            "transferId": transfer_id,
            "transporter": carrier.address,
            "leg": leg,
        }
        assert carriage(ledger, transfer_id) == (expected_hash, 3, leg + 1, leg)
        assert status(ledger, transfer_id) == TransferStatus.IN_TRANSIT

        tx = deliver(transfer_id, carriers, leg)
        assert plain(dict(tx.events["LegDelivered"])) == {
            "transferId": transfer_id,
            "transporter": carrier.address,
            "leg": leg,
        }
        assert carriage(ledger, transfer_id) == (expected_hash, 3, leg + 1, leg + 1)
        last = leg == len(carriers) - 1
        # Between legs the waste is still in transit: handed from one transporter to the next.
        assert status(ledger, transfer_id) == (
            TransferStatus.DELIVERED if last else TransferStatus.IN_TRANSIT
        )

    receive(transfer_id, receiver)
    assert status(ledger, transfer_id) == TransferStatus.RECEIVED


def test_the_same_transporter_on_two_legs(ledger, transporter, carry, pick_up, deliver):
    # E.g. a transporter that stores the waste at its depot between two runs.
    legs = [transporter, transporter]
    transfer_id, _ = carry(legs)
    for leg in range(2):
        pick_up(transfer_id, legs, leg)
        deliver(transfer_id, legs, leg)
    assert status(ledger, transfer_id) == TransferStatus.DELIVERED


def test_the_most_legs(ledger, transporter, carry, pick_up, deliver):
    legs = [transporter] * MAX_LEGS
    transfer_id, _ = carry(legs)
    assert carriage(ledger, transfer_id) == (transporters_hash(legs), MAX_LEGS, 0, 0)
    for leg in range(MAX_LEGS):
        pick_up(transfer_id, legs, leg)
        deliver(transfer_id, legs, leg)
    assert carriage(ledger, transfer_id) == (transporters_hash(legs), MAX_LEGS, MAX_LEGS, MAX_LEGS)
    assert status(ledger, transfer_id) == TransferStatus.DELIVERED


def test_without_legs_nothing_is_carried(ledger, shipper, receiver, lot, permit, dispatch, receive):
    # A pipe, or the receiver collects: no carriage, and the receipt may follow the dispatch directly.
    tx = dispatch(shipper, receiver, lot, permit)
    transfer_id = tx.events["TransferDispatched"]["transferId"]
    assert tx.events.keys() == ["TransferDispatched"]
    assert status(ledger, transfer_id) == TransferStatus.DISPATCHED
    assert carriage(ledger, transfer_id) == (b"\x00" * 28, 0, 0, 0)
    receive(transfer_id, receiver)
    assert status(ledger, transfer_id) == TransferStatus.RECEIVED


def test_unknown_transfer_has_no_carriage(ledger):
    assert carriage(ledger, b"\x42" * 32) == (b"\x00" * 28, 0, 0, 0)


# --- receipt only after the last delivery ------------------------------------------------------------


@pytest.mark.parametrize(
    "steps, expected",
    [
        ([], TransferStatus.AWAITING_PICK_UP),
        ([("pick_up", 0)], TransferStatus.IN_TRANSIT),
        ([("pick_up", 0), ("deliver", 0)], TransferStatus.IN_TRANSIT),
        ([("pick_up", 0), ("deliver", 0), ("pick_up", 1)], TransferStatus.IN_TRANSIT),
    ],
    ids=["awaiting pick-up", "first leg on the road", "between legs", "last leg on the road"],
)
def test_receipt_before_the_last_delivery(
    ledger, relayer, receiver, carriers, carry, pick_up, deliver, signed_receipt, steps, expected
):
    legs = carriers[:2]
    transfer_id, _ = carry(legs)
    for step, leg in steps:
        {"pick_up": pick_up, "deliver": deliver}[step](transfer_id, legs, leg)
    with reverts("NotAwaitingReceipt", transfer_id, expected):
        ledger.confirmReceipt(*signed_receipt(transfer_id, receiver).args, {"from": relayer})


def test_receipt_signed_early_is_accepted_after_delivery(
    ledger, relayer, receiver, transporter, carry, pick_up, deliver, signed_receipt
):
    # Refused while in transit, the same statement is accepted once the waste is delivered.
    transfer_id, _ = carry([transporter])
    statement = signed_receipt(transfer_id, receiver)
    pick_up(transfer_id, [transporter], 0)
    with reverts("NotAwaitingReceipt", transfer_id, TransferStatus.IN_TRANSIT):
        ledger.confirmReceipt(*statement.args, {"from": relayer})
    deliver(transfer_id, [transporter], 0)
    ledger.confirmReceipt(*statement.args, {"from": relayer})
    assert status(ledger, transfer_id) == TransferStatus.RECEIVED


# --- legs out of order -------------------------------------------------------------------------------


def test_delivery_before_pick_up(ledger, relayer, transporter, carry, signed_delivery):
    transfer_id, _ = carry([transporter])
    statement = signed_delivery(transfer_id, transporter, 0)
    with reverts("LegOutOfOrder", transfer_id, 0, 0, 0):
        ledger.deliver(*leg_args(statement, [transporter]), {"from": relayer})


def test_second_leg_picked_up_first(ledger, relayer, carriers, carry, signed_pick_up):
    legs = carriers[:2]
    transfer_id, _ = carry(legs)
    with reverts("LegOutOfOrder", transfer_id, 1, 0, 0):
        ledger.pickUp(*leg_args(signed_pick_up(transfer_id, legs[1], 1), legs), {"from": relayer})


def test_second_leg_picked_up_before_the_first_is_delivered(
    ledger, relayer, carriers, carry, pick_up, signed_pick_up
):
    legs = carriers[:2]
    transfer_id, _ = carry(legs)
    pick_up(transfer_id, legs, 0)
    with reverts("LegOutOfOrder", transfer_id, 1, 1, 0):
        ledger.pickUp(*leg_args(signed_pick_up(transfer_id, legs[1], 1), legs), {"from": relayer})


def test_second_leg_delivered_before_it_is_picked_up(
    ledger, relayer, carriers, carry, pick_up, deliver, signed_delivery
):
    legs = carriers[:2]
    transfer_id, _ = carry(legs)
    pick_up(transfer_id, legs, 0)
    deliver(transfer_id, legs, 0)
    with reverts("LegOutOfOrder", transfer_id, 1, 1, 1):
        ledger.deliver(*leg_args(signed_delivery(transfer_id, legs[1], 1), legs), {"from": relayer})


def test_same_leg_picked_up_twice(ledger, relayer, transporter, carry, signed_pick_up):
    # No nonce: the carriage's progress stops a second pick-up, and a replay of the first.
    transfer_id, _ = carry([transporter])
    statement = signed_pick_up(transfer_id, transporter, 0)
    ledger.pickUp(*leg_args(statement, [transporter]), {"from": relayer})
    with reverts("LegOutOfOrder", transfer_id, 0, 1, 0):
        ledger.pickUp(*leg_args(statement, [transporter]), {"from": relayer})
    with reverts("LegOutOfOrder", transfer_id, 0, 1, 0):
        ledger.pickUp(
            *leg_args(signed_pick_up(transfer_id, transporter, 0), [transporter]), {"from": relayer}
        )


def test_same_leg_delivered_twice(ledger, relayer, carriers, carry, pick_up, signed_delivery):
    legs = carriers[:2]
    transfer_id, _ = carry(legs)
    pick_up(transfer_id, legs, 0)
    statement = signed_delivery(transfer_id, legs[0], 0)
    ledger.deliver(*leg_args(statement, legs), {"from": relayer})
    with reverts("LegOutOfOrder", transfer_id, 0, 1, 1):
        ledger.deliver(*leg_args(statement, legs), {"from": relayer})


def test_first_leg_picked_up_again_after_its_delivery(
    ledger, relayer, carriers, carry, pick_up, deliver, signed_pick_up
):
    legs = carriers[:2]
    transfer_id, _ = carry(legs)
    pick_up(transfer_id, legs, 0)
    deliver(transfer_id, legs, 0)
    with reverts("LegOutOfOrder", transfer_id, 0, 1, 1):
        ledger.pickUp(*leg_args(signed_pick_up(transfer_id, legs[0], 0), legs), {"from": relayer})


@pytest.mark.parametrize("step", ["pick_up", "deliver"])
def test_after_the_last_delivery_carriage_is_over(
    ledger, relayer, transporter, carry, pick_up, deliver, signed_pick_up, signed_delivery, step
):
    transfer_id, _ = carry([transporter])
    pick_up(transfer_id, [transporter], 0)
    deliver(transfer_id, [transporter], 0)
    fn, build = (ledger.pickUp, signed_pick_up) if step == "pick_up" else (ledger.deliver, signed_delivery)
    with reverts("NotInCarriage", transfer_id, TransferStatus.DELIVERED):
        fn(*leg_args(build(transfer_id, transporter, 0), [transporter]), {"from": relayer})


# --- who may sign a leg, with which list -------------------------------------------------------------


@pytest.mark.parametrize("step", ["pick_up", "deliver"])
def test_another_transporter_signs_the_leg(
    ledger, relayer, carriers, carry, pick_up, signed_pick_up, signed_delivery, step
):
    legs = carriers[:2]
    transfer_id, _ = carry(legs)
    if step == "deliver":
        pick_up(transfer_id, legs, 0)
    fn, build = (ledger.pickUp, signed_pick_up) if step == "pick_up" else (ledger.deliver, signed_delivery)
    # The second leg's transporter (or one not named at all) cannot act for the first leg.
    for intruder in (legs[1], carriers[2]):
        with reverts("NotLegTransporter", transfer_id, 0, intruder.address):
            fn(*leg_args(build(transfer_id, intruder, 0), legs), {"from": relayer})


def test_leg_beyond_the_last(ledger, relayer, transporter, carry, signed_pick_up):
    transfer_id, _ = carry([transporter])
    with reverts("NotLegTransporter", transfer_id, 1, transporter.address):
        ledger.pickUp(
            *leg_args(signed_pick_up(transfer_id, transporter, 1), [transporter]), {"from": relayer}
        )


@pytest.mark.parametrize(
    "listed",
    [
        lambda legs, other: [other, legs[1]],
        lambda legs, other: [legs[1], legs[0]],
        lambda legs, other: legs[:1],
        lambda legs, other: [*legs, other],
        lambda legs, other: [],
    ],
    ids=["replaced", "reordered", "shortened", "extended", "empty"],
)
def test_tampered_transporter_list(ledger, relayer, carriers, carry, signed_pick_up, listed):
    legs = carriers[:2]
    transfer_id, _ = carry(legs)
    statement = signed_pick_up(transfer_id, legs[0], 0)
    with reverts("WrongTransporterList", transfer_id):
        ledger.pickUp(*leg_args(statement, listed(legs, carriers[2])), {"from": relayer})


def test_tampered_transporter_list_at_delivery(ledger, relayer, carriers, carry, pick_up, signed_delivery):
    legs = carriers[:2]
    transfer_id, _ = carry(legs)
    pick_up(transfer_id, legs, 0)
    with reverts("WrongTransporterList", transfer_id):
        ledger.deliver(
            *leg_args(signed_delivery(transfer_id, legs[0], 0), [legs[0], carriers[2]]), {"from": relayer}
        )


@pytest.mark.parametrize("step", ["pick_up", "deliver"])
def test_transfer_without_legs_is_not_in_carriage(
    ledger, relayer, transporter, transfer_id, signed_pick_up, signed_delivery, step
):
    fn, build = (ledger.pickUp, signed_pick_up) if step == "pick_up" else (ledger.deliver, signed_delivery)
    with reverts("NotInCarriage", transfer_id, TransferStatus.DISPATCHED):
        fn(*leg_args(build(transfer_id, transporter, 0), [transporter]), {"from": relayer})


def test_received_transfer_is_not_in_carriage(
    ledger, relayer, receiver, transporter, transfer_id, receive, signed_pick_up
):
    receive(transfer_id, receiver)
    with reverts("NotInCarriage", transfer_id, TransferStatus.RECEIVED):
        ledger.pickUp(
            *leg_args(signed_pick_up(transfer_id, transporter, 0), [transporter]), {"from": relayer}
        )


def test_carried_and_received_transfer_is_not_in_carriage(
    ledger, relayer, receiver, transporter, carry, pick_up, deliver, receive, signed_pick_up
):
    transfer_id, _ = carry([transporter])
    pick_up(transfer_id, [transporter], 0)
    deliver(transfer_id, [transporter], 0)
    receive(transfer_id, receiver)
    with reverts("NotInCarriage", transfer_id, TransferStatus.RECEIVED):
        ledger.pickUp(
            *leg_args(signed_pick_up(transfer_id, transporter, 0), [transporter]), {"from": relayer}
        )


def test_unknown_transfer_is_not_in_carriage(ledger, relayer, transporter, signed_pick_up):
    unknown = b"\x42" * 32
    with reverts("NotInCarriage", unknown, TransferStatus.NONE):
        ledger.pickUp(*leg_args(signed_pick_up(unknown, transporter, 0), [transporter]), {"from": relayer})


# --- leg signatures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("step", ["pick_up", "deliver"])
def test_leg_signed_by_another_key(
    ledger, relayer, transporter, carry, pick_up, signed_pick_up, signed_delivery, step
):
    transfer_id, _ = carry([transporter])
    if step == "deliver":
        pick_up(transfer_id, [transporter], 0)
    fn, build = (ledger.pickUp, signed_pick_up) if step == "pick_up" else (ledger.deliver, signed_delivery)
    statement = build(transfer_id, transporter, 0, signer=new_party())
    with reverts("InvalidSignature", transporter.address):
        fn(*leg_args(statement, [transporter]), {"from": relayer})


@pytest.mark.parametrize("step", ["pick_up", "deliver"])
def test_expired_leg_statement(
    ledger, relayer, transporter, carry, pick_up, signed_pick_up, signed_delivery, step
):
    transfer_id, _ = carry([transporter])
    if step == "deliver":
        pick_up(transfer_id, [transporter], 0)
    fn, build = (ledger.pickUp, signed_pick_up) if step == "pick_up" else (ledger.deliver, signed_delivery)
    deadline = deadline_in(-1)
    with reverts("SignatureExpired", deadline):
        fn(*leg_args(build(transfer_id, transporter, 0, deadline=deadline), [transporter]), {"from": relayer})


def test_pick_up_signature_is_no_delivery(ledger, relayer, transporter, carry, signed_pick_up):
    # PickUp and Delivery have the same fields but other type hashes: one cannot stand for the other.
    transfer_id, _ = carry([transporter])
    statement = signed_pick_up(transfer_id, transporter, 0)
    ledger.pickUp(*leg_args(statement, [transporter]), {"from": relayer})
    with reverts("InvalidSignature", transporter.address):
        ledger.deliver(*leg_args(statement, [transporter]), {"from": relayer})


def test_leg_statement_tampered_after_signing(
    ledger, relayer, transporter, carry, pick_up, deliver, signed_pick_up
):
    # The same transporter on both legs: its pick-up of the first leg cannot be relayed as one of the second.
    legs = [transporter, transporter]
    transfer_id, _ = carry(legs)
    statement = signed_pick_up(transfer_id, transporter, 0)
    ledger.pickUp(*leg_args(statement, legs), {"from": relayer})
    deliver(transfer_id, legs, 0)
    with reverts("InvalidSignature", transporter.address):
        ledger.pickUp(*leg_args(statement, legs, leg=1), {"from": relayer})
    with reverts("InvalidSignature", transporter.address):
        ledger.pickUp(*leg_args(statement, legs, leg=1, deadline=2**32), {"from": relayer})


def test_leg_statement_for_another_transfer(ledger, relayer, transporter, carry, signed_pick_up):
    first, _ = carry([transporter])
    second, _ = carry([transporter])
    statement = signed_pick_up(first, transporter, 0)
    with reverts("InvalidSignature", transporter.address):
        ledger.pickUp(*leg_args(statement, [transporter], transferId=bytes(second)), {"from": relayer})


def test_suspended_transporter_cannot_pick_up(
    ledger, relayer, transporter, carry, set_status, signed_pick_up
):
    transfer_id, _ = carry([transporter])
    set_status(transporter, True)
    with reverts("SuspendedParticipant", transporter.address):
        ledger.pickUp(
            *leg_args(signed_pick_up(transfer_id, transporter, 0), [transporter]), {"from": relayer}
        )


def test_suspended_transporter_may_still_deliver(
    ledger, relayer, transporter, carry, pick_up, set_status, signed_delivery
):
    # Custody only passes to active parties, but what a suspended transporter carries must reach the
    # receiver: refusing its delivery would strand the waste, which could then never be received.
    transfer_id, _ = carry([transporter])
    pick_up(transfer_id, [transporter], 0)
    set_status(transporter, True)
    ledger.deliver(*leg_args(signed_delivery(transfer_id, transporter, 0), [transporter]), {"from": relayer})
    assert status(ledger, transfer_id) == TransferStatus.DELIVERED


# --- dispatch: who may carry -------------------------------------------------------------------------


def test_carrier_without_the_transporter_role(
    ledger, relayer, register, shipper, receiver, lot, permit, signed_dispatch
):
    carrier = new_party()
    register(carrier, RECEIVER)
    statement = signed_dispatch(
        shipper, receiver, lot, permit, transporters=[carrier], licences=[ZERO_BYTES32]
    )
    with reverts("MissingRole", carrier.address, TRANSPORTER):
        ledger.dispatch(*statement.args, {"from": relayer})


def test_receiver_cannot_be_named_as_carrier(
    ledger, relayer, shipper, receiver, lot, permit, signed_dispatch
):
    # A receiver that collects is a dispatch without legs; as a leg it needs the TRANSPORTER role.
    statement = signed_dispatch(
        shipper, receiver, lot, permit, transporters=[receiver], licences=[ZERO_BYTES32]
    )
    with reverts("MissingRole", receiver.address, TRANSPORTER):
        ledger.dispatch(*statement.args, {"from": relayer})


def test_unregistered_carrier(ledger, relayer, shipper, receiver, lot, permit, transporter, signed_dispatch):
    stranger = new_party()
    legs = [transporter, stranger]
    statement = signed_dispatch(
        shipper, receiver, lot, permit, transporters=legs, licences=[ZERO_BYTES32] * 2
    )
    with reverts("UnregisteredParticipant", stranger.address):
        ledger.dispatch(*statement.args, {"from": relayer})


def test_suspended_carrier(
    ledger, relayer, shipper, receiver, lot, permit, transporter, set_status, signed_dispatch
):
    set_status(transporter, True)
    statement = signed_dispatch(
        shipper, receiver, lot, permit, transporters=[transporter], licences=[ZERO_BYTES32]
    )
    with reverts("SuspendedParticipant", transporter.address):
        ledger.dispatch(*statement.args, {"from": relayer})


def test_shipper_carrying_its_own_waste(ledger, shipper, carry, pick_up, deliver):
    # The shipper needs no TRANSPORTER role to carry its own waste, and signs its own legs.
    transfer_id, _ = carry([shipper])
    pick_up(transfer_id, [shipper], 0)
    deliver(transfer_id, [shipper], 0)
    assert status(ledger, transfer_id) == TransferStatus.DELIVERED


@pytest.mark.parametrize(
    "legs, licences",
    [(1, 0), (1, 2), (2, 1), (MAX_LEGS + 1, MAX_LEGS + 1), (MAX_LEGS + 1, MAX_LEGS)],
    ids=["licence missing", "licence extra", "one licence for two", "9 legs", "9 legs 8 licences"],
)
def test_invalid_transporters(
    ledger, relayer, shipper, receiver, lot, permit, transporter, signed_dispatch, legs, licences
):
    statement = signed_dispatch(
        shipper, receiver, lot, permit, transporters=[transporter] * legs, licences=[ZERO_BYTES32] * licences
    )
    with reverts("InvalidTransporters", legs, licences):
        ledger.dispatch(*statement.args, {"from": relayer})


def test_licences_without_transporters(ledger, relayer, shipper, receiver, lot, permit, signed_dispatch):
    statement = signed_dispatch(shipper, receiver, lot, permit, transporters=[], licences=[b"\x11" * 32])
    with reverts("InvalidTransporters", 0, 1):
        ledger.dispatch(*statement.args, {"from": relayer})


@pytest.mark.parametrize("field", ["transporters", "licences", "both"])
def test_dispatch_tampered_transporters(
    ledger, relayer, shipper, receiver, oil_lot, permit, carriers, licence_of, signed_dispatch, field
):
    # Hazardous waste, so the licences matter; each change alone passes every other check, so only the
    # shipper's signature can refuse it.
    a, b = carriers[:2]
    licence_a = licence_of(a)
    statement = signed_dispatch(shipper, receiver, oil_lot, permit, **oil_dispatch([a], [licence_a]))
    change = {
        # The shipper carrying its own waste needs no licence.
        "transporters": lambda: {"transporters": [shipper.address]},
        # Another valid licence of the same transporter.
        "licences": lambda: {"licences": [licence_of(a)]},
        "both": lambda: {"transporters": [b.address], "licences": [licence_of(b)]},
    }[field]()
    with reverts("InvalidSignature", shipper.address):
        ledger.dispatch(*statement.tampered(**change), {"from": relayer})


def test_dispatch_tampered_transporters_non_hazardous(
    ledger, relayer, shipper, receiver, lot, permit, carriers, signed_dispatch
):
    a, b = carriers[:2]
    statement = signed_dispatch(shipper, receiver, lot, permit, transporters=[a], licences=[ZERO_BYTES32])
    for change in (
        {"transporters": [b.address]},
        {"transporters": [b.address, a.address], "licences": [ZERO_BYTES32] * 2},
        {"transporters": [], "licences": []},
        {"licences": [b"\x11" * 32]},
    ):
        with reverts("InvalidSignature", shipper.address):
            ledger.dispatch(*statement.tampered(**change), {"from": relayer})


# --- dispatch: hazardous waste needs a licensed carrier ----------------------------------------------


def test_licensed_carrier_of_hazardous_waste(
    ledger, receiver, waste_oil, oil_lot, transporter, licence_of, carry, pick_up, deliver, receive
):
    licence = licence_of(transporter)
    transfer_id, tx = carry(**oil_dispatch([transporter], [licence]), lot_id=oil_lot)
    assert plain(dict(tx.events["TransferCarried"])) == {
        "transferId": transfer_id,
        "transporters": (transporter.address,),
        "licences": (licence,),
    }
    assert plain(ledger.transfer(transfer_id)) == (
        receiver.address,
        TransferStatus.AWAITING_PICK_UP,
        OIL_SHIPPED,
        waste_oil.id,
    )
    pick_up(transfer_id, [transporter], 0)
    deliver(transfer_id, [transporter], 0)
    receive(transfer_id, receiver, OIL_SHIPPED)
    assert plain(ledger.lot(transfer_id)) == (receiver.address, OIL_SHIPPED, waste_oil.id)


@pytest.fixture
def refuses_carriage(ledger, relayer, shipper, receiver, waste_oil, oil_lot, permit, signed_dispatch):
    """Asserts that shipping the waste oil by `carriers` under `licences` is refused for leg `refused`."""

    def check(carriers, licences, refused=0):
        statement = signed_dispatch(shipper, receiver, oil_lot, permit, **oil_dispatch(carriers, licences))
        with reverts("UnlicensedTransporter", carriers[refused].address, licences[refused], waste_oil.id):
            ledger.dispatch(*statement.args, {"from": relayer})

    return check


def test_unlicensed_carrier_of_hazardous_waste(transporter, refuses_carriage):
    refuses_carriage([transporter], [ZERO_BYTES32])


def test_unknown_licence(transporter, refuses_carriage):
    refuses_carriage([transporter], [b"\x11" * 32])


def test_licence_of_another_holder(carriers, licence_of, refuses_carriage):
    a, b = carriers[:2]
    refuses_carriage([a], [licence_of(b)])


@pytest.mark.parametrize("kind", [PermitKind.ENVIRONMENTAL_PERMIT, PermitKind.LAB_ACCREDITATION])
def test_licence_of_the_wrong_kind(transporter, licence_of, refuses_carriage, kind):
    # The transporter's own permit, covering the code, but not a hazardous-waste transport licence.
    refuses_carriage([transporter], [licence_of(transporter, kind=kind)])


def test_receivers_permit_as_licence(permit, transporter, refuses_carriage):
    refuses_carriage([transporter], [permit])


def test_revoked_licence(transporter, licence_of, revoke_permit, refuses_carriage):
    licence = licence_of(transporter)
    revoke_permit(licence)
    refuses_carriage([transporter], [licence])


@pytest.mark.parametrize("window", ["expired", "not yet valid"])
def test_licence_outside_its_validity(transporter, licence_of, refuses_carriage, window):
    now = chain[-1].timestamp
    period = (now - 30 * DAY, now - DAY) if window == "expired" else (now + DAY, now + 30 * DAY)
    refuses_carriage([transporter], [licence_of(transporter, validFrom=period[0], validUntil=period[1])])


def test_licence_not_covering_the_code(slag, transporter, licence_of, refuses_carriage):
    refuses_carriage([transporter], [licence_of(transporter, coverage_=[(slag.key, SLAG_OPERATIONS)])])


def test_licence_covering_another_hazardous_code(
    transporter, licence_of, register_waste_code, refuses_carriage
):
    other = register_waste_code(
        "EU-LOW", "13 01 10*", "LTR", True, "mineral based non-chlorinated hydraulic oils"
    )
    other_key = other.events["WasteCodeRegistered"]["codeKey"]
    refuses_carriage([transporter], [licence_of(transporter, coverage_=[(other_key, r_operation(9))])])


def test_every_leg_needs_its_licence(carriers, licence_of, refuses_carriage):
    a, b = carriers[:2]
    licence_a = licence_of(a)
    refuses_carriage([a, b], [licence_a, licence_a], refused=1)


def test_shipper_carries_its_own_hazardous_waste(
    ledger, shipper, receiver, oil_lot, carry, pick_up, deliver, receive
):
    # Unlicensed and without the TRANSPORTER role: the shipper may carry its own waste (zero licence).
    transfer_id, tx = carry(**oil_dispatch([shipper], [ZERO_BYTES32]), lot_id=oil_lot)
    assert plain(tx.events["TransferCarried"]["licences"]) == (ZERO_BYTES32,)
    pick_up(transfer_id, [shipper], 0)
    deliver(transfer_id, [shipper], 0)
    receive(transfer_id, receiver, OIL_SHIPPED)
    assert status(ledger, transfer_id) == TransferStatus.RECEIVED


def test_shipper_then_licensed_carrier(
    ledger, shipper, oil_lot, transporter, licence_of, carry, pick_up, deliver
):
    # The shipper drives to a licensed carrier's depot; only the carrier needs a licence.
    legs = [shipper, transporter]
    transfer_id, _ = carry(**oil_dispatch(legs, [ZERO_BYTES32, licence_of(transporter)]), lot_id=oil_lot)
    for leg in range(2):
        pick_up(transfer_id, legs, leg)
        deliver(transfer_id, legs, leg)
    assert status(ledger, transfer_id) == TransferStatus.DELIVERED


def test_non_hazardous_waste_needs_no_licence(ledger, transporter, carry):
    transfer_id, tx = carry([transporter], [ZERO_BYTES32])
    assert plain(tx.events["TransferCarried"]["licences"]) == (ZERO_BYTES32,)
    assert status(ledger, transfer_id) == TransferStatus.AWAITING_PICK_UP


def test_licence_is_checked_at_dispatch(
    ledger, receiver, oil_lot, transporter, licence_of, revoke_permit, carry, pick_up, deliver, receive
):
    # Waste already on its way under a valid licence is carried to the end if the licence is revoked meanwhile.
    licence = licence_of(transporter)
    transfer_id, _ = carry(**oil_dispatch([transporter], [licence]), lot_id=oil_lot)
    revoke_permit(licence)
    pick_up(transfer_id, [transporter], 0)
    deliver(transfer_id, [transporter], 0)
    receive(transfer_id, receiver, OIL_SHIPPED)
    assert status(ledger, transfer_id) == TransferStatus.RECEIVED


def test_refused_carriage_takes_nothing(
    ledger, relayer, shipper, receiver, waste_oil, oil_lot, permit, transporter, signed_dispatch
):
    statement = signed_dispatch(
        shipper, receiver, oil_lot, permit, **oil_dispatch([transporter], [ZERO_BYTES32])
    )
    tx_year = utc_year(chain[-1].timestamp)
    with reverts("UnlicensedTransporter", transporter.address, ZERO_BYTES32, waste_oil.id):
        ledger.dispatch(*statement.args, {"from": relayer})
    assert plain(ledger.lot(oil_lot))[1] == OIL_QUANTITY
    assert ledger.capacityUsed(permit, tx_year) == 0
    assert status(ledger, statement.digest) == TransferStatus.NONE
