"""Rejections and returns (custody/Returns.sol): the named receiver refuses all or part of a transfer awaiting
its receipt; the accepted part opens its lot, the refused part travels back to the shipper (or on to another
permitted receiver) as a linked return transfer, closed by that party's receipt."""

import pytest
from brownie import chain
from typed_statements import (
    MAX_QUANTITY,
    RECEIVER,
    SHIPPED,
    SLAG_OPERATIONS,
    ZERO_ADDRESS,
    ZERO_BYTES32,
    TransferStatus,
    deadline_in,
    new_party,
    operation_index,
    plain,
    reverts,
    sign,
    struct_encoding,
    utc_year,
)

NO_OPERATION = 255  # TransferReturned's operation for a return to the shipper


@pytest.fixture
def dispatched(ledger, relayer, shipper, receiver, lot, permit, signed_dispatch):
    """The signed Dispatch of `SHIPPED` kg of `lot` to `receiver`, recorded and awaiting receipt."""
    statement = signed_dispatch(shipper, receiver, lot, permit)
    ledger.dispatch(*statement.args, {"from": relayer})
    return statement


@pytest.fixture(scope="module")
def signed_rejection(ledger):
    """A Rejection of transfer `transfer_id` by `receiver`: by default it accepts nothing and sends everything
    back to `return_to` (the shipper: no permit, no operation)."""

    def build(transfer_id, receiver, return_to, accepted=0, rejected=SHIPPED, signer=None, **fields):
        message = {
            "transferId": bytes(transfer_id),
            "receiver": receiver.address,
            "acceptedQuantity": accepted,
            "rejectedQuantity": rejected,
            "reason": "moisture above the contract's 8 % limit",
            "returnTo": return_to.address,
            "returnPermitId": ZERO_BYTES32,
            "returnOperation": "",
            "deadline": deadline_in(3600),
            **fields,
        }
        return sign(signer or receiver, ledger, "Rejection", message)

    return build


@pytest.fixture
def reject(ledger, relayer, signed_rejection):
    """Relays `receiver`'s rejection of the `dispatched` statement's transfer; returns the transaction."""

    def run(dispatched, receiver, return_to, **kwargs):
        statement = signed_rejection(dispatched.digest, receiver, return_to, **kwargs)
        return ledger.reject(encoding(dispatched), *statement.args, {"from": relayer})

    return run


def encoding(dispatched):
    return struct_encoding("Dispatch", dispatched.message)


# --- the legal paths ---------------------------------------------------------------------------------


def test_partial_rejection_returns_the_refused_part_to_the_shipper(
    ledger, shipper, receiver, slag, lot, dispatched, reject, receive
):
    tx = reject(dispatched, receiver, shipper, accepted=9_000, rejected=3_400)

    transfer_id = dispatched.digest
    return_id = tx.return_value
    # The receiver holds what it accepted; 100 kg of the 12,500 shipped are the discrepancy.
    assert plain(dict(tx.events["TransferRejected"])) == {
        "transferId": transfer_id,
        "receiver": receiver.address,
        "acceptedQuantity": 9_000,
        "rejectedQuantity": 3_400,
        "shippedQuantity": SHIPPED,
        "reason": "moisture above the contract's 8 % limit",
    }
    assert plain(ledger.transfer(transfer_id))[1] == TransferStatus.PARTIALLY_REJECTED
    assert plain(ledger.lot(transfer_id)) == (receiver.address, 9_000, slag.id)
    # The refused part is a transfer of its own, linked to the rejected one, on its way back.
    assert plain(dict(tx.events["TransferReturned"])) == {
        "returnId": plain(return_id),
        "transferId": transfer_id,
        "returnTo": shipper.address,
        "quantity": 3_400,
        "permitId": ZERO_BYTES32,
        "operation": NO_OPERATION,
    }
    assert plain(ledger.transfer(return_id)) == (shipper.address, TransferStatus.RETURNING, 3_400, slag.id)

    # The shipper (no RECEIVER role) takes back its own load; it weighs 3,390 kg.
    back = receive(return_id, shipper, 3_390)
    assert back.events["TransferReceived"]["shippedQuantity"] == 3_400
    assert plain(ledger.transfer(return_id))[1] == TransferStatus.RECEIVED
    assert plain(ledger.lot(return_id)) == (shipper.address, 3_390, slag.id)


def test_full_rejection_opens_no_lot_for_the_receiver(ledger, shipper, receiver, slag, dispatched, reject):
    tx = reject(dispatched, receiver, shipper)

    assert plain(ledger.transfer(dispatched.digest))[1] == TransferStatus.REJECTED
    assert plain(ledger.lot(dispatched.digest)) == (ZERO_ADDRESS, 0, 0)
    assert plain(ledger.transfer(tx.return_value)) == (
        shipper.address,
        TransferStatus.RETURNING,
        SHIPPED,
        slag.id,
    )


