"""SymbiosisLedger's waste-code catalogue and permits (custody/Permits.sol), changed only on an active regulator's
signed word."""

import json

import pytest
from brownie import web3
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak
from typed_statements import (
    ALL_OPERATIONS,
    DOMAINS,
    LAB,
    OIL_OPERATIONS,
    REGULATOR,
    SLAG,
    SLAG_OPERATIONS,
    UNIT_CODES,
    WASTE_OIL,
    PermitKind,
    Unit,
    abi_value,
    code_key,
    d_operation,
    deadline_in,
    eip712_digest,
    new_party,
    permit_id,
    plain,
    r_operation,
    reverts,
    typed_data,
)

# --- waste-code catalogue ----------------------------------------------------------------------------


def test_domain_separator_is_the_eip712_hash_of_the_domain_parties_sign_for(permits):
    # The separator every statement's digest is built on (a regulator's permit as a firm's dispatch: one
    # contract, one domain), worked out by hand from the domain the off-chain signers hard-code.
    name, version = DOMAINS["SymbiosisLedger"]
    domain_type = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    expected = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                keccak(text=domain_type),
                keccak(text=name),
                keccak(text=version),
                web3.eth.chain_id,
                permits.address,
            ],
        )
    )
    assert bytes(permits.DOMAIN_SEPARATOR()) == expected


def test_regulator_registers_waste_code(permits, regulator, relayer, signed_waste_code):
    statement = signed_waste_code(*WASTE_OIL)

    tx = permits.registerWasteCode(*statement.args, {"from": relayer})

    key = code_key("EU-LOW", "13 02 05*")
    assert plain(dict(tx.events["WasteCodeRegistered"])) == {
        "codeKey": key,
        "id": 1,
        "scheme": "EU-LOW",
        "code": "13 02 05*",
        "unit": "LTR",
        "hazardous": True,
        "description": WASTE_OIL[4],
        "regulator": regulator.address,
    }
    assert plain(permits.wasteCode(key)) == (1, Unit.LITRE, True)
    assert plain(permits.codeKey("EU-LOW", "13 02 05*")) == key
    assert permits.nonceUsed(regulator.address, statement.message["nonce"])
    assert web3.eth.get_balance(regulator.address) == 0  # the relayer paid


def test_codes_are_numbered_in_order_of_registration(permits, register_waste_code):
    codes = [("VN-TT02-2022", "07 01 03"), ("US-RCRA", "D001"), ("EU-LOW", "12 01 04")]
    ids = [register_waste_code(*code).events["WasteCodeRegistered"]["id"] for code in codes]
    assert ids == [1, 2, 3]
    assert [permits.wasteCode(code_key(*code))[0] for code in codes] == [1, 2, 3]


@pytest.mark.parametrize("unit", UNIT_CODES)
def test_each_unit_code_maps_to_its_unit(permits, register_waste_code, unit):
    register_waste_code("EU-LOW", "19 12 10", unit)
    assert plain(permits.wasteCode(code_key("EU-LOW", "19 12 10"))) == (1, UNIT_CODES[unit], False)


def test_same_code_in_another_scheme_is_another_waste_code(permits, register_waste_code):
    register_waste_code("EU-LOW", "10 02 02")
    register_waste_code("VN-TT02-2022", "10 02 02")
    assert permits.wasteCode(code_key("VN-TT02-2022", "10 02 02"))[0] == 2


def test_unknown_waste_code(permits):
    key = code_key("EU-LOW", "99 99 99")
    with reverts("UnknownWasteCode", key):
        permits.wasteCode(key)


def test_shipper_cannot_register_waste_code(permits, relayer, shipper, signed_waste_code):
    statement = signed_waste_code(*SLAG, by=shipper)
    with reverts("MissingRole", shipper.address, REGULATOR):
        permits.registerWasteCode(*statement.args, {"from": relayer})


