"""TransferLedger: a shipper's signed dispatch opens a transfer, the named receiver's signed receipt closes it."""

import pytest
from brownie import web3
from typed_statements import (
    DOMAINS,
    MAX_QUANTITY,
    RECEIVER,
    SHIPPER,
    TransferStatus,
    deadline_in,
    new_party,
    plain,
    reverts,
)

# --- happy path ---------------------------------------------------------------------------------------


def test_domain_is_the_one_parties_sign_for(ledger, registry):
    _, name, version, chain_id, contract, _, _ = ledger.eip712Domain()
    assert (name, version) == DOMAINS["TransferLedger"]
    assert (chain_id, contract) == (web3.eth.chain_id, ledger.address)
    assert ledger.registry() == registry.address


def test_dispatch_records_transfer(ledger, relayer, shipper, receiver, signed_dispatch):
    statement = signed_dispatch(shipper, receiver, quantity=12_500)

    tx = ledger.dispatch(*statement.args, {"from": relayer})

    # Anyone holding the dispatch can recompute its id: the EIP-712 digest the shipper signed.
    assert plain(tx.return_value) == statement.digest
    m = statement.message
    assert plain(dict(tx.events["TransferDispatched"])) == {
        "transferId": statement.digest,
        "shipper": shipper.address,
        "receiver": receiver.address,
        "lotId": m["lotId"],
        "wasteCode": m["wasteCode"],
        "quantity": 12_500,
        "unit": m["unit"],
        "documentHash": m["documentHash"],
        "nonce": m["nonce"],
    }
    assert plain(ledger.transfer(statement.digest)) == (
        shipper.address,
        TransferStatus.DISPATCHED,
        12_500,
        receiver.address,
        0,
    )
    assert ledger.nonceUsed(shipper.address, m["nonce"])
    assert web3.eth.get_balance(shipper.address) == 0  # the relayer paid, not the shipper


def test_receipt_closes_transfer(ledger, relayer, shipper, receiver, transfer_id, signed_receipt):
    statement = signed_receipt(transfer_id, receiver, 12_500)

    tx = ledger.confirmReceipt(*statement.args, {"from": relayer})

    assert plain(dict(tx.events["TransferReceived"])) == {
        "transferId": transfer_id,
        "receiver": receiver.address,
        "receivedQuantity": 12_500,
        "nonce": statement.message["nonce"],
    }
    assert plain(ledger.transfer(transfer_id)) == (
        shipper.address,
        TransferStatus.RECEIVED,
        12_500,
        receiver.address,
        12_500,
    )
    assert ledger.nonceUsed(receiver.address, statement.message["nonce"])
    assert web3.eth.get_balance(receiver.address) == 0


def test_discrepancy_is_recorded_as_measured(ledger, receiver, transfer_id, receive):
    # The ledger records what the receiver measured; judging a shortfall is the read model's business.
    receive(transfer_id, receiver, 11_980)
    assert plain(ledger.transfer(transfer_id))[1:] == (
        TransferStatus.RECEIVED,
        12_500,
        receiver.address,
        11_980,
    )


def test_unknown_transfer_reads_as_zero(ledger):
    assert plain(ledger.transfer(b"\x42" * 32)) == (
        "0x0000000000000000000000000000000000000000",
        TransferStatus.NONE,
        0,
        "0x0000000000000000000000000000000000000000",
        0,
    )


def test_nonce_used_only_after_use(ledger, relayer, shipper, receiver, signed_dispatch):
    statement = signed_dispatch(shipper, receiver)
    nonce = statement.message["nonce"]
    assert not ledger.nonceUsed(shipper.address, nonce)
    ledger.dispatch(*statement.args, {"from": relayer})
    assert ledger.nonceUsed(shipper.address, nonce)
    assert not ledger.nonceUsed(shipper.address, nonce + 1)


# --- who may dispatch ---------------------------------------------------------------------------------


def test_unregistered_shipper(ledger, relayer, receiver, signed_dispatch):
    stranger = new_party()
    with reverts("UnregisteredParticipant", stranger.address):
        ledger.dispatch(*signed_dispatch(stranger, receiver).args, {"from": relayer})


def test_unregistered_receiver(ledger, relayer, shipper, signed_dispatch):
    stranger = new_party()
    with reverts("UnregisteredParticipant", stranger.address):
        ledger.dispatch(*signed_dispatch(shipper, stranger).args, {"from": relayer})


def test_suspended_shipper(ledger, relayer, shipper, receiver, set_status, signed_dispatch):
    set_status(shipper, True)
    with reverts("SuspendedParticipant", shipper.address):
        ledger.dispatch(*signed_dispatch(shipper, receiver).args, {"from": relayer})


