"""Corrections (custody/Corrections.sol): one party of a transfer proposes a signed correction (quantity shipped,
quantity received, transfer document); it takes effect only when the other party signs the same statement.
Nothing recorded is overwritten: the history is the events, in order; the lots move by the agreed deltas."""

import pytest
from brownie import chain
from typed_statements import (
    LOT_QUANTITY,
    RECEIVER,
    SHIPPED,
    SHIPPER,
    SLAG_OPERATIONS,
    ZERO_BYTES32,
    TransferStatus,
    correction_effect,
    deadline_in,
    new_party,
    next_nonce,
    plain,
    reverts,
    sign,
    struct_encoding,
)

CORRECTED_TICKET = bytes.fromhex("c0" * 32)  # stands for the SHA-256 of a corrected weighbridge ticket


@pytest.fixture
def dispatched(ledger, relayer, shipper, receiver, lot, permit, signed_dispatch):
    statement = signed_dispatch(shipper, receiver, lot, permit)
    ledger.dispatch(*statement.args, {"from": relayer})
    return statement


@pytest.fixture
def received(dispatched, receiver, receive):
    """The `dispatched` transfer, received as 12,300 kg (200 kg short)."""
    receive(dispatched.digest, receiver, SHIPPED - 200)
    return dispatched


@pytest.fixture(scope="module")
def correction(ledger):
    """A Correction of transfer `transfer_id` proposed by `proposer`; `sign_as(party)` signs it as `party`."""

    def build(transfer_id, proposer, shipped=0, received=0, document=ZERO_BYTES32, **fields):
        return {
            "transferId": bytes(transfer_id),
            "proposer": proposer.address,
            "shippedDelta": shipped,
            "receivedDelta": received,
            "documentHash": document,
            "reason": "weighbridge calibration error, see the corrected ticket",
            "nonce": next_nonce(),
            "deadline": deadline_in(3600),
            **fields,
        }

    return build


@pytest.fixture
def propose(ledger, relayer):
    def run(dispatched, message, signer):
        statement = sign(signer, ledger, "Correction", message)
        return ledger.proposeCorrection(encoding(dispatched), *statement.args, {"from": relayer}), statement

    return run


@pytest.fixture
def countersign(ledger, relayer):
    def run(dispatched, message, signer):
        statement = sign(signer, ledger, "Correction", message)
        effect = correction_effect(dispatched.message, message)
        return ledger.countersignCorrection(statement.digest, effect, statement.signature, {"from": relayer})

    return run


def encoding(dispatched):
    return struct_encoding("Dispatch", dispatched.message)


# --- the legal paths ---------------------------------------------------------------------------------


def test_received_quantity_corrected_once_both_sign(
    ledger, shipper, receiver, slag, received, correction, propose, countersign
):
    message = correction(received.digest, receiver, received=150, document=CORRECTED_TICKET)
    tx, statement = propose(received, message, receiver)

    correction_id = statement.digest
    assert plain(tx.return_value) == correction_id
    assert plain(dict(tx.events["CorrectionProposed"])) == {
        "correctionId": correction_id,
        "transferId": received.digest,
        "proposer": receiver.address,
        "counterparty": shipper.address,
        "shippedDelta": 0,
        "receivedDelta": 150,
        "documentHash": CORRECTED_TICKET,
        "reason": message["reason"],
    }
    # Proposed only: nothing moved yet.
    assert ledger.correctionPending(correction_id)
    assert plain(ledger.lot(received.digest)) == (receiver.address, SHIPPED - 200, slag.id)
    assert plain(ledger.transfer(received.digest))[1] == TransferStatus.RECEIVED

    tx = countersign(received, message, shipper)

    assert plain(dict(tx.events["TransferCorrected"])) == {
        "correctionId": correction_id,
        "transferId": received.digest,
        "counterparty": shipper.address,
    }
    assert plain(ledger.lot(received.digest)) == (receiver.address, SHIPPED - 50, slag.id)
    # Quantities changed, not where the transfer stands: the correction's record is its two events.
    assert plain(ledger.transfer(received.digest))[1] == TransferStatus.RECEIVED
    assert not ledger.correctionPending(correction_id)


