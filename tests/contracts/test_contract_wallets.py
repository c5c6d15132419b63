"""Statements signed for a contract wallet (ERC-1271), e.g. a firm's or an agency's multisig.

SignedMessages tries the key's signature first; only when it does not recover to the named signer, and the
signer has code, does it ask the signer's contract (isValidSignature). contracts/test/ERC1271Wallet.sol is
the smallest such wallet: it accepts what its owner's key signed.
"""

import pytest
from brownie import ERC1271Wallet
from typed_statements import (
    LAB,
    LOT_QUANTITY,
    REGULATOR,
    SHIPPED,
    SHIPPER,
    TRANSPORTER,
    ZERO_BYTES32,
    ParticipantStatus,
    PermitKind,
    TransferStatus,
    leg_args,
    new_party,
    plain,
    reverts,
)


@pytest.fixture(scope="module")
def owner():
    """The key behind the wallets: it signs for them, but is registered as nothing itself."""
    return new_party()


@pytest.fixture(scope="module")
def shipping_wallet(relayer, owner, register):
    """A contract wallet of `owner`, registered as a SHIPPER."""
    wallet = ERC1271Wallet.deploy(owner.address, {"from": relayer})
    register(wallet, SHIPPER)
    return wallet


@pytest.fixture(scope="module")
def regulating_wallet(relayer, owner, register):
    """A contract wallet of `owner`, registered as a REGULATOR."""
    wallet = ERC1271Wallet.deploy(owner.address, {"from": relayer})
    register(wallet, REGULATOR)
    return wallet


def test_statements_signed_for_a_wallet_are_accepted(
    ledger,
    registry,
    relayer,
    receiver,
    slag,
    permit,
    owner,
    shipping_wallet,
    regulating_wallet,
    signed_registration,
    register_lot,
    dispatch,
):
    # A regulator's registration (its nonce is consumed) ...
    lab = new_party()
    statement = signed_registration(lab.address, LAB, by=regulating_wallet, signer=owner)
    tx = registry.registerParticipant(*statement.args, {"from": relayer})
    assert tx.events["ParticipantRegistered"]["regulator"] == regulating_wallet.address
    assert plain(registry.participant(lab.address)) == (LAB, ParticipantStatus.ACTIVE)
    assert registry.nonceUsed(regulating_wallet.address, statement.message["nonce"])

    # ... and a shipper's lot and dispatch (no nonce: their digests are the records' ids).
    lot = register_lot(shipping_wallet, signer=owner)
    assert plain(ledger.lot(lot)) == (shipping_wallet.address, LOT_QUANTITY, slag.id)
    tx = dispatch(shipping_wallet, receiver, lot, permit, signer=owner)
    transfer_id = tx.events["TransferDispatched"]["transferId"]
    assert tx.events["TransferDispatched"]["shipper"] == shipping_wallet.address
    assert plain(ledger.transfer(transfer_id)) == (
        receiver.address,
        TransferStatus.DISPATCHED,
        SHIPPED,
        slag.id,
    )
    assert plain(ledger.lot(lot))[1] == LOT_QUANTITY - SHIPPED


def test_wallet_refuses_another_keys_signature(
    ledger,
    registry,
    relayer,
    receiver,
    slag,
    permit,
    owner,
    shipping_wallet,
    regulating_wallet,
    signed_registration,
    signed_lot,
    signed_dispatch,
    register_lot,
):
    # The other key's signature recovers to neither the wallet nor its owner: the wallet says no.
    stranger = new_party()
    statement = signed_registration(new_party().address, LAB, by=regulating_wallet, signer=stranger)
    with reverts("InvalidSignature", regulating_wallet.address):
        registry.registerParticipant(*statement.args, {"from": relayer})

    with reverts("InvalidSignature", shipping_wallet.address):
        ledger.registerLot(*signed_lot(shipping_wallet, signer=stranger).args, {"from": relayer})

    lot = register_lot(shipping_wallet, signer=owner)
    statement = signed_dispatch(shipping_wallet, receiver, lot, permit, signer=stranger)
    with reverts("InvalidSignature", shipping_wallet.address):
        ledger.dispatch(*statement.args, {"from": relayer})
    assert plain(ledger.lot(lot))[1] == LOT_QUANTITY


@pytest.fixture(scope="module")
def lab_wallet(relayer, owner, register):
    """A contract wallet of `owner`, registered as a LAB."""
    wallet = ERC1271Wallet.deploy(owner.address, {"from": relayer})
    register(wallet, LAB)
    return wallet


def test_certificate_issued_and_revoked_by_a_lab_wallet(
    ledger,
    relayer,
    shipper,
    receiver,
    lot,
    permit,
    owner,
    lab_wallet,
    register_permit,
    issue_certificate,
    signed_certificate,
    signed_certificate_revocation,
    dispatch,
):
    accreditation_id = register_permit(lab_wallet, [], kind=PermitKind.LAB_ACCREDITATION)
    # Another key's signature is refused by the wallet ...
    statement = signed_certificate(lab_wallet, lot, accreditation_id, signer=new_party())
    with reverts("InvalidSignature", lab_wallet.address):
        ledger.issueCertificate(*statement.args, {"from": relayer})

    # ... its owner's is the wallet's word, for a certificate and for its revocation.
    certificate_id = issue_certificate(lab_wallet, lot, accreditation_id, signer=owner)
    assert plain(ledger.certificate(certificate_id, lot))[0] == lab_wallet.address
    tx = dispatch(shipper, receiver, lot, permit, certificates=[certificate_id])
    assert plain(tx.events["TransferDispatched"]["certificates"]) == (certificate_id,)

    statement = signed_certificate_revocation(lab_wallet, certificate_id, lot, signer=new_party())
    with reverts("InvalidSignature", lab_wallet.address):
        ledger.revokeCertificate(*statement.args, {"from": relayer})
    statement = signed_certificate_revocation(lab_wallet, certificate_id, lot, signer=owner)
    ledger.revokeCertificate(*statement.args, {"from": relayer})
    assert plain(ledger.certificate(certificate_id, lot))[2] is True


def test_transporter_wallet_signs_its_legs(
    ledger,
    relayer,
    register,
    shipper,
    receiver,
    lot,
    permit,
    owner,
    dispatch,
    pick_up,
    deliver,
    signed_pick_up,
):
    # A haulier's multisig as the leg's transporter: its pick-up and delivery are signed by the owner's key.
    wallet = ERC1271Wallet.deploy(owner.address, {"from": relayer})
    register(wallet, TRANSPORTER)
    tx = dispatch(shipper, receiver, lot, permit, transporters=[wallet], licences=[ZERO_BYTES32])
    transfer_id = tx.events["TransferDispatched"]["transferId"]

    with reverts("InvalidSignature", wallet.address):
        ledger.pickUp(
            *leg_args(signed_pick_up(transfer_id, wallet, 0, signer=new_party()), [wallet]), {"from": relayer}
        )
    pick_up(transfer_id, [wallet], 0, signer=owner)
    deliver(transfer_id, [wallet], 0, signer=owner)
    assert plain(ledger.transfer(transfer_id))[1] == TransferStatus.DELIVERED