def test_unregistered_key_cannot_register_waste_code(permits, relayer, signed_waste_code):
    stranger = new_party()
    with reverts("UnregisteredParticipant", stranger.address):
        permits.registerWasteCode(*signed_waste_code(*SLAG, by=stranger).args, {"from": relayer})


def test_suspended_regulator_cannot_register_waste_code(
    permits, relayer, register, set_status, signed_waste_code
):
    second = new_party()
    register(second, REGULATOR)
    set_status(second, True)
    with reverts("SuspendedParticipant", second.address):
        permits.registerWasteCode(*signed_waste_code(*SLAG, by=second).args, {"from": relayer})


def test_waste_code_signed_by_another_key(permits, regulator, relayer, signed_waste_code):
    statement = signed_waste_code(*SLAG, signer=new_party())
    with reverts("InvalidSignature", regulator.address):
        permits.registerWasteCode(*statement.args, {"from": relayer})


def test_relayer_cannot_clear_the_hazardous_flag(permits, regulator, relayer, signed_waste_code):
    statement = signed_waste_code(*WASTE_OIL)
    with reverts("InvalidSignature", regulator.address):
        permits.registerWasteCode(*statement.tampered(hazardous=False), {"from": relayer})


def test_expired_waste_code_statement(permits, relayer, signed_waste_code):
    deadline = deadline_in(-1)
    with reverts("SignatureExpired", deadline):
        permits.registerWasteCode(*signed_waste_code(*SLAG, deadline=deadline).args, {"from": relayer})


def test_replayed_nonce(permits, regulator, relayer, signed_waste_code):
    # The duplicate-code check comes first, so replay the nonce on another code.
    first = signed_waste_code(*SLAG)
    permits.registerWasteCode(*first.args, {"from": relayer})
    replay = signed_waste_code(*WASTE_OIL, nonce=first.message["nonce"])
    with reverts("NonceAlreadyUsed", regulator.address, first.message["nonce"]):
        permits.registerWasteCode(*replay.args, {"from": relayer})


def test_duplicate_waste_code(permits, relayer, slag, signed_waste_code):
    statement = signed_waste_code(*SLAG[:2], unit="LTR")
    with reverts("WasteCodeAlreadyRegistered", slag.key):
        permits.registerWasteCode(*statement.args, {"from": relayer})


@pytest.mark.parametrize("unit", ["TNE", "kgm", "KG", ""])
def test_unknown_unit(permits, relayer, signed_waste_code, unit):
    with reverts("UnknownUnit", unit):
        permits.registerWasteCode(*signed_waste_code(*SLAG[:2], unit=unit).args, {"from": relayer})


@pytest.mark.parametrize(
    ("scheme", "code", "field"), [("", "10 02 02", "scheme"), ("EU-LOW", "", "code")], ids=["scheme", "code"]
)
def test_empty_scheme_or_code(permits, relayer, signed_waste_code, scheme, code, field):
    with reverts("EmptyField", field):
        permits.registerWasteCode(*signed_waste_code(scheme, code).args, {"from": relayer})


# --- permits -----------------------------------------------------------------------------------------


def test_regulator_registers_permit(permits, regulator, relayer, receiver, slag, waste_oil, signed_permit):
    statement = signed_permit(receiver, [(slag.key, SLAG_OPERATIONS), (waste_oil.key, OIL_OPERATIONS)])

    tx = permits.registerPermit(*statement.args, {"from": relayer})

    m = statement.message
    pid = permit_id(m["permitNumber"])
    assert plain(dict(tx.events["PermitRegistered"])) == {
        "permitId": pid,
        "holder": receiver.address,
        "permitNumber": m["permitNumber"],
        "kind": PermitKind.ENVIRONMENTAL_PERMIT,
        "coverage": ((slag.key, SLAG_OPERATIONS), (waste_oil.key, OIL_OPERATIONS)),
        "yearlyCapacity": m["yearlyCapacity"],
        "validFrom": m["validFrom"],
        "validUntil": m["validUntil"],
        "regulator": regulator.address,
    }
    terms = (receiver.address, PermitKind.ENVIRONMENTAL_PERMIT, m["validFrom"], m["validUntil"], False)
    assert plain(permits.permitTerms(pid, slag.id)) == (*terms, m["yearlyCapacity"], SLAG_OPERATIONS)
    assert plain(permits.permitTerms(pid, waste_oil.id)) == (*terms, m["yearlyCapacity"], OIL_OPERATIONS)
    assert permits.nonceUsed(regulator.address, m["nonce"])


