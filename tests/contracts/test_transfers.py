"""SymbiosisLedger's custody (custody/Transfers.sol): a shipper's signed dispatch sends part of a lot it holds,
the named receiver's signed receipt opens the receiver's lot. The permit checks of a dispatch are in
test_dispatch_permits.py."""

import pytest
from brownie import web3
from typed_statements import (
    DOCUMENT_HASH,
    LOT_QUANTITY,
    MAX_QUANTITY,
    RECEIVER,
    SHIPPED,
    SHIPPER,
    SLAG_OPERATIONS,
    ZERO_ADDRESS,
    TransferStatus,
    deadline_in,
    new_party,
    plain,
    reverts,
    utc_year,
)

# --- dispatch: the legal path ------------------------------------------------------------------------


def test_dispatch_records_transfer(ledger, relayer, shipper, receiver, slag, lot, permit, signed_dispatch):
    statement = signed_dispatch(shipper, receiver, lot, permit, quantity=12_500, operation="R5")

    tx = ledger.dispatch(*statement.args, {"from": relayer})

    # Anyone holding the dispatch can recompute its id: the EIP-712 digest the shipper signed.
    transfer_id = statement.digest
    assert plain(tx.return_value) == transfer_id
    assert plain(dict(tx.events["TransferDispatched"])) == {
        "transferId": transfer_id,
        "shipper": shipper.address,
        "receiver": receiver.address,
        "lotId": lot,
        "quantity": 12_500,
        "operation": 4,  # R5's bit in a permit's operations mask (R1..R13 -> 0..12, D1..D15 -> 13..27)
        "permitId": permit,
        "certificates": (),
        "documentHash": DOCUMENT_HASH,
    }
    assert plain(ledger.lot(lot)) == (shipper.address, LOT_QUANTITY - 12_500, slag.id)
    assert plain(ledger.transfer(transfer_id)) == (
        receiver.address,
        TransferStatus.DISPATCHED,
        12_500,
        slag.id,
    )
    year = utc_year(tx.timestamp)
    assert ledger.capacityUsed(permit, year) == 12_500
    assert ledger.capacityUsed(permit, year - 1) == ledger.capacityUsed(permit, year + 1) == 0
    # No nonce is consumed (the transfer record stops a replay), and the relayer paid, not the shipper.
    assert not ledger.nonceUsed(shipper.address, statement.message["nonce"])
    assert web3.eth.get_balance(shipper.address) == 0


def test_unknown_transfer_reads_as_zero(ledger):
    assert plain(ledger.transfer(b"\x42" * 32)) == (ZERO_ADDRESS, TransferStatus.NONE, 0, 0)


def test_partial_shipments_split_a_lot(
    ledger, relayer, shipper, receiver, lot, permit, dispatch, signed_dispatch
):
    ids = [
        dispatch(shipper, receiver, lot, permit, quantity=q).events["TransferDispatched"]["transferId"]
        for q in (30_000, 30_000)
    ]
    assert plain(ledger.lot(lot))[1] == LOT_QUANTITY - 60_000
    assert [plain(ledger.transfer(i))[2] for i in ids] == [30_000, 30_000]

    with reverts("InsufficientLotBalance", lot, 20_000, 20_001):
        ledger.dispatch(
            *signed_dispatch(shipper, receiver, lot, permit, quantity=20_001).args, {"from": relayer}
        )

    dispatch(shipper, receiver, lot, permit, quantity=20_000)  # the rest, exactly
    assert plain(ledger.lot(lot))[1] == 0
    with reverts("InsufficientLotBalance", lot, 0, 1):
        dispatch(shipper, receiver, lot, permit, quantity=1)


def test_whole_lot_in_one_dispatch(ledger, shipper, receiver, lot, permit, dispatch):
    dispatch(shipper, receiver, lot, permit, quantity=LOT_QUANTITY)
    assert plain(ledger.lot(lot))[1] == 0