def test_refused_part_may_go_on_to_another_permitted_receiver(
    ledger, shipper, receiver, register, slag, dispatched, reject, receive, register_permit
):
    other = new_party()
    register(other, RECEIVER)
    other_permit = register_permit(other, [(slag.key, SLAG_OPERATIONS)])

    tx = reject(
        dispatched,
        receiver,
        other,
        rejected=SHIPPED,
        returnPermitId=other_permit,
        returnOperation="R4",
    )

    event = tx.events["TransferReturned"]
    assert (event["returnTo"], plain(event["permitId"]), event["operation"]) == (
        other.address,
        other_permit,
        operation_index("R4"),
    )
    receive(tx.return_value, other, SHIPPED)
    assert plain(ledger.lot(tx.return_value)) == (other.address, SHIPPED, slag.id)


def test_return_to_another_receiver_draws_its_permit_capacity(
    ledger, shipper, receiver, register, slag, dispatched, reject, register_permit
):
    other = new_party()
    register(other, RECEIVER)
    other_permit = register_permit(other, [(slag.key, SLAG_OPERATIONS)], yearlyCapacity=SHIPPED)
    tx = reject(dispatched, receiver, other, returnPermitId=other_permit, returnOperation="R5")
    assert ledger.capacityUsed(other_permit, utc_year(tx.timestamp)) == SHIPPED


def test_delivered_transfer_may_be_rejected(
    ledger, relayer, shipper, receiver, transporter, lot, permit, signed_dispatch, pick_up, deliver, reject
):
    statement = signed_dispatch(
        shipper, receiver, lot, permit, transporters=[transporter], licences=[ZERO_BYTES32]
    )
    ledger.dispatch(*statement.args, {"from": relayer})
    transporters = [transporter]
    pick_up(statement.digest, transporters, 0)
    with reverts("NotAwaitingReceipt", statement.digest, TransferStatus.IN_TRANSIT):
        reject(statement, receiver, shipper)
    deliver(statement.digest, transporters, 0)
    reject(statement, receiver, shipper)
    assert plain(ledger.transfer(statement.digest))[1] == TransferStatus.REJECTED


# --- refusals ----------------------------------------------------------------------------------------


def test_nothing_rejected(receiver, shipper, dispatched, reject):
    with reverts("NothingRejected", dispatched.digest):
        reject(dispatched, receiver, shipper, accepted=SHIPPED, rejected=0)


def test_quantities_must_be_quantities(receiver, shipper, dispatched, reject):
    with reverts("QuantityTooLarge", MAX_QUANTITY + 1, MAX_QUANTITY):
        reject(dispatched, receiver, shipper, rejected=MAX_QUANTITY + 1)
    with reverts("QuantityTooLarge", MAX_QUANTITY + 1, MAX_QUANTITY):
        reject(dispatched, receiver, shipper, accepted=MAX_QUANTITY + 1, rejected=1)


def test_wrong_dispatch_encoding(ledger, relayer, shipper, receiver, dispatched, signed_rejection):
    statement = signed_rejection(dispatched.digest, receiver, shipper)
    # Another shipper claimed: the encoding no longer hashes to the transfer id.
    forged = encoding(dispatched)
    forged[1] = bytes(12) + bytes.fromhex(new_party().address[2:])
    with reverts("WrongDispatch", dispatched.digest):
        ledger.reject(forged, *statement.args, {"from": relayer})
    # The right words under another type hash (a statement of another kind with the same fields).
    forged = encoding(dispatched)
    forged[0] = b"\x01" * 32
    with reverts("WrongDispatch", dispatched.digest):
        ledger.reject(forged, *statement.args, {"from": relayer})


def test_only_the_named_receiver_rejects(ledger, relayer, shipper, dispatched, register, signed_rejection):
    other = new_party()
    register(other, RECEIVER)
    statement = signed_rejection(dispatched.digest, other, shipper)
    with reverts("NotNamedReceiver", dispatched.digest, other.address):
        ledger.reject(encoding(dispatched), *statement.args, {"from": relayer})


def test_rejection_signed_by_someone_else(ledger, relayer, shipper, receiver, dispatched, signed_rejection):
    statement = signed_rejection(dispatched.digest, receiver, shipper, signer=shipper)
    with reverts("InvalidSignature", receiver.address):
        ledger.reject(encoding(dispatched), *statement.args, {"from": relayer})


def test_tampered_rejection(ledger, relayer, shipper, receiver, dispatched, signed_rejection):
    statement = signed_rejection(dispatched.digest, receiver, shipper, accepted=9_000, rejected=3_500)
    with reverts("InvalidSignature", receiver.address):
        ledger.reject(
            encoding(dispatched),
            *statement.tampered(acceptedQuantity=12_500, rejectedQuantity=1),
            {"from": relayer},
        )