def test_terms_for_a_code_the_permit_does_not_cover(permits, receiver, permit, register_waste_code):
    other = register_waste_code("EU-LOW", "19 12 04").events["WasteCodeRegistered"]["id"]
    terms = plain(permits.permitTerms(permit, other))
    assert terms[0] == receiver.address
    assert terms[6] == 0  # no operations


def test_terms_of_unknown_permit(permits, slag):
    pid = permit_id("no such permit")
    with reverts("UnknownPermit", pid):
        permits.permitTerms(pid, slag.id)


def test_every_operation_bit_can_be_granted(permits, receiver, slag, register_permit):
    assert r_operation(1) | d_operation(15) | (d_operation(15) - 1) == ALL_OPERATIONS
    pid = register_permit(receiver, [(slag.key, ALL_OPERATIONS)])
    assert permits.permitTerms(pid, slag.id)[6] == ALL_OPERATIONS


def test_any_active_participant_can_hold_a_permit(permits, register, slag, register_permit):
    lab = new_party()
    register(lab, LAB)
    pid = register_permit(lab, [(slag.key, r_operation(4))], kind=PermitKind.LAB_ACCREDITATION)
    assert plain(permits.permitTerms(pid, slag.id)[:2]) == (lab.address, PermitKind.LAB_ACCREDITATION)


def test_permit_without_waste_codes(permits, receiver, slag, register_permit):
    # Allowed (e.g. an accreditation that covers no code); the empty array still hashes per EIP-712.
    pid = register_permit(receiver, [], kind=PermitKind.HAZARDOUS_WASTE_TRANSPORT_LICENCE)
    assert plain(permits.permitTerms(pid, slag.id))[6] == 0


def test_permit_for_unknown_waste_code(permits, relayer, receiver, slag, signed_permit):
    unknown = code_key("EU-LOW", "99 99 99")
    statement = signed_permit(receiver, [(slag.key, SLAG_OPERATIONS), (unknown, r_operation(1))])
    with reverts("UnknownWasteCode", unknown):
        permits.registerPermit(*statement.args, {"from": relayer})


@pytest.mark.parametrize(
    "operations", [0, 1 << 28, SLAG_OPERATIONS | (1 << 31)], ids=["none", "bit28", "R4R5+bit31"]
)
def test_invalid_operations(permits, relayer, receiver, slag, signed_permit, operations):
    statement = signed_permit(receiver, [(slag.key, operations)])
    with reverts("InvalidOperations", slag.key, operations):
        permits.registerPermit(*statement.args, {"from": relayer})


def test_code_listed_twice(permits, relayer, receiver, slag, signed_permit):
    statement = signed_permit(receiver, [(slag.key, r_operation(4)), (slag.key, r_operation(5))])
    with reverts("DuplicateCoverage", slag.key):
        permits.registerPermit(*statement.args, {"from": relayer})


@pytest.mark.parametrize(
    ("valid_from", "valid_until"),
    [(1_900_000_000, 1_900_000_000), (1_900_000_001, 1_900_000_000), (1, 2**40)],
    ids=["empty", "reversed", "beyond-uint40"],
)
def test_invalid_validity_period(permits, relayer, receiver, slag, signed_permit, valid_from, valid_until):
    statement = signed_permit(
        receiver, [(slag.key, SLAG_OPERATIONS)], validFrom=valid_from, validUntil=valid_until
    )
    with reverts("InvalidValidityPeriod", valid_from, valid_until):
        permits.registerPermit(*statement.args, {"from": relayer})