def test_more_than_the_lot(ledger, relayer, shipper, receiver, lot, permit, signed_dispatch):
    statement = signed_dispatch(shipper, receiver, lot, permit, quantity=LOT_QUANTITY + 1)
    with reverts("InsufficientLotBalance", lot, LOT_QUANTITY, LOT_QUANTITY + 1):
        ledger.dispatch(*statement.args, {"from": relayer})


def test_same_content_with_another_nonce_is_another_transfer(
    ledger, relayer, shipper, receiver, lot, permit, signed_dispatch
):
    first = signed_dispatch(shipper, receiver, lot, permit)
    second = signed_dispatch(shipper, receiver, lot, permit, nonce=first.message["nonce"] + 1)
    ledger.dispatch(*first.args, {"from": relayer})
    ledger.dispatch(*second.args, {"from": relayer})
    assert first.digest != second.digest
    assert plain(ledger.lot(lot))[1] == LOT_QUANTITY - 2 * SHIPPED


def test_reinstated_shipper_may_dispatch_again(ledger, shipper, receiver, lot, permit, set_status, dispatch):
    set_status(shipper, True)
    set_status(shipper, False)
    tx = dispatch(shipper, receiver, lot, permit)
    assert (
        plain(ledger.transfer(tx.events["TransferDispatched"]["transferId"]))[1] == TransferStatus.DISPATCHED
    )


def test_largest_quantity(ledger, shipper, receiver, slag, register_lot, register_permit, dispatch):
    big_lot = register_lot(shipper, quantity=MAX_QUANTITY)
    big_permit = register_permit(receiver, [(slag.key, SLAG_OPERATIONS)], yearlyCapacity=2**64 - 1)
    tx = dispatch(shipper, receiver, big_lot, big_permit, quantity=MAX_QUANTITY)
    transfer_id = tx.events["TransferDispatched"]["transferId"]
    assert plain(ledger.transfer(transfer_id))[2] == MAX_QUANTITY
    assert plain(ledger.lot(big_lot))[1] == 0
    assert ledger.capacityUsed(big_permit, utc_year(tx.timestamp)) == MAX_QUANTITY


# --- dispatch: the lot --------------------------------------------------------------------------------


def test_unknown_lot(ledger, relayer, shipper, receiver, permit, signed_dispatch):
    unknown = b"\x42" * 32
    with reverts("UnknownLot", unknown):
        ledger.dispatch(*signed_dispatch(shipper, receiver, unknown, permit).args, {"from": relayer})


def test_shipper_holding_nothing_cannot_ship_anothers_lot(
    ledger, relayer, register, receiver, lot, permit, signed_dispatch
):
    other = new_party()
    register(other, SHIPPER)
    with reverts("NotLotHolder", lot, other.address):
        ledger.dispatch(*signed_dispatch(other, receiver, lot, permit).args, {"from": relayer})


