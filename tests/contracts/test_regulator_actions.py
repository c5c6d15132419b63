"""Regulator actions (contracts/regulator/RegulatorActions.sol): a regulator's signed request to the parties of a
transfer to correct its record, recorded beside the ledger under its own EIP-712 domain.

The contract asks the ledger whether the signer is an active regulator and whether the transfer exists; the
request is its CorrectionRequested event, and its nonce, consumed, stops a replay. Every rule is exercised on its
legal and its refused path; refusals are matched to the exact custom error.
"""

import pytest
from brownie import RegulatorActions
from eth_abi import encode
from eth_utils import keccak
from regulator_statements import INSPECTION_REPORT, REQUEST_REASON
from typed_statements import (
    LAB,
    REGULATOR,
    SHIPPED,
    ZERO_ADDRESS,
    TransferStatus,
    deadline_in,
    new_party,
    next_nonce,
    plain,
    reverts,
    sign,
)

CORRECTION_REQUEST_TYPE = (
    "CorrectionRequest(address regulator,bytes32 transferId,string reason,bytes32 reportHash,uint256 nonce,"
    "uint256 deadline)"
)


@pytest.fixture(scope="module")
def regulator_actions(ledger, relayer):
    """RegulatorActions, deployed beside SymbiosisLedger, which it asks for standing and transfers."""
    return RegulatorActions.deploy(ledger, {"from": relayer})


@pytest.fixture(scope="module")
def signed_request(regulator_actions, regulator):
    """A CorrectionRequest statement of `by` (the founding regulator unless given) about `transfer_id`."""

    def build(transfer_id, by=regulator, signer=None, contract=None, **fields):
        message = {
            "regulator": by.address,
            "transferId": bytes(transfer_id),
            "reason": REQUEST_REASON,
            "reportHash": INSPECTION_REPORT,
            "nonce": next_nonce(),
            "deadline": deadline_in(3600),
            **fields,
        }
        return sign(signer or by, contract or regulator_actions, "CorrectionRequest", message)

    return build


@pytest.fixture(scope="module")
def inspector(register):
    """A second regulator, registered by the founding one."""
    party = new_party()
    register(party, REGULATOR)
    return party


def request_digest(contract, m):
    """The EIP-712 digest of a CorrectionRequest message, by hand from the type string."""
    types = ["bytes32", "address", "bytes32", "bytes32", "bytes32", "uint256", "uint256"]
    values = [keccak(text=CORRECTION_REQUEST_TYPE), m["regulator"], m["transferId"], keccak(text=m["reason"])]
    values += [m["reportHash"], m["nonce"], m["deadline"]]
    struct_hash = keccak(encode(types, values))
    return keccak(b"\x19\x01" + bytes(contract.DOMAIN_SEPARATOR()) + struct_hash)


# --- the legal path -------------------------------------------------------------------------------------


def test_regulator_requests_a_correction(
    regulator_actions, ledger, relayer, regulator, transfer_id, signed_request
):
    before = plain(ledger.transfer(transfer_id))
    statement = signed_request(transfer_id)

    tx = regulator_actions.requestCorrection(*statement.args, {"from": relayer})

    assert statement.digest == request_digest(regulator_actions, statement.message)
    assert plain(dict(tx.events["CorrectionRequested"])) == {
        "requestId": statement.digest,
        "transferId": transfer_id,
        "regulator": regulator.address,
        "reason": REQUEST_REASON,
        "reportHash": INSPECTION_REPORT,
    }
    assert regulator_actions.nonceUsed(regulator.address, statement.message["nonce"])
    # A request asks; it changes nothing on the ledger.
    assert plain(ledger.transfer(transfer_id)) == before
    assert before[1] == TransferStatus.DISPATCHED and before[2] == SHIPPED


def test_any_active_regulator_may_request(regulator_actions, relayer, register, transfer_id, signed_request):
    # Also one holding other roles besides REGULATOR.
    party = new_party()
    register(party, REGULATOR | LAB)
    tx = regulator_actions.requestCorrection(*signed_request(transfer_id, by=party).args, {"from": relayer})
    assert tx.events["CorrectionRequested"]["regulator"] == party.address


def test_a_request_without_a_report(regulator_actions, relayer, transfer_id, signed_request):
    statement = signed_request(transfer_id, reportHash=b"\x00" * 32)
    tx = regulator_actions.requestCorrection(*statement.args, {"from": relayer})
    assert plain(tx.events["CorrectionRequested"]["reportHash"]) == b"\x00" * 32


def test_a_received_transfer_may_be_asked_about_again(
    regulator_actions, relayer, receiver, transfer_id, receive, signed_request
):
    # Each request has its own nonce: the regulator may ask about one transfer as often as it needs.
    receive(transfer_id, receiver)
    first = signed_request(transfer_id)
    second = signed_request(transfer_id, reason="the corrected ticket was not uploaded")
    ids = [
        regulator_actions.requestCorrection(*s.args, {"from": relayer}).events["CorrectionRequested"][
            "requestId"
        ]
        for s in (first, second)
    ]
    assert plain(ids) == (first.digest, second.digest) and first.digest != second.digest