def test_suspended_receiver_at_dispatch(ledger, relayer, shipper, receiver, set_status, signed_dispatch):
    set_status(receiver, True)
    with reverts("SuspendedParticipant", receiver.address):
        ledger.dispatch(*signed_dispatch(shipper, receiver).args, {"from": relayer})


def test_reinstated_shipper_may_dispatch_again(ledger, shipper, receiver, set_status, dispatch):
    set_status(shipper, True)
    set_status(shipper, False)
    tx = dispatch(shipper, receiver)
    assert plain(ledger.transfer(tx.return_value))[1] == TransferStatus.DISPATCHED


def test_receiver_only_party_cannot_dispatch(ledger, relayer, shipper, receiver, signed_dispatch):
    with reverts("MissingRole", receiver.address, SHIPPER):
        ledger.dispatch(*signed_dispatch(receiver, shipper).args, {"from": relayer})


def test_shipper_only_party_cannot_be_receiver(ledger, relayer, shipper, register, signed_dispatch):
    other_shipper = new_party()
    register(other_shipper, SHIPPER)
    with reverts("MissingRole", other_shipper.address, RECEIVER):
        ledger.dispatch(*signed_dispatch(shipper, other_shipper).args, {"from": relayer})


# --- what a signature binds ---------------------------------------------------------------------------


def test_dispatch_signed_by_another_key(ledger, relayer, shipper, receiver, signed_dispatch):
    statement = signed_dispatch(shipper, receiver, signer=new_party())
    with reverts("InvalidSignature", shipper.address):
        ledger.dispatch(*statement.args, {"from": relayer})


@pytest.mark.parametrize(
    "change",
    [{"quantity": 12_501}, {"wasteCode": "03 03 08"}, {"unit": "TNE"}, {"documentHash": b"\x00" * 32}],
    ids=["quantity", "wasteCode", "unit", "documentHash"],
)
def test_dispatch_tampered_after_signing(ledger, relayer, shipper, receiver, signed_dispatch, change):
    statement = signed_dispatch(shipper, receiver)
    with reverts("InvalidSignature", shipper.address):
        ledger.dispatch(*statement.tampered(**change), {"from": relayer})


def test_dispatch_signed_for_another_chain(ledger, relayer, shipper, receiver, signed_dispatch):
    statement = signed_dispatch(shipper, receiver, chain_id=web3.eth.chain_id + 1)
    with reverts("InvalidSignature", shipper.address):
        ledger.dispatch(*statement.args, {"from": relayer})


def test_replayed_dispatch(ledger, relayer, shipper, receiver, signed_dispatch):
    statement = signed_dispatch(shipper, receiver)
    ledger.dispatch(*statement.args, {"from": relayer})
    with reverts("NonceAlreadyUsed", shipper.address, statement.message["nonce"]):
        ledger.dispatch(*statement.args, {"from": relayer})


def test_other_dispatch_reusing_a_nonce(ledger, relayer, shipper, receiver, signed_dispatch):
    first = signed_dispatch(shipper, receiver)
    ledger.dispatch(*first.args, {"from": relayer})
    nonce = first.message["nonce"]
    second = signed_dispatch(shipper, receiver, nonce=nonce, quantity=1, lotId=b"\x77" * 32)
    with reverts("NonceAlreadyUsed", shipper.address, nonce):
        ledger.dispatch(*second.args, {"from": relayer})


def test_same_nonce_for_different_signers(ledger, shipper, receiver, register, dispatch):
    # Nonces are per signer: another shipper's nonce 7 does not use up this one's.
    other_shipper = new_party()
    register(other_shipper, SHIPPER)
    dispatch(shipper, receiver, nonce=7)
    tx = dispatch(other_shipper, receiver, nonce=7)
    assert tx.events["TransferDispatched"]["shipper"] == other_shipper.address
    assert ledger.nonceUsed(shipper.address, 7) and ledger.nonceUsed(other_shipper.address, 7)


def test_nonces_can_be_used_out_of_order(ledger, shipper, receiver, dispatch):
    # Unordered nonces: statements signed together may be recorded in any order.
    dispatch(shipper, receiver, nonce=300)
    dispatch(shipper, receiver, nonce=2)
    assert ledger.nonceUsed(shipper.address, 300) and ledger.nonceUsed(shipper.address, 2)
    assert not ledger.nonceUsed(shipper.address, 3)


def test_expired_dispatch(ledger, relayer, shipper, receiver, signed_dispatch):
    deadline = deadline_in(-1)
    with reverts("SignatureExpired", deadline):
        ledger.dispatch(*signed_dispatch(shipper, receiver, deadline=deadline).args, {"from": relayer})


# --- what a dispatch must contain ---------------------------------------------------------------------


