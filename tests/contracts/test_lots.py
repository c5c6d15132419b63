"""SymbiosisLedger.registerLot (custody/Transfers.sol): a generator's signed statement opens a lot of a catalogued waste code."""

import pytest
from brownie import web3
from eth_abi import encode
from eth_utils import keccak
from typed_statements import (
    GENERATION_RECORD,
    LAB,
    LOT_QUANTITY,
    MAX_QUANTITY,
    RECEIVER,
    SHIPPER,
    SLAG,
    TRANSPORTER,
    ZERO_ADDRESS,
    code_key,
    deadline_in,
    new_party,
    plain,
    reverts,
)

REGISTER_LOT_TYPE = (
    "RegisterLot(address generator,string wasteScheme,string wasteCode,uint64 quantity,string unit,"
    "bytes32 documentHash,uint256 nonce,uint256 deadline)"
)


def test_generator_registers_lot(ledger, relayer, shipper, slag, signed_lot):
    statement = signed_lot(shipper)

    tx = ledger.registerLot(*statement.args, {"from": relayer})

    # The lot id is the EIP-712 digest of the statement, worked out here by hand from the type string.
    m = statement.message
    struct_hash = keccak(
        encode(
            [
                "bytes32",
                "address",
                "bytes32",
                "bytes32",
                "uint64",
                "bytes32",
                "bytes32",
                "uint256",
                "uint256",
            ],
            [
                keccak(text=REGISTER_LOT_TYPE),
                m["generator"],
                keccak(text=m["wasteScheme"]),
                keccak(text=m["wasteCode"]),
                m["quantity"],
                keccak(text=m["unit"]),
                m["documentHash"],
                m["nonce"],
                m["deadline"],
            ],
        )
    )
    lot_id = keccak(b"\x19\x01" + bytes(ledger.DOMAIN_SEPARATOR()) + struct_hash)
    assert lot_id == statement.digest
    assert plain(tx.return_value) == lot_id
    assert plain(dict(tx.events["LotGenerated"])) == {
        "lotId": lot_id,
        "generator": shipper.address,
        "codeKey": slag.key,
        "quantity": LOT_QUANTITY,
        "documentHash": GENERATION_RECORD,
    }
    assert plain(ledger.lot(lot_id)) == (shipper.address, LOT_QUANTITY, slag.id)
    # No nonce is consumed: the lot record itself stops a replay.
    assert not ledger.nonceUsed(shipper.address, m["nonce"])
    assert web3.eth.get_balance(shipper.address) == 0  # the relayer paid


def test_lot_in_litres_of_another_code(ledger, shipper, slag, waste_oil, register_lot):
    lot_id = register_lot(shipper, wasteCode="13 02 05*", unit="LTR", quantity=2_000)
    assert plain(ledger.lot(lot_id)) == (shipper.address, 2_000, waste_oil.id)


def test_same_code_in_another_scheme(ledger, shipper, slag, register_waste_code, register_lot):
    vn = register_waste_code("VN-TT02-2022", SLAG[1], "KGM").events["WasteCodeRegistered"]["id"]
    lot_id = register_lot(shipper, wasteScheme="VN-TT02-2022")
    assert plain(ledger.lot(lot_id))[2] == vn != slag.id


def test_unknown_lot_reads_as_zero(ledger):
    assert plain(ledger.lot(b"\x42" * 32)) == (ZERO_ADDRESS, 0, 0)


def test_same_content_with_another_nonce_is_another_lot(ledger, relayer, shipper, slag, signed_lot):
    first = signed_lot(shipper)
    second = signed_lot(shipper, nonce=first.message["nonce"] + 1)
    assert {**first.message, "nonce": 0} == {**second.message, "nonce": 0}

    ledger.registerLot(*first.args, {"from": relayer})
    ledger.registerLot(*second.args, {"from": relayer})

    assert first.digest != second.digest
    assert (
        plain(ledger.lot(first.digest))
        == plain(ledger.lot(second.digest))
        == (
            shipper.address,
            LOT_QUANTITY,
            slag.id,
        )
    )


def test_largest_quantity_is_accepted(ledger, shipper, slag, register_lot):
    lot_id = register_lot(shipper, quantity=MAX_QUANTITY)
    assert plain(ledger.lot(lot_id))[1] == MAX_QUANTITY


# --- replay ------------------------------------------------------------------------------------------


def test_replayed_registration(ledger, relayer, shipper, slag, signed_lot):
    statement = signed_lot(shipper)
    ledger.registerLot(*statement.args, {"from": relayer})
    with reverts("AlreadyRecorded", statement.digest):
        ledger.registerLot(*statement.args, {"from": relayer})


def test_replay_after_the_lot_is_emptied(ledger, relayer, shipper, receiver, permit, signed_lot, dispatch):
    # An emptied lot still exists: replaying its registration cannot refill it.
    statement = signed_lot(shipper)
    ledger.registerLot(*statement.args, {"from": relayer})
    dispatch(shipper, receiver, statement.digest, permit, quantity=LOT_QUANTITY)
    assert plain(ledger.lot(statement.digest))[1] == 0
    with reverts("AlreadyRecorded", statement.digest):
        ledger.registerLot(*statement.args, {"from": relayer})


# --- who may register a lot --------------------------------------------------------------------------