def test_nonces_are_the_contracts_own(
    regulator_actions, ledger, relayer, regulator, register, transfer_id, signed_request
):
    # A nonce the regulator consumed on the ledger is still free here: each contract keeps its own bitmap.
    nonce = next_nonce()
    register(new_party(), LAB, nonce=nonce)
    assert ledger.nonceUsed(regulator.address, nonce)
    assert not regulator_actions.nonceUsed(regulator.address, nonce)
    regulator_actions.requestCorrection(*signed_request(transfer_id, nonce=nonce).args, {"from": relayer})
    assert regulator_actions.nonceUsed(regulator.address, nonce)


def test_deployment(regulator_actions, ledger, relayer):
    assert regulator_actions.ledger() == ledger.address
    # Its own domain: a regulator's statement for the ledger is no statement for this contract.
    assert regulator_actions.DOMAIN_SEPARATOR() != ledger.DOMAIN_SEPARATOR()
    with reverts("ZeroAddress"):
        RegulatorActions.deploy(ZERO_ADDRESS, {"from": relayer})


# --- refused: the signer ----------------------------------------------------------------------------------


def test_a_non_regulator_is_refused(regulator_actions, relayer, shipper, transfer_id, signed_request):
    # The transfer's own shipper cannot ask for a correction in a regulator's name.
    statement = signed_request(transfer_id, by=shipper)
    with reverts("MissingRole", shipper.address, REGULATOR):
        regulator_actions.requestCorrection(*statement.args, {"from": relayer})
    assert not regulator_actions.nonceUsed(shipper.address, statement.message["nonce"])


def test_an_unregistered_party_is_refused(regulator_actions, relayer, transfer_id, signed_request):
    stranger = new_party()
    with reverts("UnregisteredParticipant", stranger.address):
        regulator_actions.requestCorrection(*signed_request(transfer_id, by=stranger).args, {"from": relayer})


def test_a_suspended_regulator_is_refused(
    regulator_actions, relayer, inspector, set_status, transfer_id, signed_request
):
    set_status(inspector, True)
    with reverts("SuspendedParticipant", inspector.address):
        regulator_actions.requestCorrection(
            *signed_request(transfer_id, by=inspector).args, {"from": relayer}
        )


def test_signed_by_another_key(regulator_actions, relayer, regulator, transfer_id, signed_request):
    statement = signed_request(transfer_id, signer=new_party())
    with reverts("InvalidSignature", regulator.address):
        regulator_actions.requestCorrection(*statement.args, {"from": relayer})


def test_signed_for_the_ledgers_domain(
    regulator_actions, ledger, relayer, regulator, transfer_id, signed_request
):
    statement = signed_request(transfer_id, contract=ledger)
    with reverts("InvalidSignature", regulator.address):
        regulator_actions.requestCorrection(*statement.args, {"from": relayer})


@pytest.mark.parametrize("field", ["transferId", "reason", "reportHash", "deadline"])
def test_tampered_after_signing(
    regulator_actions, relayer, regulator, transfer_id, signed_request, dispatch, shipper, receiver, lot, permit,
    field,
):  # fmt: skip
    other_transfer = dispatch(shipper, receiver, lot, permit).events["TransferDispatched"]["transferId"]
    change = {
        "transferId": bytes(other_transfer),
        "reason": "nothing to correct",
        "reportHash": b"\x00" * 32,
        "deadline": deadline_in(7200),
    }[field]
    statement = signed_request(transfer_id)
    with reverts("InvalidSignature", regulator.address):
        regulator_actions.requestCorrection(*statement.tampered(**{field: change}), {"from": relayer})


# --- refused: replay, expiry, the statement itself ----------------------------------------------------------


def test_replay_is_refused(regulator_actions, relayer, regulator, transfer_id, signed_request):
    statement = signed_request(transfer_id)
    regulator_actions.requestCorrection(*statement.args, {"from": relayer})
    with reverts("NonceAlreadyUsed", regulator.address, statement.message["nonce"]):
        regulator_actions.requestCorrection(*statement.args, {"from": relayer})


def test_a_nonce_serves_one_request(regulator_actions, relayer, regulator, transfer_id, signed_request):
    # Another request under a nonce already used is refused too, whatever it says.
    used = signed_request(transfer_id)
    regulator_actions.requestCorrection(*used.args, {"from": relayer})
    other = signed_request(transfer_id, reason="another finding", nonce=used.message["nonce"])
    with reverts("NonceAlreadyUsed", regulator.address, used.message["nonce"]):
        regulator_actions.requestCorrection(*other.args, {"from": relayer})


def test_expired_request_is_refused(regulator_actions, relayer, regulator, transfer_id, signed_request):
    deadline = deadline_in(-1)
    statement = signed_request(transfer_id, deadline=deadline)
    with reverts("SignatureExpired", deadline):
        regulator_actions.requestCorrection(*statement.args, {"from": relayer})
    assert not regulator_actions.nonceUsed(regulator.address, statement.message["nonce"])


def test_unknown_transfer_is_refused(regulator_actions, relayer, signed_request):
    unknown = b"\x7a" * 32
    with reverts("UnknownTransfer", unknown):
        regulator_actions.requestCorrection(*signed_request(unknown).args, {"from": relayer})


def test_empty_reason_is_refused(regulator_actions, relayer, transfer_id, signed_request):
    with reverts("EmptyField", "reason"):
        regulator_actions.requestCorrection(*signed_request(transfer_id, reason="").args, {"from": relayer})