def test_zero_quantity(ledger, relayer, shipper, receiver, signed_dispatch):
    with reverts("ZeroQuantity"):
        ledger.dispatch(*signed_dispatch(shipper, receiver, quantity=0).args, {"from": relayer})


def test_quantity_above_int64(ledger, relayer, shipper, receiver, signed_dispatch):
    with reverts("QuantityTooLarge", MAX_QUANTITY + 1, MAX_QUANTITY):
        ledger.dispatch(
            *signed_dispatch(shipper, receiver, quantity=MAX_QUANTITY + 1).args, {"from": relayer}
        )


def test_largest_quantity_is_accepted(ledger, shipper, receiver, dispatch):
    tx = dispatch(shipper, receiver, quantity=MAX_QUANTITY)
    assert plain(ledger.transfer(tx.return_value))[2] == MAX_QUANTITY


def test_self_transfer(ledger, relayer, shipper, signed_dispatch):
    with reverts("SelfTransfer", shipper.address):
        ledger.dispatch(*signed_dispatch(shipper, shipper).args, {"from": relayer})


@pytest.mark.parametrize("field", ["wasteCode", "unit"])
def test_empty_field(ledger, relayer, shipper, receiver, signed_dispatch, field):
    with reverts("EmptyField", field):
        ledger.dispatch(*signed_dispatch(shipper, receiver, **{field: ""}).args, {"from": relayer})


# --- who may receive, and when ------------------------------------------------------------------------


def test_receipt_by_someone_other_than_the_named_receiver(
    ledger, relayer, register, transfer_id, signed_receipt
):
    other_receiver = new_party()
    register(other_receiver, RECEIVER)
    with reverts("NotNamedReceiver", transfer_id, other_receiver.address):
        ledger.confirmReceipt(*signed_receipt(transfer_id, other_receiver).args, {"from": relayer})


def test_receipt_signed_by_another_key(ledger, relayer, receiver, transfer_id, signed_receipt):
    statement = signed_receipt(transfer_id, receiver, signer=new_party())
    with reverts("InvalidSignature", receiver.address):
        ledger.confirmReceipt(*statement.args, {"from": relayer})


def test_receipt_tampered_after_signing(ledger, relayer, receiver, transfer_id, signed_receipt):
    statement = signed_receipt(transfer_id, receiver, 11_000)
    with reverts("InvalidSignature", receiver.address):
        ledger.confirmReceipt(*statement.tampered(receivedQuantity=12_500), {"from": relayer})


def test_suspended_receiver_at_receipt(ledger, relayer, receiver, transfer_id, set_status, signed_receipt):
    set_status(receiver, True)
    with reverts("SuspendedParticipant", receiver.address):
        ledger.confirmReceipt(*signed_receipt(transfer_id, receiver).args, {"from": relayer})


def test_double_receipt(ledger, relayer, receiver, transfer_id, receive, signed_receipt):
    receive(transfer_id, receiver)
    with reverts("TransferNotDispatched", transfer_id, TransferStatus.RECEIVED):
        ledger.confirmReceipt(*signed_receipt(transfer_id, receiver).args, {"from": relayer})


def test_receipt_of_unknown_transfer(ledger, relayer, receiver, signed_receipt):
    unknown = b"\x42" * 32
    with reverts("TransferNotDispatched", unknown, TransferStatus.NONE):
        ledger.confirmReceipt(*signed_receipt(unknown, receiver).args, {"from": relayer})


def test_receipt_of_zero_quantity(ledger, relayer, receiver, transfer_id, signed_receipt):
    with reverts("ZeroQuantity"):
        ledger.confirmReceipt(*signed_receipt(transfer_id, receiver, 0).args, {"from": relayer})


def test_receipt_quantity_above_int64(ledger, relayer, receiver, transfer_id, signed_receipt):
    with reverts("QuantityTooLarge", 2**64 - 1, MAX_QUANTITY):
        ledger.confirmReceipt(*signed_receipt(transfer_id, receiver, 2**64 - 1).args, {"from": relayer})


def test_expired_receipt(ledger, relayer, receiver, transfer_id, signed_receipt):
    deadline = deadline_in(-1)
    with reverts("SignatureExpired", deadline):
        ledger.confirmReceipt(
            *signed_receipt(transfer_id, receiver, deadline=deadline).args, {"from": relayer}
        )


def test_replayed_receipt_nonce_on_another_transfer(
    ledger, relayer, shipper, receiver, transfer_id, receive, dispatch, signed_receipt
):
    first = receive(transfer_id, receiver)
    nonce = first.events["TransferReceived"]["nonce"]
    second_id = dispatch(shipper, receiver).return_value
    with reverts("NonceAlreadyUsed", receiver.address, nonce):
        ledger.confirmReceipt(*signed_receipt(second_id, receiver, nonce=nonce).args, {"from": relayer})
