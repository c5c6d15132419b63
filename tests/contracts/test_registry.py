"""SymbiosisLedger's participants (custody/Participants.sol): only an active regulator's signed word registers,
suspends or reinstates."""

import pytest
from brownie import SymbiosisLedger, web3
from typed_statements import (
    ALL_ROLES,
    DOMAINS,
    LAB,
    RECEIVER,
    REGULATOR,
    SHIPPER,
    ZERO_ADDRESS,
    ParticipantStatus,
    new_party,
    plain,
    reverts,
)


def test_founding_regulator_is_registered_at_deployment(registry, regulator):
    event = registry.tx.events["ParticipantRegistered"]
    assert plain(dict(event)) == {
        "participant": regulator.address,
        "regulator": ZERO_ADDRESS,
        "roles": REGULATOR,
        "legalName": "Environmental Agency",
        "enterpriseId": "",
        "park": "",
    }
    assert plain(registry.participant(regulator.address)) == (REGULATOR, ParticipantStatus.ACTIVE)


def test_domain_is_the_one_parties_sign_for(registry):
    # The off-chain signers (these tests, the service) hard-code the domain; the contract must agree.
    _, name, version, chain_id, contract, _, _ = registry.eip712Domain()
    assert (name, version) == DOMAINS["SymbiosisLedger"]
    assert (chain_id, contract) == (web3.eth.chain_id, registry.address)


def test_deployment_without_founding_regulator_fails(relayer):
    with reverts("ZeroAddress"):
        SymbiosisLedger.deploy(ZERO_ADDRESS, "Nobody", {"from": relayer})


def test_regulator_registers_participant(registry, regulator, relayer, signed_registration):
    firm = new_party()
    statement = signed_registration(firm.address, SHIPPER | RECEIVER)

    tx = registry.registerParticipant(*statement.args, {"from": relayer})

    assert plain(dict(tx.events["ParticipantRegistered"])) == {
        "participant": firm.address,
        "regulator": regulator.address,
        "roles": SHIPPER | RECEIVER,
        "legalName": statement.message["legalName"],
        "enterpriseId": statement.message["enterpriseId"],
        "park": statement.message["park"],
    }
    assert plain(registry.participant(firm.address)) == (SHIPPER | RECEIVER, ParticipantStatus.ACTIVE)
    assert registry.nonceUsed(regulator.address, statement.message["nonce"])
    # Neither the regulator nor the firm paid anything: the relayer carried the transaction.
    assert web3.eth.get_balance(regulator.address) == 0


def test_unregistered_account_is_unknown(registry):
    assert plain(registry.participant(new_party().address)) == (0, ParticipantStatus.NONE)


def test_shipper_cannot_register(registry, relayer, shipper, signed_registration):
    statement = signed_registration(new_party().address, SHIPPER, by=shipper)
    with reverts("MissingRole", shipper.address, REGULATOR):
        registry.registerParticipant(*statement.args, {"from": relayer})


def test_unregistered_key_cannot_register(registry, relayer, signed_registration):
    stranger = new_party()
    statement = signed_registration(new_party().address, SHIPPER, by=stranger)
    with reverts("UnregisteredParticipant", stranger.address):
        registry.registerParticipant(*statement.args, {"from": relayer})


def test_relayer_cannot_raise_the_roles_a_regulator_signed(registry, regulator, relayer, signed_registration):
    statement = signed_registration(new_party().address, SHIPPER)
    with reverts("InvalidSignature", regulator.address):
        registry.registerParticipant(*statement.tampered(roles=REGULATOR), {"from": relayer})


def test_statement_naming_the_regulator_but_signed_by_another_key(
    registry, regulator, relayer, signed_registration
):
    statement = signed_registration(new_party().address, SHIPPER, signer=new_party())
    with reverts("InvalidSignature", regulator.address):
        registry.registerParticipant(*statement.args, {"from": relayer})


def test_already_registered(registry, relayer, shipper, signed_registration):
    statement = signed_registration(shipper.address, RECEIVER)
    with reverts("AlreadyRegistered", shipper.address):
        registry.registerParticipant(*statement.args, {"from": relayer})