def test_receiver_only_party_cannot_generate(ledger, relayer, receiver, slag, signed_lot):
    with reverts("MissingRole", receiver.address, SHIPPER):
        ledger.registerLot(*signed_lot(receiver).args, {"from": relayer})


def test_unregistered_generator(ledger, relayer, slag, signed_lot):
    stranger = new_party()
    with reverts("UnregisteredParticipant", stranger.address):
        ledger.registerLot(*signed_lot(stranger).args, {"from": relayer})


def test_suspended_generator(ledger, relayer, shipper, slag, set_status, signed_lot):
    set_status(shipper, True)
    with reverts("SuspendedParticipant", shipper.address):
        ledger.registerLot(*signed_lot(shipper).args, {"from": relayer})


def test_reinstated_generator_may_register_again(ledger, shipper, slag, set_status, register_lot):
    set_status(shipper, True)
    set_status(shipper, False)
    assert plain(ledger.lot(register_lot(shipper)))[0] == shipper.address


def test_shipper_and_receiver_may_generate(ledger, register, slag, register_lot):
    firm = new_party()
    register(firm, SHIPPER | RECEIVER)
    assert plain(ledger.lot(register_lot(firm)))[0] == firm.address


# --- what a lot must contain -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "code"),
    [("EU-LOW", "99 99 99"), ("VN-TT02-2022", "10 02 02"), ("EU-LOW", "10 02 02 "), ("", "")],
    ids=["unknown-code", "other-scheme", "trailing-space", "empty"],
)
def test_unknown_waste_code(ledger, relayer, shipper, slag, signed_lot, scheme, code):
    statement = signed_lot(shipper, wasteScheme=scheme, wasteCode=code)
    with reverts("UnknownWasteCode", code_key(scheme, code)):
        ledger.registerLot(*statement.args, {"from": relayer})


@pytest.mark.parametrize("unit", ["LTR", "KWH", "TNE", "kgm", ""])
def test_unit_mismatch(ledger, relayer, shipper, slag, signed_lot, unit):
    # Slag is declared in kilograms: a lot of it in any other unit is refused.
    with reverts("UnitMismatch", slag.key, unit):
        ledger.registerLot(*signed_lot(shipper, unit=unit).args, {"from": relayer})


def test_zero_quantity(ledger, relayer, shipper, slag, signed_lot):
    with reverts("ZeroQuantity"):
        ledger.registerLot(*signed_lot(shipper, quantity=0).args, {"from": relayer})


@pytest.mark.parametrize("quantity", [MAX_QUANTITY + 1, 2**64 - 1], ids=["2^56", "2^64-1"])
def test_quantity_too_large(ledger, relayer, shipper, slag, signed_lot, quantity):
    with reverts("QuantityTooLarge", quantity, MAX_QUANTITY):
        ledger.registerLot(*signed_lot(shipper, quantity=quantity).args, {"from": relayer})


# --- what a signature binds --------------------------------------------------------------------------


def test_lot_signed_by_another_key(ledger, relayer, shipper, slag, signed_lot):
    statement = signed_lot(shipper, signer=new_party())
    with reverts("InvalidSignature", shipper.address):
        ledger.registerLot(*statement.args, {"from": relayer})


def test_lot_signed_for_another_chain(ledger, relayer, shipper, slag, signed_lot):
    statement = signed_lot(shipper, chain_id=web3.eth.chain_id + 1)
    with reverts("InvalidSignature", shipper.address):
        ledger.registerLot(*statement.args, {"from": relayer})


@pytest.mark.parametrize(
    "change",
    [
        {"quantity": LOT_QUANTITY + 1},
        {"wasteCode": "10 02 01"},
        {"documentHash": b"\x00" * 32},
        {"nonce": 1},
        {"deadline": 2**32},
    ],
    ids=["quantity", "wasteCode", "documentHash", "nonce", "deadline"],
)
def test_lot_tampered_after_signing(ledger, relayer, shipper, slag, register_waste_code, signed_lot, change):
    register_waste_code("EU-LOW", "10 02 01", "KGM")  # so that a swapped code passes the catalogue check
    statement = signed_lot(shipper)
    with reverts("InvalidSignature", shipper.address):
        ledger.registerLot(*statement.tampered(**change), {"from": relayer})


def test_lot_claimed_for_another_generator(ledger, relayer, shipper, register, slag, signed_lot):
    # A relayer cannot put one firm's signed lot in another firm's name.
    other = new_party()
    register(other, SHIPPER)
    statement = signed_lot(shipper)
    with reverts("InvalidSignature", other.address):
        ledger.registerLot(*statement.tampered(generator=other.address), {"from": relayer})


def test_expired_lot_statement(ledger, relayer, shipper, slag, signed_lot):
    deadline = deadline_in(-1)
    with reverts("SignatureExpired", deadline):
        ledger.registerLot(*signed_lot(shipper, deadline=deadline).args, {"from": relayer})


def test_other_roles_are_not_shipper(ledger, relayer, register, slag, signed_lot):
    firm = new_party()
    register(firm, RECEIVER | TRANSPORTER | LAB)
    with reverts("MissingRole", firm.address, SHIPPER):
        ledger.registerLot(*signed_lot(firm).args, {"from": relayer})