def test_chain_of_custody(
    ledger,
    relayer,
    register,
    shipper,
    receiver,
    slag,
    lot,
    permit,
    register_permit,
    dispatch,
    receive,
    signed_dispatch,
):
    """A generates, ships to B; B (SHIPPER and RECEIVER) receives and ships part of its lot on to C."""
    b = new_party()
    register(b, SHIPPER | RECEIVER)
    b_permit = register_permit(b, [(slag.key, SLAG_OPERATIONS)])

    first = dispatch(shipper, b, lot, b_permit).events["TransferDispatched"]["transferId"]
    # B's lot is opened by the receipt, not by the dispatch.
    with reverts("UnknownLot", first):
        ledger.dispatch(*signed_dispatch(b, receiver, first, permit).args, {"from": relayer})
    receive(first, b, 12_400)
    assert plain(ledger.lot(first)) == (b.address, 12_400, slag.id)

    # Each holds only its own lot: A cannot ship B's, B cannot ship A's.
    with reverts("NotLotHolder", first, shipper.address):
        ledger.dispatch(*signed_dispatch(shipper, receiver, first, permit).args, {"from": relayer})
    with reverts("NotLotHolder", lot, b.address):
        ledger.dispatch(*signed_dispatch(b, receiver, lot, permit).args, {"from": relayer})
    # B can ship what it measured, not what was shipped to it.
    with reverts("InsufficientLotBalance", first, 12_400, 12_500):
        ledger.dispatch(*signed_dispatch(b, receiver, first, permit, quantity=12_500).args, {"from": relayer})

    second = dispatch(b, receiver, first, permit, quantity=10_000, operation="R4")
    second_id = second.events["TransferDispatched"]["transferId"]
    assert plain(ledger.lot(first)) == (b.address, 2_400, slag.id)
    assert plain(ledger.transfer(second_id)) == (receiver.address, TransferStatus.DISPATCHED, 10_000, slag.id)
    receive(second_id, receiver, 10_000)

    # The code travelled with the lot from A to C; A's own lot kept the rest.
    assert plain(ledger.lot(second_id)) == (receiver.address, 10_000, slag.id)
    assert plain(ledger.lot(lot)) == (shipper.address, LOT_QUANTITY - SHIPPED, slag.id)
    year = utc_year(second.timestamp)
    assert (ledger.capacityUsed(b_permit, year), ledger.capacityUsed(permit, year)) == (SHIPPED, 10_000)


def test_receiver_without_shipper_role_cannot_ship_its_lot(
    ledger, relayer, register, shipper, receiver, transfer_id, receive, slag, register_permit, signed_dispatch
):
    receive(transfer_id, receiver)
    other = new_party()
    register(other, RECEIVER)
    other_permit = register_permit(other, [(slag.key, SLAG_OPERATIONS)])
    with reverts("MissingRole", receiver.address, SHIPPER):
        ledger.dispatch(*signed_dispatch(receiver, other, transfer_id, other_permit).args, {"from": relayer})


# --- dispatch: who may ship and receive ---------------------------------------------------------------


def test_self_transfer(ledger, relayer, shipper, lot, permit, signed_dispatch):
    with reverts("SelfTransfer", shipper.address):
        ledger.dispatch(*signed_dispatch(shipper, shipper, lot, permit).args, {"from": relayer})


def test_unregistered_shipper(ledger, relayer, receiver, lot, permit, signed_dispatch):
    stranger = new_party()
    with reverts("UnregisteredParticipant", stranger.address):
        ledger.dispatch(*signed_dispatch(stranger, receiver, lot, permit).args, {"from": relayer})


def test_unregistered_receiver(ledger, relayer, shipper, lot, permit, signed_dispatch):
    stranger = new_party()
    with reverts("UnregisteredParticipant", stranger.address):
        ledger.dispatch(*signed_dispatch(shipper, stranger, lot, permit).args, {"from": relayer})


def test_suspended_shipper(ledger, relayer, shipper, receiver, lot, permit, set_status, signed_dispatch):
    set_status(shipper, True)
    with reverts("SuspendedParticipant", shipper.address):
        ledger.dispatch(*signed_dispatch(shipper, receiver, lot, permit).args, {"from": relayer})


def test_suspended_receiver_at_dispatch(
    ledger, relayer, shipper, receiver, lot, permit, set_status, signed_dispatch
):
    set_status(receiver, True)
    with reverts("SuspendedParticipant", receiver.address):
        ledger.dispatch(*signed_dispatch(shipper, receiver, lot, permit).args, {"from": relayer})


def test_receiver_only_party_cannot_dispatch(
    ledger, relayer, shipper, receiver, lot, permit, signed_dispatch
):
    with reverts("MissingRole", receiver.address, SHIPPER):
        ledger.dispatch(*signed_dispatch(receiver, shipper, lot, permit).args, {"from": relayer})


def test_shipper_only_party_cannot_be_receiver(
    ledger, relayer, shipper, register, lot, permit, signed_dispatch
):
    other_shipper = new_party()
    register(other_shipper, SHIPPER)
    with reverts("MissingRole", other_shipper.address, RECEIVER):
        ledger.dispatch(*signed_dispatch(shipper, other_shipper, lot, permit).args, {"from": relayer})