@pytest.mark.parametrize(
    "roles", [0, ALL_ROLES + 1, SHIPPER | (1 << 15)], ids=["none", "bit6", "shipper+bit15"]
)
def test_invalid_roles(registry, relayer, signed_registration, roles):
    statement = signed_registration(new_party().address, roles)
    with reverts("InvalidRoles", roles):
        registry.registerParticipant(*statement.args, {"from": relayer})


def test_zero_address_cannot_be_registered(registry, relayer, signed_registration):
    statement = signed_registration(ZERO_ADDRESS, SHIPPER)
    with reverts("ZeroAddress"):
        registry.registerParticipant(*statement.args, {"from": relayer})


def test_suspension_and_reinstatement(registry, regulator, shipper, set_status):
    tx = set_status(shipper, True, reason="permit expired")
    assert plain(dict(tx.events["ParticipantSuspended"])) == {
        "participant": shipper.address,
        "regulator": regulator.address,
        "reason": "permit expired",
    }
    assert plain(registry.participant(shipper.address)) == (SHIPPER, ParticipantStatus.SUSPENDED)
    with reverts("SuspendedParticipant", shipper.address):
        registry.requireActive(shipper.address, SHIPPER)

    tx = set_status(shipper, False, reason="permit renewed")
    assert plain(dict(tx.events["ParticipantReinstated"])) == {
        "participant": shipper.address,
        "regulator": regulator.address,
        "reason": "permit renewed",
    }
    assert "ParticipantSuspended" not in tx.events
    assert plain(registry.participant(shipper.address)) == (SHIPPER, ParticipantStatus.ACTIVE)
    registry.requireActive(shipper.address, SHIPPER)  # does not revert


def test_suspending_twice_is_refused(registry, relayer, shipper, set_status, signed_status):
    set_status(shipper, True)
    with reverts("StatusUnchanged", shipper.address, ParticipantStatus.SUSPENDED):
        registry.setParticipantStatus(*signed_status(shipper.address, True).args, {"from": relayer})


def test_reinstating_an_active_participant_is_refused(registry, relayer, shipper, signed_status):
    with reverts("StatusUnchanged", shipper.address, ParticipantStatus.ACTIVE):
        registry.setParticipantStatus(*signed_status(shipper.address, False).args, {"from": relayer})


def test_status_of_unregistered_account_cannot_change(registry, relayer, signed_status):
    stranger = new_party().address
    with reverts("UnregisteredParticipant", stranger):
        registry.setParticipantStatus(*signed_status(stranger, True).args, {"from": relayer})


def test_regulator_cannot_suspend_itself(registry, regulator, relayer, signed_status):
    with reverts("SelfSuspension", regulator.address):
        registry.setParticipantStatus(*signed_status(regulator.address, True).args, {"from": relayer})


def test_only_a_regulator_can_suspend(registry, relayer, shipper, receiver, signed_status):
    statement = signed_status(receiver.address, True, by=shipper)
    with reverts("MissingRole", shipper.address, REGULATOR):
        registry.setParticipantStatus(*statement.args, {"from": relayer})


def test_suspended_regulator_cannot_register(registry, relayer, register, set_status, signed_registration):
    second = new_party()
    register(second, REGULATOR)
    set_status(second, True)
    statement = signed_registration(new_party().address, LAB, by=second)
    with reverts("SuspendedParticipant", second.address):
        registry.registerParticipant(*statement.args, {"from": relayer})


def test_second_regulator_can_register_once_registered(registry, register):
    second, lab = new_party(), new_party()
    register(second, REGULATOR)
    tx = register(lab, LAB, by=second)
    assert tx.events["ParticipantRegistered"]["regulator"] == second.address
    assert plain(registry.participant(lab.address)) == (LAB, ParticipantStatus.ACTIVE)


def test_replayed_registration_is_refused(registry, regulator, relayer, signed_registration):
    # The participant check comes first, so replay the nonce on a different participant.
    first = signed_registration(new_party().address, SHIPPER)
    registry.registerParticipant(*first.args, {"from": relayer})
    replay = signed_registration(new_party().address, SHIPPER, nonce=first.message["nonce"])
    with reverts("NonceAlreadyUsed", regulator.address, first.message["nonce"]):
        registry.registerParticipant(*replay.args, {"from": relayer})