def test_expired_rejection(ledger, relayer, shipper, receiver, dispatched, signed_rejection):
    statement = signed_rejection(dispatched.digest, receiver, shipper, deadline=1)
    with reverts("SignatureExpired", 1):
        ledger.reject(encoding(dispatched), *statement.args, {"from": relayer})


def test_rejected_once_and_never_after_receipt(
    ledger, relayer, shipper, receiver, dispatched, reject, receive
):
    statement_args = (dispatched, receiver, shipper)
    reject(*statement_args)
    with reverts("NotAwaitingReceipt", dispatched.digest, TransferStatus.REJECTED):
        reject(*statement_args)
    with reverts("NotAwaitingReceipt", dispatched.digest, TransferStatus.REJECTED):
        receive(dispatched.digest, receiver)


def test_received_transfer_cannot_be_rejected(shipper, receiver, dispatched, reject, receive):
    receive(dispatched.digest, receiver)
    with reverts("NotAwaitingReceipt", dispatched.digest, TransferStatus.RECEIVED):
        reject(dispatched, receiver, shipper)


def test_a_return_is_received_not_rejected(
    ledger, relayer, shipper, receiver, dispatched, reject, signed_rejection
):
    return_id = reject(dispatched, receiver, shipper).return_value
    statement = signed_rejection(return_id, shipper, receiver)
    with reverts("NotAwaitingReceipt", plain(return_id), TransferStatus.RETURNING):
        ledger.reject(encoding(dispatched), *statement.args, {"from": relayer})


def test_only_the_return_destination_receives_the_return(shipper, receiver, dispatched, reject, receive):
    return_id = reject(dispatched, receiver, shipper).return_value
    with reverts("NotNamedReceiver", plain(return_id), receiver.address):
        receive(return_id, receiver)


def test_return_to_the_shipper_names_no_permit(shipper, receiver, permit, dispatched, reject):
    with reverts("PermitOnReturnToShipper", permit):
        reject(dispatched, receiver, shipper, returnPermitId=permit)
    with reverts("PermitOnReturnToShipper", ZERO_BYTES32):
        reject(dispatched, receiver, shipper, returnOperation="R5")


def test_return_to_the_rejecting_receiver_itself(receiver, permit, dispatched, reject):
    with reverts("SelfTransfer", receiver.address):
        reject(dispatched, receiver, receiver, returnPermitId=permit, returnOperation="R5")


def test_return_elsewhere_needs_a_permitted_receiver(
    shipper, receiver, register, slag, dispatched, reject, register_permit, set_status
):
    other = new_party()
    register(other, RECEIVER)
    with reverts("UnknownPermit", ZERO_BYTES32):
        reject(dispatched, receiver, other)
    only_r4 = register_permit(other, [(slag.key, SLAG_OPERATIONS)])
    with reverts("PermitDoesNotCover", only_r4, slag.id, "R1"):
        reject(dispatched, receiver, other, returnPermitId=only_r4, returnOperation="R1")
    small = register_permit(other, [(slag.key, SLAG_OPERATIONS)], yearlyCapacity=SHIPPED - 1)
    with reverts("PermitCapacityExceeded", small, utc_year(chain[-1].timestamp), 0, SHIPPED, SHIPPED - 1):
        reject(dispatched, receiver, other, returnPermitId=small, returnOperation="R5")
    set_status(other, True)
    with reverts("SuspendedParticipant", other.address):
        reject(dispatched, receiver, other, returnPermitId=only_r4, returnOperation="R5")


def test_return_elsewhere_needs_the_receiver_role(shipper, receiver, register, permit, dispatched, reject):
    not_a_receiver = new_party()
    register(not_a_receiver, 1 << 2)  # SHIPPER only
    with reverts("MissingRole", not_a_receiver.address, RECEIVER):
        reject(dispatched, receiver, not_a_receiver, returnPermitId=permit, returnOperation="R5")


def test_suspended_receiver_cannot_reject(shipper, receiver, dispatched, reject, set_status):
    set_status(receiver, True)
    with reverts("SuspendedParticipant", receiver.address):
        reject(dispatched, receiver, shipper)


def test_unknown_transfer(ledger, relayer, shipper, receiver, signed_rejection, signed_dispatch, lot, permit):
    never_sent = signed_dispatch(shipper, receiver, lot, permit)
    statement = signed_rejection(never_sent.digest, receiver, shipper)
    with reverts("NotAwaitingReceipt", never_sent.digest, TransferStatus.NONE):
        ledger.reject(encoding(never_sent), *statement.args, {"from": relayer})