# --- dispatch: quantities -----------------------------------------------------------------------------


def test_zero_quantity(ledger, relayer, shipper, receiver, lot, permit, signed_dispatch):
    with reverts("ZeroQuantity"):
        ledger.dispatch(*signed_dispatch(shipper, receiver, lot, permit, quantity=0).args, {"from": relayer})


@pytest.mark.parametrize("quantity", [MAX_QUANTITY + 1, 2**64 - 1], ids=["2^56", "2^64-1"])
def test_quantity_too_large(ledger, relayer, shipper, receiver, lot, permit, signed_dispatch, quantity):
    statement = signed_dispatch(shipper, receiver, lot, permit, quantity=quantity)
    with reverts("QuantityTooLarge", quantity, MAX_QUANTITY):
        ledger.dispatch(*statement.args, {"from": relayer})


# --- dispatch: what a signature binds -----------------------------------------------------------------


def test_dispatch_signed_by_another_key(ledger, relayer, shipper, receiver, lot, permit, signed_dispatch):
    statement = signed_dispatch(shipper, receiver, lot, permit, signer=new_party())
    with reverts("InvalidSignature", shipper.address):
        ledger.dispatch(*statement.args, {"from": relayer})


def test_dispatch_signed_for_another_chain(ledger, relayer, shipper, receiver, lot, permit, signed_dispatch):
    statement = signed_dispatch(shipper, receiver, lot, permit, chain_id=web3.eth.chain_id + 1)
    with reverts("InvalidSignature", shipper.address):
        ledger.dispatch(*statement.args, {"from": relayer})


@pytest.mark.parametrize(
    "field",
    ["quantity", "operation", "permitId", "lotId", "certificates", "documentHash", "nonce", "deadline"],
)
def test_dispatch_tampered_after_signing(
    ledger,
    relayer,
    shipper,
    receiver,
    slag,
    lot,
    permit,
    certificate,
    register_lot,
    register_permit,
    signed_dispatch,
    field,
):
    # Each change alone passes every other check, so only the signature can refuse it.
    changes = {
        "certificates": lambda: [bytes(certificate)],
        "quantity": lambda: 12_000,
        "operation": lambda: "R4",
        "permitId": lambda: register_permit(receiver, [(slag.key, SLAG_OPERATIONS)]),
        "lotId": lambda: register_lot(shipper),
        "documentHash": lambda: b"\x00" * 32,
        "nonce": lambda: 1,
        "deadline": lambda: 2**32,
    }
    change = {field: changes[field]()}
    statement = signed_dispatch(shipper, receiver, lot, permit)
    with reverts("InvalidSignature", shipper.address):
        ledger.dispatch(*statement.tampered(**change), {"from": relayer})


def test_expired_dispatch(ledger, relayer, shipper, receiver, lot, permit, signed_dispatch):
    deadline = deadline_in(-1)
    with reverts("SignatureExpired", deadline):
        ledger.dispatch(
            *signed_dispatch(shipper, receiver, lot, permit, deadline=deadline).args, {"from": relayer}
        )


def test_replayed_dispatch(ledger, relayer, shipper, receiver, lot, permit, signed_dispatch):
    statement = signed_dispatch(shipper, receiver, lot, permit)
    tx = ledger.dispatch(*statement.args, {"from": relayer})
    with reverts("AlreadyRecorded", statement.digest):
        ledger.dispatch(*statement.args, {"from": relayer})
    # Nothing was debited or counted twice.
    assert plain(ledger.lot(lot))[1] == LOT_QUANTITY - SHIPPED
    assert ledger.capacityUsed(permit, utc_year(tx.timestamp)) == SHIPPED


def test_replayed_dispatch_after_receipt(
    ledger, relayer, shipper, receiver, lot, permit, signed_dispatch, receive
):
    statement = signed_dispatch(shipper, receiver, lot, permit)
    ledger.dispatch(*statement.args, {"from": relayer})
    receive(statement.digest, receiver)
    with reverts("AlreadyRecorded", statement.digest):
        ledger.dispatch(*statement.args, {"from": relayer})