def test_shipped_quantity_corrected_moves_the_shippers_lot(
    ledger, shipper, receiver, lot, received, correction, propose, countersign
):
    # Shipped 300 kg less than declared: back into the shipper's lot; then 100 kg more: out of it.
    for delta, balance in [(-300, LOT_QUANTITY - SHIPPED + 300), (100, LOT_QUANTITY - SHIPPED + 200)]:
        message = correction(received.digest, shipper, shipped=delta)
        propose(received, message, shipper)
        countersign(received, message, receiver)
        assert plain(ledger.lot(lot))[1] == balance


def test_document_corrected_in_transit_keeps_the_status(
    ledger, shipper, receiver, dispatched, correction, propose, countersign
):
    message = correction(dispatched.digest, shipper, document=CORRECTED_TICKET)
    propose(dispatched, message, shipper)
    tx = countersign(dispatched, message, receiver)
    assert "TransferCorrected" in tx.events
    assert plain(ledger.transfer(dispatched.digest))[1] == TransferStatus.DISPATCHED


def test_history_stays_in_the_events(ledger, shipper, receiver, received, correction, propose, countersign):
    # Two corrections in a row: both stay on record, the first is not overwritten by the second.
    first = correction(received.digest, receiver, received=100)
    second = correction(received.digest, shipper, received=-40)
    ids = []
    for message, proposer, counterparty in [(first, receiver, shipper), (second, shipper, receiver)]:
        ids.append(propose(received, message, proposer)[1].digest)
        countersign(received, message, counterparty)
    proposed = ledger.events.get_sequence(0, event_type="CorrectionProposed")
    corrected = ledger.events.get_sequence(0, event_type="TransferCorrected")
    assert [plain(e.args["correctionId"]) for e in proposed] == ids
    assert [plain(e.args["correctionId"]) for e in corrected] == ids
    assert [e.args["receivedDelta"] for e in proposed] == [100, -40]
    assert plain(ledger.lot(received.digest))[1] == SHIPPED - 200 + 60


# --- refusals ----------------------------------------------------------------------------------------


def test_only_the_parties_correct(ledger, relayer, register, received, correction, propose):
    outsider = new_party()
    register(outsider, SHIPPER)
    message = correction(received.digest, outsider, received=10)
    with reverts("NotTransferParty", received.digest, outsider.address):
        propose(received, message, outsider)


def test_proposal_signed_by_someone_else(shipper, receiver, received, correction, propose):
    message = correction(received.digest, receiver, received=10)
    with reverts("InvalidSignature", receiver.address):
        propose(received, message, shipper)


def test_countersigned_by_the_proposer_itself(receiver, received, correction, propose, countersign, shipper):
    message = correction(received.digest, receiver, received=10)
    propose(received, message, receiver)
    with reverts("InvalidSignature", shipper.address):
        countersign(received, message, receiver)


def test_countersigned_statement_must_be_the_proposed_one(
    ledger, receiver, shipper, received, correction, propose, countersign
):
    message = correction(received.digest, receiver, received=10)
    propose(received, message, receiver)
    altered = {**message, "receivedDelta": 1_000}
    altered_id = sign(shipper, ledger, "Correction", altered).digest
    with reverts("NoPendingCorrection", altered_id):
        countersign(received, altered, shipper)


def test_countersigned_once(receiver, shipper, received, correction, propose, countersign):
    message = correction(received.digest, receiver, received=10)
    _, statement = propose(received, message, receiver)
    countersign(received, message, shipper)
    with reverts("NoPendingCorrection", statement.digest):
        countersign(received, message, shipper)


def test_proposal_replayed(receiver, received, correction, propose):
    message = correction(received.digest, receiver, received=10)
    propose(received, message, receiver)
    with reverts("NonceAlreadyUsed", receiver.address, message["nonce"]):
        propose(received, message, receiver)