def test_holder_must_be_registered(permits, relayer, slag, signed_permit):
    stranger = new_party()
    statement = signed_permit(stranger, [(slag.key, SLAG_OPERATIONS)])
    with reverts("UnregisteredParticipant", stranger.address):
        permits.registerPermit(*statement.args, {"from": relayer})


def test_holder_must_be_active(permits, relayer, receiver, slag, set_status, signed_permit):
    set_status(receiver, True)
    statement = signed_permit(receiver, [(slag.key, SLAG_OPERATIONS)])
    with reverts("SuspendedParticipant", receiver.address):
        permits.registerPermit(*statement.args, {"from": relayer})


@pytest.mark.parametrize("kind", [0, 4, 255])
def test_invalid_permit_kind(permits, relayer, receiver, slag, signed_permit, kind):
    statement = signed_permit(receiver, [(slag.key, SLAG_OPERATIONS)], kind=kind)
    with reverts("InvalidPermitKind", kind):
        permits.registerPermit(*statement.args, {"from": relayer})


def test_empty_permit_number(permits, relayer, receiver, slag, signed_permit):
    statement = signed_permit(receiver, [(slag.key, SLAG_OPERATIONS)], permitNumber="")
    with reverts("EmptyField", "permitNumber"):
        permits.registerPermit(*statement.args, {"from": relayer})


def test_duplicate_permit(permits, relayer, receiver, slag, signed_permit):
    first = signed_permit(receiver, [(slag.key, SLAG_OPERATIONS)])
    permits.registerPermit(*first.args, {"from": relayer})
    again = signed_permit(receiver, [(slag.key, r_operation(4))], permitNumber=first.message["permitNumber"])
    with reverts("PermitAlreadyRegistered", permit_id(first.message["permitNumber"])):
        permits.registerPermit(*again.args, {"from": relayer})


def test_shipper_cannot_register_permit(permits, relayer, shipper, receiver, slag, signed_permit):
    statement = signed_permit(receiver, [(slag.key, SLAG_OPERATIONS)], by=shipper)
    with reverts("MissingRole", shipper.address, REGULATOR):
        permits.registerPermit(*statement.args, {"from": relayer})


def test_relayer_cannot_widen_the_operations(
    permits, regulator, relayer, receiver, slag, waste_oil, signed_permit
):
    statement = signed_permit(receiver, [(slag.key, SLAG_OPERATIONS), (waste_oil.key, OIL_OPERATIONS)])
    widened = [statement.message["coverage"][0], {"codeKey": waste_oil.key, "operations": ALL_OPERATIONS}]
    with reverts("InvalidSignature", regulator.address):
        permits.registerPermit(*statement.tampered(coverage=widened), {"from": relayer})


def test_relayer_cannot_drop_a_covered_code(
    permits, regulator, relayer, receiver, slag, waste_oil, signed_permit
):
    statement = signed_permit(receiver, [(slag.key, SLAG_OPERATIONS), (waste_oil.key, OIL_OPERATIONS)])
    with reverts("InvalidSignature", regulator.address):
        permits.registerPermit(
            *statement.tampered(coverage=statement.message["coverage"][:1]), {"from": relayer}
        )


# --- revocation --------------------------------------------------------------------------------------


def test_regulator_revokes_permit(permits, regulator, receiver, slag, permit, revoke_permit):
    before = plain(permits.permitTerms(permit, slag.id))

    tx = revoke_permit(permit, reason="operating beyond capacity")

    assert plain(dict(tx.events["PermitRevoked"])) == {
        "permitId": permit,
        "regulator": regulator.address,
        "reason": "operating beyond capacity",
    }
    after = plain(permits.permitTerms(permit, slag.id))
    assert after == (*before[:4], True, *before[5:])  # only the revoked flag changed
    assert after[6] == SLAG_OPERATIONS