# --- receipt ------------------------------------------------------------------------------------------


def test_receipt_opens_the_receivers_lot(
    ledger, relayer, shipper, receiver, slag, lot, transfer_id, signed_receipt
):
    statement = signed_receipt(transfer_id, receiver, SHIPPED)

    tx = ledger.confirmReceipt(*statement.args, {"from": relayer})

    assert plain(dict(tx.events["TransferReceived"])) == {
        "transferId": transfer_id,
        "receiver": receiver.address,
        "receivedQuantity": SHIPPED,
        "shippedQuantity": SHIPPED,
    }
    assert plain(ledger.transfer(transfer_id)) == (
        receiver.address,
        TransferStatus.RECEIVED,
        SHIPPED,
        slag.id,
    )
    # The receiver's lot has the transfer's id, the measured quantity and the shipped lot's code.
    assert plain(ledger.lot(transfer_id)) == (receiver.address, SHIPPED, slag.id)
    assert plain(ledger.lot(lot)) == (shipper.address, LOT_QUANTITY - SHIPPED, slag.id)
    assert web3.eth.get_balance(receiver.address) == 0


@pytest.mark.parametrize("received", [11_980, 12_620], ids=["less", "more"])
def test_discrepancy_is_recorded_as_measured(ledger, receiver, slag, transfer_id, receive, permit, received):
    # The ledger records what the receiver measured; judging a discrepancy is the read model's business.
    tx = receive(transfer_id, receiver, received)
    event = tx.events["TransferReceived"]
    assert (event["receivedQuantity"], event["shippedQuantity"]) == (received, SHIPPED)
    assert plain(ledger.transfer(transfer_id))[2] == SHIPPED
    assert plain(ledger.lot(transfer_id)) == (receiver.address, received, slag.id)
    # The permit's capacity counts what was dispatched.
    assert ledger.capacityUsed(permit, utc_year(tx.timestamp)) == SHIPPED


def test_receipt_of_an_oil_lot_keeps_its_code(
    ledger, shipper, receiver, waste_oil, permit, register_lot, dispatch, receive
):
    oil_lot = register_lot(shipper, wasteCode="13 02 05*", unit="LTR", quantity=3_000)
    transfer = dispatch(shipper, receiver, oil_lot, permit, quantity=3_000, operation="D10")
    transfer_id = transfer.events["TransferDispatched"]["transferId"]
    receive(transfer_id, receiver, 2_990)
    assert plain(ledger.lot(transfer_id)) == (receiver.address, 2_990, waste_oil.id)


def test_receipt_by_someone_other_than_the_named_receiver(
    ledger, relayer, register, transfer_id, signed_receipt
):
    other_receiver = new_party()
    register(other_receiver, RECEIVER)
    with reverts("NotNamedReceiver", transfer_id, other_receiver.address):
        ledger.confirmReceipt(*signed_receipt(transfer_id, other_receiver).args, {"from": relayer})


def test_receipt_by_the_shipper(ledger, relayer, shipper, transfer_id, signed_receipt):
    with reverts("NotNamedReceiver", transfer_id, shipper.address):
        ledger.confirmReceipt(*signed_receipt(transfer_id, shipper).args, {"from": relayer})


def test_receipt_of_unknown_transfer(ledger, relayer, receiver, signed_receipt):
    unknown = b"\x42" * 32
    with reverts("NotAwaitingReceipt", unknown, TransferStatus.NONE):
        ledger.confirmReceipt(*signed_receipt(unknown, receiver).args, {"from": relayer})


def test_receipt_naming_a_lot(ledger, relayer, receiver, lot, signed_receipt):
    # A lot id is no transfer id.
    with reverts("NotAwaitingReceipt", lot, TransferStatus.NONE):
        ledger.confirmReceipt(*signed_receipt(lot, receiver).args, {"from": relayer})