def test_empty_correction(receiver, received, correction, propose):
    with reverts("EmptyCorrection", received.digest):
        propose(received, correction(received.digest, receiver), receiver)


def test_received_quantity_only_after_receipt(receiver, dispatched, correction, propose):
    with reverts("NotReceived", dispatched.digest, TransferStatus.DISPATCHED):
        propose(dispatched, correction(dispatched.digest, receiver, received=10), receiver)


def test_unknown_transfer(ledger, shipper, receiver, lot, permit, signed_dispatch, correction, propose):
    never_sent = signed_dispatch(shipper, receiver, lot, permit)
    with reverts("UnknownTransfer", never_sent.digest):
        propose(never_sent, correction(never_sent.digest, shipper, document=CORRECTED_TICKET), shipper)


def test_wrong_dispatch_encoding(ledger, relayer, receiver, received, correction):
    message = correction(received.digest, receiver, received=10)
    statement = sign(receiver, ledger, "Correction", message)
    forged = encoding(received)
    forged[3] = b"\x42" * 32  # another lot of the shipper's
    with reverts("WrongDispatch", received.digest):
        ledger.proposeCorrection(forged, *statement.args, {"from": relayer})


def test_countersignature_names_the_proposed_effect(
    ledger, relayer, shipper, receiver, received, correction, propose
):
    # The proposal fixed what the correction changes, with the counterparty and the shipper's lot proven from
    # the dispatch; a countersignature naming another lot, no lot, the proposer as the counterparty or another
    # delta is refused.
    message = correction(received.digest, shipper, shipped=-100)
    _, statement = propose(received, message, shipper)
    signature = sign(receiver, ledger, "Correction", message).signature
    effect = correction_effect(received.message, message)
    for i, value in [(1, b"\x42" * 32), (1, ZERO_BYTES32), (2, shipper.address), (3, -10_000)]:
        altered = effect[:i] + (value,) + effect[i + 1 :]
        with reverts("WrongCorrectionEffect", statement.digest):
            ledger.countersignCorrection(statement.digest, altered, signature, {"from": relayer})
    assert ledger.correctionPending(statement.digest)


def test_a_lot_shipped_on_cannot_give_back_what_it_no_longer_holds(
    ledger,
    relayer,
    shipper,
    receiver,
    lot,
    slag,
    register,
    register_permit,
    signed_dispatch,
    receive,
    correction,
    propose,
    countersign,
):
    # A trader (SHIPPER and RECEIVER) receives 12,300 kg and ships 12,000 kg on; taking 400 kg back is refused.
    trader = new_party()
    register(trader, SHIPPER | RECEIVER)
    trader_permit = register_permit(trader, [(slag.key, SLAG_OPERATIONS)])
    inbound = signed_dispatch(shipper, trader, lot, trader_permit)
    ledger.dispatch(*inbound.args, {"from": relayer})
    receive(inbound.digest, trader, SHIPPED - 200)
    message = correction(inbound.digest, trader, received=-400)
    propose(inbound, message, trader)
    permit_ = register_permit(receiver, [(slag.key, SLAG_OPERATIONS)])
    onward = signed_dispatch(trader, receiver, inbound.digest, permit_, quantity=12_000)
    ledger.dispatch(*onward.args, {"from": relayer})
    with reverts("InsufficientLotBalance", inbound.digest, 300, 400):
        countersign(inbound, message, shipper)


def test_suspended_counterparty_cannot_countersign(
    receiver, shipper, received, correction, propose, countersign, set_status
):
    message = correction(received.digest, receiver, received=10)
    propose(received, message, receiver)
    set_status(shipper, True)
    with reverts("SuspendedParticipant", shipper.address):
        countersign(received, message, shipper)


def test_expired_proposal_cannot_be_countersigned(
    receiver, shipper, received, correction, propose, countersign
):
    message = correction(received.digest, receiver, received=10, deadline=chain[-1].timestamp + 60)
    propose(received, message, receiver)
    chain.sleep(120)
    with reverts("SignatureExpired", message["deadline"]):
        countersign(received, message, shipper)