def test_revoking_twice_is_refused(permits, relayer, permit, revoke_permit, signed_revocation):
    revoke_permit(permit)
    with reverts("PermitAlreadyRevoked", permit):
        permits.revokePermit(*signed_revocation(permit).args, {"from": relayer})


def test_revoking_unknown_permit(permits, relayer, signed_revocation):
    pid = permit_id("no such permit")
    with reverts("UnknownPermit", pid):
        permits.revokePermit(*signed_revocation(pid).args, {"from": relayer})


def test_only_a_regulator_can_revoke(permits, relayer, receiver, permit, signed_revocation):
    # Not even the holder.
    with reverts("MissingRole", receiver.address, REGULATOR):
        permits.revokePermit(*signed_revocation(permit, by=receiver).args, {"from": relayer})


def test_relayer_cannot_change_the_reason(permits, regulator, relayer, permit, signed_revocation):
    statement = signed_revocation(permit)
    with reverts("InvalidSignature", regulator.address):
        permits.revokePermit(*statement.tampered(reason="at the holder's request"), {"from": relayer})


# --- what a wallet signs -----------------------------------------------------------------------------

REGISTER_PERMIT_TYPE = (
    "RegisterPermit(address regulator,string permitNumber,address holder,uint8 kind,Coverage[] coverage,"
    "uint64 yearlyCapacity,uint64 validFrom,uint64 validUntil,uint256 nonce,uint256 deadline)"
    "Coverage(bytes32 codeKey,uint32 operations)"
)


def _as_json(value):
    """`value` with bytes as 0x-hex strings, the way typed data travels to a wallet."""
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    return "0x" + value.hex() if isinstance(value, bytes) else value


def test_permit_is_signed_as_standard_eth_sign_typed_data_v4_json(
    permits, regulator, relayer, receiver, slag, waste_oil, signed_permit
):
    """A permit statement is plain eth_signTypedData_v4 JSON (struct array included), signed unchanged.

    The JSON is what a wallet receives; eth_account signs it as is. Its digest is checked against the
    EIP-712 rules worked by hand (encodeType with the referenced Coverage type appended, the array
    hashed as the keccak of its elements' hashStructs), and the contract accepts the signature.
    """
    m = signed_permit(receiver, [(slag.key, SLAG_OPERATIONS), (waste_oil.key, OIL_OPERATIONS)]).message
    text = json.dumps(_as_json(typed_data(permits, "RegisterPermit", m)))
    full_message = json.loads(text)
    assert full_message["types"]["Coverage"] == [
        {"name": "codeKey", "type": "bytes32"},
        {"name": "operations", "type": "uint32"},
    ]
    assert {"name": "coverage", "type": "Coverage[]"} in full_message["types"]["RegisterPermit"]

    coverage_hashes = [
        keccak(
            encode(
                ["bytes32", "bytes32", "uint32"],
                [keccak(text="Coverage(bytes32 codeKey,uint32 operations)"), c["codeKey"], c["operations"]],
            )
        )
        for c in m["coverage"]
    ]
    struct_hash = keccak(
        encode(
            ["bytes32", "address", "bytes32", "address", "uint8", "bytes32"]
            + ["uint64", "uint64", "uint64", "uint256", "uint256"],
            [
                keccak(text=REGISTER_PERMIT_TYPE),
                m["regulator"],
                keccak(text=m["permitNumber"]),
                m["holder"],
                m["kind"],
                keccak(b"".join(coverage_hashes)),
                m["yearlyCapacity"],
                m["validFrom"],
                m["validUntil"],
                m["nonce"],
                m["deadline"],
            ],
        )
    )
    digest = keccak(b"\x19\x01" + bytes(permits.DOMAIN_SEPARATOR()) + struct_hash)
    assert eip712_digest(full_message) == digest

    signature = Account.sign_typed_data(regulator.key, full_message=full_message).signature
    tx = permits.registerPermit(abi_value("RegisterPermit", m), signature, {"from": relayer})
    assert tx.events["PermitRegistered"]["permitNumber"] == m["permitNumber"]