def test_double_receipt(ledger, relayer, receiver, transfer_id, receive, signed_receipt):
    receive(transfer_id, receiver)
    with reverts("NotAwaitingReceipt", transfer_id, TransferStatus.RECEIVED):
        ledger.confirmReceipt(*signed_receipt(transfer_id, receiver).args, {"from": relayer})


def test_replayed_receipt(ledger, relayer, receiver, transfer_id, signed_receipt):
    statement = signed_receipt(transfer_id, receiver)
    ledger.confirmReceipt(*statement.args, {"from": relayer})
    with reverts("NotAwaitingReceipt", transfer_id, TransferStatus.RECEIVED):
        ledger.confirmReceipt(*statement.args, {"from": relayer})


def test_suspended_receiver_at_receipt(ledger, relayer, receiver, transfer_id, set_status, signed_receipt):
    set_status(receiver, True)
    with reverts("SuspendedParticipant", receiver.address):
        ledger.confirmReceipt(*signed_receipt(transfer_id, receiver).args, {"from": relayer})


def test_receipt_after_the_permit_was_revoked(ledger, receiver, transfer_id, permit, revoke_permit, receive):
    # The permit is checked when the waste is sent; what arrived afterwards is still recorded as received.
    revoke_permit(permit)
    receive(transfer_id, receiver)
    assert plain(ledger.transfer(transfer_id))[1] == TransferStatus.RECEIVED


def test_receipt_signed_by_another_key(ledger, relayer, receiver, transfer_id, signed_receipt):
    statement = signed_receipt(transfer_id, receiver, signer=new_party())
    with reverts("InvalidSignature", receiver.address):
        ledger.confirmReceipt(*statement.args, {"from": relayer})


@pytest.mark.parametrize(
    "change", [{"receivedQuantity": SHIPPED}, {"deadline": 2**32}], ids=["receivedQuantity", "deadline"]
)
def test_receipt_tampered_after_signing(ledger, relayer, receiver, transfer_id, signed_receipt, change):
    statement = signed_receipt(transfer_id, receiver, 11_000)
    with reverts("InvalidSignature", receiver.address):
        ledger.confirmReceipt(*statement.tampered(**change), {"from": relayer})


def test_receipt_for_one_transfer_cannot_close_another(
    ledger, relayer, shipper, receiver, lot, permit, transfer_id, dispatch, signed_receipt
):
    other = dispatch(shipper, receiver, lot, permit).events["TransferDispatched"]["transferId"]
    statement = signed_receipt(transfer_id, receiver)
    with reverts("InvalidSignature", receiver.address):
        ledger.confirmReceipt(*statement.tampered(transferId=bytes(other)), {"from": relayer})


def test_expired_receipt(ledger, relayer, receiver, transfer_id, signed_receipt):
    deadline = deadline_in(-1)
    with reverts("SignatureExpired", deadline):
        ledger.confirmReceipt(
            *signed_receipt(transfer_id, receiver, deadline=deadline).args, {"from": relayer}
        )


def test_receipt_of_zero_quantity(ledger, relayer, receiver, transfer_id, signed_receipt):
    with reverts("ZeroQuantity"):
        ledger.confirmReceipt(*signed_receipt(transfer_id, receiver, 0).args, {"from": relayer})


@pytest.mark.parametrize("quantity", [MAX_QUANTITY + 1, 2**64 - 1], ids=["2^56", "2^64-1"])
def test_receipt_quantity_too_large(ledger, relayer, receiver, transfer_id, signed_receipt, quantity):
    with reverts("QuantityTooLarge", quantity, MAX_QUANTITY):
        ledger.confirmReceipt(*signed_receipt(transfer_id, receiver, quantity).args, {"from": relayer})


def test_largest_received_quantity(ledger, receiver, transfer_id, receive):
    receive(transfer_id, receiver, MAX_QUANTITY)
    assert plain(ledger.lot(transfer_id))[1] == MAX_QUANTITY
