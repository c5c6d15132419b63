"""Certificates of analysis (custody/Certificates.sol): an accredited lab's signed certificate bound to one lot,
its revocation by the issuing lab or a regulator, and a dispatch citing certificates of the lot it ships.

Times that an assertion names exactly (a certificate's or an accreditation's last second) are set on the next
block with `set_next_block_time`; statements sent then are signed with a deadline after that time.
"""

import pytest
from brownie import chain, web3
from eth_abi import encode
from eth_utils import keccak
from typed_statements import (
    CERTIFICATE_DOCUMENT,
    CERTIFICATE_RESULTS,
    DOCUMENT_HASH,
    LAB,
    LOT_QUANTITY,
    PARK_OPERATOR,
    RECEIVER,
    REGULATOR,
    SHIPPED,
    SHIPPER,
    SLAG_OPERATIONS,
    TRANSPORTER,
    ZERO_ADDRESS,
    PermitKind,
    TransferStatus,
    deadline_in,
    new_party,
    plain,
    reverts,
    set_next_block_time,
    utc_year,
)

DAY = 24 * 3600
UINT40_MAX = 2**40 - 1

# The type strings as the issue states them: the digests below are computed from these, independently of
# the field lists in typed_statements.py (which eth_account turns into the same digests).
ISSUE_CERTIFICATE_TYPE = (
    "IssueCertificate(address lab,bytes32 lotId,bytes32 accreditationId,bytes32 documentHash,"
    "bytes32 resultsHash,uint64 validUntil,uint256 nonce,uint256 deadline)"
)
DISPATCH_TYPE = (
    "Dispatch(address shipper,address receiver,bytes32 lotId,uint64 quantity,string operation,"
    "bytes32 permitId,bytes32[] certificates,address[] transporters,bytes32[] licences,bytes32 documentHash,"
    "uint256 nonce,uint256 deadline)"
)


def typed_digest(ledger, struct_hash):
    return keccak(b"\x19\x01" + bytes(ledger.DOMAIN_SEPARATOR()) + struct_hash)


def issuance_digest(ledger, m):
    """The EIP-712 digest of an IssueCertificate message, by hand."""
    types = ["bytes32", "address", "bytes32", "bytes32", "bytes32", "bytes32", "uint64", "uint256", "uint256"]
    values = [keccak(text=ISSUE_CERTIFICATE_TYPE), m["lab"], m["lotId"], m["accreditationId"]]
    values += [m["documentHash"], m["resultsHash"], m["validUntil"], m["nonce"], m["deadline"]]
    return typed_digest(ledger, keccak(encode(types, values)))


def dispatch_digest(ledger, m):
    """The EIP-712 digest of a Dispatch message, by hand: an array is encoded as the hash of its elements,
    each padded to 32 bytes, back to back."""
    types = ["bytes32", "address", "address", "bytes32", "uint64", "bytes32", "bytes32", "bytes32", "bytes32"]
    types += ["bytes32", "bytes32", "uint256", "uint256"]
    values = [keccak(text=DISPATCH_TYPE), m["shipper"], m["receiver"], m["lotId"], m["quantity"]]
    values += [keccak(text=m["operation"]), m["permitId"], keccak(b"".join(m["certificates"]))]
    values += [keccak(b"".join(encode(["address"], [t]) for t in m["transporters"]))]
    values += [keccak(b"".join(m["licences"])), m["documentHash"], m["nonce"], m["deadline"]]
    return typed_digest(ledger, keccak(encode(types, values)))


def move_to(timestamp):
    """Mines up to shortly before `timestamp` and makes the next block carry exactly `timestamp`."""
    chain.sleep(timestamp - chain.time() - 60)
    chain.mine()
    set_next_block_time(timestamp)


def dispatched_certificates(tx):
    return plain(tx.events["TransferDispatched"]["certificates"])


@pytest.fixture(scope="module")
def other_lab(register):
    """A second active LAB."""
    party = new_party()
    register(party, LAB)
    return party


@pytest.fixture
def other_accreditation(other_lab, register_permit):
    """The second lab's accreditation, valid now."""
    return register_permit(other_lab, [], kind=PermitKind.LAB_ACCREDITATION)


@pytest.fixture
def other_lot(shipper, slag, register_lot):
    """A second lot of slag that `shipper` holds."""
    return register_lot(shipper)


# --- issue: the legal path ---------------------------------------------------------------------------


def test_issue_records_certificate(ledger, relayer, lab, lot, accreditation, signed_certificate):
    valid_until = chain[-1].timestamp + 180 * DAY
    statement = signed_certificate(lab, lot, accreditation, validUntil=valid_until)

    tx = ledger.issueCertificate(*statement.args, {"from": relayer})

    # The certificate's id is the EIP-712 digest the lab signed: anyone holding the statement recomputes it.
    certificate_id = statement.digest
    assert certificate_id == issuance_digest(ledger, statement.message)
    assert plain(tx.return_value) == certificate_id
    assert plain(dict(tx.events["CertificateIssued"])) == {
        "certificateId": certificate_id,
        "lotId": lot,
        "lab": lab.address,
        "accreditationId": accreditation,
        "documentHash": CERTIFICATE_DOCUMENT,
        "resultsHash": CERTIFICATE_RESULTS,
        "validUntil": valid_until,
    }
    assert plain(ledger.certificate(certificate_id, lot)) == (lab.address, valid_until, False)
    # No nonce is consumed (the record stops a replay), and the relayer paid, not the lab.
    assert not ledger.nonceUsed(lab.address, statement.message["nonce"])
    assert web3.eth.get_balance(lab.address) == 0


def test_certificate_is_bound_to_its_lot_only(ledger, certificate, lot, other_lot):
    assert plain(ledger.certificate(certificate, other_lot)) == (ZERO_ADDRESS, 0, False)
    assert plain(ledger.certificate(b"\x42" * 32, lot)) == (ZERO_ADDRESS, 0, False)


def test_the_lot_is_unchanged(ledger, shipper, slag, lot, certificate):
    assert plain(ledger.lot(lot)) == (shipper.address, LOT_QUANTITY, slag.id)


def test_several_certificates_of_one_lot(
    ledger, lab, other_lab, lot, accreditation, other_accreditation, issue_certificate
):
    first = issue_certificate(lab, lot, accreditation)
    # The same lab again (another nonce, other results), and another lab.
    second = issue_certificate(lab, lot, accreditation, resultsHash=b"\x01" * 32)
    third = issue_certificate(other_lab, lot, other_accreditation)
    assert len({first, second, third}) == 3
    assert [plain(ledger.certificate(c, lot))[0] for c in (first, second, third)] == [
        lab.address,
        lab.address,
        other_lab.address,
    ]


def test_a_lab_may_certify_anyones_lot(
    ledger, register, slag, lab, accreditation, register_lot, issue_certificate
):
    firm = new_party()
    register(firm, SHIPPER)
    firms_lot = register_lot(firm)
    certificate_id = issue_certificate(lab, firms_lot, accreditation)
    assert plain(ledger.certificate(certificate_id, firms_lot))[0] == lab.address


def test_lab_with_other_roles_too(ledger, register, lot, register_permit, issue_certificate):
    lab_and_shipper = new_party()
    register(lab_and_shipper, LAB | SHIPPER | RECEIVER)
    accreditation_id = register_permit(lab_and_shipper, [], kind=PermitKind.LAB_ACCREDITATION)
    certificate_id = issue_certificate(lab_and_shipper, lot, accreditation_id)
    assert plain(ledger.certificate(certificate_id, lot))[0] == lab_and_shipper.address


def test_a_transfer_is_certifiable_once_received(
    ledger, relayer, lab, receiver, accreditation, transfer_id, receive, signed_certificate, issue_certificate
):
    # Until its receipt a transfer is no lot.
    with reverts("UnknownLot", transfer_id):
        ledger.issueCertificate(*signed_certificate(lab, transfer_id, accreditation).args, {"from": relayer})
    receive(transfer_id, receiver)
    certificate_id = issue_certificate(lab, transfer_id, accreditation)
    assert plain(ledger.certificate(certificate_id, transfer_id))[0] == lab.address


@pytest.mark.parametrize("offset", [1, UINT40_MAX], ids=["next-second", "uint40-max"])
def test_validity_bounds_accepted(ledger, relayer, lab, lot, accreditation, signed_certificate, offset):
    time = chain[-1].timestamp + 10
    valid_until = time + 1 if offset == 1 else UINT40_MAX
    statement = signed_certificate(lab, lot, accreditation, validUntil=valid_until)
    set_next_block_time(time)
    tx = ledger.issueCertificate(*statement.args, {"from": relayer})
    assert tx.timestamp == time
    assert plain(ledger.certificate(statement.digest, lot)) == (lab.address, valid_until, False)


# --- issue: who may certify --------------------------------------------------------------------------


def test_party_without_the_lab_role(ledger, relayer, register, lot, register_permit, signed_certificate):
    # Holding an accreditation does not make a party a lab: the role is the registry's word.
    firm = new_party()
    register(firm, REGULATOR | PARK_OPERATOR | SHIPPER | RECEIVER | TRANSPORTER)
    accreditation_id = register_permit(firm, [], kind=PermitKind.LAB_ACCREDITATION)
    with reverts("MissingRole", firm.address, LAB):
        ledger.issueCertificate(*signed_certificate(firm, lot, accreditation_id).args, {"from": relayer})


def test_unregistered_lab(ledger, relayer, lot, accreditation, signed_certificate):
    stranger = new_party()
    with reverts("UnregisteredParticipant", stranger.address):
        ledger.issueCertificate(*signed_certificate(stranger, lot, accreditation).args, {"from": relayer})


def test_suspended_lab(ledger, relayer, lab, lot, accreditation, set_status, signed_certificate):
    set_status(lab, True)
    with reverts("SuspendedParticipant", lab.address):
        ledger.issueCertificate(*signed_certificate(lab, lot, accreditation).args, {"from": relayer})


def test_reinstated_lab_may_certify_again(ledger, lab, lot, accreditation, set_status, issue_certificate):
    set_status(lab, True)
    set_status(lab, False)
    assert plain(ledger.certificate(issue_certificate(lab, lot, accreditation), lot))[0] == lab.address


# --- issue: the accreditation ------------------------------------------------------------------------


def test_accreditation_of_another_lab(ledger, relayer, lab, lot, other_accreditation, signed_certificate):
    with reverts("NotAccredited", lab.address, other_accreditation):
        ledger.issueCertificate(*signed_certificate(lab, lot, other_accreditation).args, {"from": relayer})


@pytest.mark.parametrize(
    "kind", [PermitKind.ENVIRONMENTAL_PERMIT, PermitKind.HAZARDOUS_WASTE_TRANSPORT_LICENCE]
)
def test_permit_of_another_kind(ledger, relayer, lab, slag, lot, register_permit, signed_certificate, kind):
    # Held by the lab, valid, unrevoked, but no lab accreditation.
    permit_of_lab = register_permit(lab, [(slag.key, SLAG_OPERATIONS)], kind=kind)
    with reverts("NotAccredited", lab.address, permit_of_lab):
        ledger.issueCertificate(*signed_certificate(lab, lot, permit_of_lab).args, {"from": relayer})


def test_unknown_accreditation(ledger, relayer, lab, lot, signed_certificate):
    unknown = b"\x42" * 32
    with reverts("NotAccredited", lab.address, unknown):
        ledger.issueCertificate(*signed_certificate(lab, lot, unknown).args, {"from": relayer})


def test_revoked_accreditation(ledger, relayer, lab, lot, accreditation, revoke_permit, signed_certificate):
    revoke_permit(accreditation)
    with reverts("NotAccredited", lab.address, accreditation):
        ledger.issueCertificate(*signed_certificate(lab, lot, accreditation).args, {"from": relayer})


@pytest.fixture
def accreditation_period(lab, register_permit):
    """A lab accreditation valid from a day ahead for 30 days: (id, validFrom, validUntil)."""
    valid_from = chain[-1].timestamp + DAY
    valid_until = valid_from + 30 * DAY
    pid = register_permit(
        lab, [], kind=PermitKind.LAB_ACCREDITATION, validFrom=valid_from, validUntil=valid_until
    )
    return pid, valid_from, valid_until


@pytest.mark.parametrize("moment", ["now", "second-before-validFrom", "second-after-validUntil"])
def test_accreditation_not_valid(ledger, relayer, lab, lot, accreditation_period, signed_certificate, moment):
    pid, valid_from, valid_until = accreditation_period
    statement = signed_certificate(
        lab, lot, pid, validUntil=valid_until + 90 * DAY, deadline=valid_until + DAY
    )
    if moment == "second-before-validFrom":
        move_to(valid_from - 1)
    elif moment == "second-after-validUntil":
        move_to(valid_until + 1)
    with reverts("NotAccredited", lab.address, pid):
        ledger.issueCertificate(*statement.args, {"from": relayer})


@pytest.mark.parametrize("bound", ["validFrom", "validUntil"])
def test_accreditation_valid_on_its_first_and_last_second(
    ledger, relayer, lab, lot, accreditation_period, signed_certificate, bound
):
    pid, valid_from, valid_until = accreditation_period
    statement = signed_certificate(
        lab, lot, pid, validUntil=valid_until + 90 * DAY, deadline=valid_until + DAY
    )
    time = valid_from if bound == "validFrom" else valid_until
    move_to(time)
    tx = ledger.issueCertificate(*statement.args, {"from": relayer})
    assert tx.timestamp == time
    assert plain(ledger.certificate(statement.digest, lot))[0] == lab.address


# --- issue: what a certificate must contain ----------------------------------------------------------


def test_unknown_lot(ledger, relayer, lab, accreditation, signed_certificate):
    unknown = b"\x42" * 32
    with reverts("UnknownLot", unknown):
        ledger.issueCertificate(*signed_certificate(lab, unknown, accreditation).args, {"from": relayer})


@pytest.mark.parametrize("when", ["past", "now", "beyond-uint40", "zero", "uint64-max"])
def test_validity_passed_or_out_of_range(ledger, relayer, lab, lot, accreditation, signed_certificate, when):
    time = chain[-1].timestamp + 10
    valid_until = {
        "past": time - 1,
        "now": time,
        "beyond-uint40": UINT40_MAX + 1,
        "zero": 0,
        "uint64-max": 2**64 - 1,
    }[when]
    statement = signed_certificate(lab, lot, accreditation, validUntil=valid_until)
    set_next_block_time(time)
    with reverts("CertificateValidityPassed", valid_until):
        ledger.issueCertificate(*statement.args, {"from": relayer})


# --- issue: what a signature binds -------------------------------------------------------------------


def test_certificate_signed_by_another_key(ledger, relayer, lab, lot, accreditation, signed_certificate):
    statement = signed_certificate(lab, lot, accreditation, signer=new_party())
    with reverts("InvalidSignature", lab.address):
        ledger.issueCertificate(*statement.args, {"from": relayer})


def test_certificate_signed_for_another_chain(ledger, relayer, lab, lot, accreditation, signed_certificate):
    statement = signed_certificate(lab, lot, accreditation, chain_id=web3.eth.chain_id + 1)
    with reverts("InvalidSignature", lab.address):
        ledger.issueCertificate(*statement.args, {"from": relayer})


@pytest.mark.parametrize(
    "field",
    ["lotId", "accreditationId", "documentHash", "resultsHash", "validUntil", "nonce", "deadline"],
)
def test_certificate_tampered_after_signing(
    ledger, relayer, lab, lot, accreditation, other_lot, register_permit, signed_certificate, field
):
    # Each change alone passes every other check, so only the signature can refuse it.
    changes = {
        "lotId": lambda: bytes(other_lot),
        "accreditationId": lambda: bytes(register_permit(lab, [], kind=PermitKind.LAB_ACCREDITATION)),
        "documentHash": lambda: b"\x00" * 32,
        "resultsHash": lambda: b"\x00" * 32,
        "validUntil": lambda: UINT40_MAX,
        "nonce": lambda: 1,
        "deadline": lambda: 2**32,
    }
    change = {field: changes[field]()}
    statement = signed_certificate(lab, lot, accreditation)
    with reverts("InvalidSignature", lab.address):
        ledger.issueCertificate(*statement.tampered(**change), {"from": relayer})


def test_certificate_claimed_for_another_lab(
    ledger, relayer, lab, other_lab, lot, accreditation, other_accreditation, signed_certificate
):
    # A relayer cannot put one lab's certificate in another (accredited) lab's name.
    statement = signed_certificate(lab, lot, accreditation)
    with reverts("InvalidSignature", other_lab.address):
        ledger.issueCertificate(
            *statement.tampered(lab=other_lab.address, accreditationId=bytes(other_accreditation)),
            {"from": relayer},
        )


def test_expired_certificate_statement(ledger, relayer, lab, lot, accreditation, signed_certificate):
    deadline = deadline_in(-1)
    with reverts("SignatureExpired", deadline):
        ledger.issueCertificate(
            *signed_certificate(lab, lot, accreditation, deadline=deadline).args, {"from": relayer}
        )


def test_replayed_certificate(ledger, relayer, lab, lot, accreditation, signed_certificate):
    statement = signed_certificate(lab, lot, accreditation)
    ledger.issueCertificate(*statement.args, {"from": relayer})
    with reverts("AlreadyRecorded", statement.digest):
        ledger.issueCertificate(*statement.args, {"from": relayer})


def test_replay_cannot_revive_a_revoked_certificate(
    ledger, relayer, lab, lot, accreditation, signed_certificate, revoke_certificate
):
    statement = signed_certificate(lab, lot, accreditation)
    ledger.issueCertificate(*statement.args, {"from": relayer})
    revoke_certificate(lab, statement.digest, lot)
    with reverts("AlreadyRecorded", statement.digest):
        ledger.issueCertificate(*statement.args, {"from": relayer})
    assert plain(ledger.certificate(statement.digest, lot))[2] is True


# --- revocation --------------------------------------------------------------------------------------


def test_issuing_lab_revokes(ledger, relayer, lab, lot, certificate, signed_certificate_revocation):
    valid_until = plain(ledger.certificate(certificate, lot))[1]
    statement = signed_certificate_revocation(lab, certificate, lot, reason="sample mislabelled")

    tx = ledger.revokeCertificate(*statement.args, {"from": relayer})

    assert plain(dict(tx.events["CertificateRevoked"])) == {
        "certificateId": certificate,
        "lotId": lot,
        "lab": lab.address,
        "reason": "sample mislabelled",
    }
    assert plain(ledger.certificate(certificate, lot)) == (lab.address, valid_until, True)
    # A revocation is final: its record, not a consumed nonce, stops a replay of the very statement.
    assert not ledger.nonceUsed(lab.address, statement.message["nonce"])
    with reverts("RevokedCertificate", certificate):
        ledger.revokeCertificate(*statement.args, {"from": relayer})


def test_regulator_revokes_a_labs_certificate(
    ledger, relayer, regulator, lab, lot, certificate, signed_certificate_revocation
):
    valid_until = plain(ledger.certificate(certificate, lot))[1]
    # The regulator signs the same RevokeCertificate statement, naming itself in its `lab` field.
    statement = signed_certificate_revocation(regulator, certificate, lot, reason="accreditation withdrawn")

    tx = ledger.revokeCertificate(*statement.args, {"from": relayer})

    assert plain(dict(tx.events["CertificateRevoked"])) == {
        "certificateId": certificate,
        "lotId": lot,
        "lab": regulator.address,
        "reason": "accreditation withdrawn",
    }
    # The certificate still names the lab that issued it.
    assert plain(ledger.certificate(certificate, lot)) == (lab.address, valid_until, True)
    with reverts("RevokedCertificate", certificate):
        ledger.revokeCertificate(*statement.args, {"from": relayer})


def test_any_active_regulator_revokes(ledger, register, lot, certificate, revoke_certificate):
    # Not only the founding regulator: one it registered, also holding other roles.
    inspector = new_party()
    register(inspector, REGULATOR | LAB)
    revoke_certificate(inspector, certificate, lot)
    assert plain(ledger.certificate(certificate, lot))[2] is True


def test_suspended_regulator_cannot_revoke(
    ledger, relayer, register, set_status, lot, certificate, signed_certificate_revocation
):
    inspector = new_party()
    register(inspector, REGULATOR)
    set_status(inspector, True)
    with reverts("SuspendedParticipant", inspector.address):
        ledger.revokeCertificate(
            *signed_certificate_revocation(inspector, certificate, lot).args, {"from": relayer}
        )
    assert plain(ledger.certificate(certificate, lot))[2] is False


def test_revocation_by_another_lab(
    ledger, relayer, other_lab, lot, certificate, signed_certificate_revocation
):
    # Neither the issuing lab nor a regulator: the registry's refusal says which role it lacks.
    statement = signed_certificate_revocation(other_lab, certificate, lot)
    with reverts("MissingRole", other_lab.address, REGULATOR):
        ledger.revokeCertificate(*statement.args, {"from": relayer})
    assert plain(ledger.certificate(certificate, lot))[2] is False


def test_revocation_by_the_lots_holder(
    ledger, relayer, shipper, lot, certificate, signed_certificate_revocation
):
    statement = signed_certificate_revocation(shipper, certificate, lot)
    with reverts("MissingRole", shipper.address, REGULATOR):
        ledger.revokeCertificate(*statement.args, {"from": relayer})


def test_revocation_by_an_unregistered_party(
    ledger, relayer, lot, certificate, signed_certificate_revocation
):
    stranger = new_party()
    with reverts("UnregisteredParticipant", stranger.address):
        ledger.revokeCertificate(
            *signed_certificate_revocation(stranger, certificate, lot).args, {"from": relayer}
        )


def test_regulators_revocation_signed_by_another_key(
    ledger, relayer, regulator, lot, certificate, signed_certificate_revocation
):
    statement = signed_certificate_revocation(regulator, certificate, lot, signer=new_party())
    with reverts("InvalidSignature", regulator.address):
        ledger.revokeCertificate(*statement.args, {"from": relayer})


def test_revoked_twice(
    ledger, relayer, lab, lot, certificate, revoke_certificate, signed_certificate_revocation
):
    revoke_certificate(lab, certificate, lot)
    with reverts("RevokedCertificate", certificate):
        ledger.revokeCertificate(
            *signed_certificate_revocation(lab, certificate, lot).args, {"from": relayer}
        )


def test_revocation_naming_another_lot(
    ledger, relayer, lab, lot, other_lot, certificate, signed_certificate_revocation
):
    with reverts("CertificateNotForLot", certificate, other_lot):
        ledger.revokeCertificate(
            *signed_certificate_revocation(lab, certificate, other_lot).args, {"from": relayer}
        )
    assert plain(ledger.certificate(certificate, lot))[2] is False


def test_revocation_of_unknown_certificate(ledger, relayer, lab, lot, signed_certificate_revocation):
    unknown = b"\x42" * 32
    with reverts("CertificateNotForLot", unknown, lot):
        ledger.revokeCertificate(*signed_certificate_revocation(lab, unknown, lot).args, {"from": relayer})


def test_revocation_nonce_is_not_consumed(
    ledger, relayer, lab, lot, accreditation, issue_certificate, signed_certificate_revocation
):
    first = issue_certificate(lab, lot, accreditation)
    second = issue_certificate(lab, lot, accreditation)
    used = signed_certificate_revocation(lab, first, lot)
    ledger.revokeCertificate(*used.args, {"from": relayer})
    # The same nonce in a revocation of another certificate is another statement: both certificates end
    # revoked, each once.
    statement = signed_certificate_revocation(lab, second, lot, nonce=used.message["nonce"])
    ledger.revokeCertificate(*statement.args, {"from": relayer})
    assert plain(ledger.certificate(first, lot))[2] is True
    assert plain(ledger.certificate(second, lot))[2] is True
    for replay, revoked in [(used, first), (statement, second)]:
        with reverts("RevokedCertificate", revoked):
            ledger.revokeCertificate(*replay.args, {"from": relayer})


def test_revocation_signed_by_another_key(
    ledger, relayer, lab, lot, certificate, signed_certificate_revocation
):
    statement = signed_certificate_revocation(lab, certificate, lot, signer=new_party())
    with reverts("InvalidSignature", lab.address):
        ledger.revokeCertificate(*statement.args, {"from": relayer})


@pytest.mark.parametrize("field", ["reason", "nonce", "deadline"])
def test_revocation_tampered_after_signing(
    ledger, relayer, lab, lot, certificate, signed_certificate_revocation, field
):
    change = {"reason": "results confirmed", "nonce": 1, "deadline": 2**32}[field]
    statement = signed_certificate_revocation(lab, certificate, lot)
    with reverts("InvalidSignature", lab.address):
        ledger.revokeCertificate(*statement.tampered(**{field: change}), {"from": relayer})


def test_expired_revocation(ledger, relayer, lab, lot, certificate, signed_certificate_revocation):
    deadline = deadline_in(-1)
    with reverts("SignatureExpired", deadline):
        ledger.revokeCertificate(
            *signed_certificate_revocation(lab, certificate, lot, deadline=deadline).args, {"from": relayer}
        )


def test_suspended_lab_may_still_revoke(ledger, lab, lot, certificate, set_status, revoke_certificate):
    # Revocation only withdraws the lab's own word: it asks for the issuing lab's signature, not its standing.
    set_status(lab, True)
    revoke_certificate(lab, certificate, lot)
    assert plain(ledger.certificate(certificate, lot))[2] is True


# --- dispatch citing certificates --------------------------------------------------------------------


def test_dispatch_citing_a_certificate(
    ledger, relayer, shipper, receiver, slag, lot, permit, certificate, signed_dispatch
):
    statement = signed_dispatch(shipper, receiver, lot, permit, certificates=[certificate])

    tx = ledger.dispatch(*statement.args, {"from": relayer})

    # The transfer id is the digest of the dispatch with its certificates (hashed back to back, EIP-712).
    transfer_id = statement.digest
    assert transfer_id == dispatch_digest(ledger, statement.message)
    assert plain(dict(tx.events["TransferDispatched"])) == {
        "transferId": transfer_id,
        "shipper": shipper.address,
        "receiver": receiver.address,
        "lotId": lot,
        "quantity": SHIPPED,
        "operation": 4,  # R5
        "permitId": permit,
        "certificates": (certificate,),
        "documentHash": DOCUMENT_HASH,
    }
    assert plain(ledger.transfer(transfer_id)) == (
        receiver.address,
        TransferStatus.DISPATCHED,
        SHIPPED,
        slag.id,
    )
    assert plain(ledger.lot(lot))[1] == LOT_QUANTITY - SHIPPED
    assert ledger.capacityUsed(permit, utc_year(tx.timestamp)) == SHIPPED


def test_dispatch_citing_several_certificates(
    ledger,
    shipper,
    receiver,
    lab,
    other_lab,
    lot,
    permit,
    accreditation,
    other_accreditation,
    issue_certificate,
    dispatch,
):
    first = issue_certificate(lab, lot, accreditation)
    second = issue_certificate(other_lab, lot, other_accreditation)
    tx = dispatch(shipper, receiver, lot, permit, certificates=[second, first])
    assert dispatched_certificates(tx) == (second, first)  # as signed, in order


def test_digest_of_a_dispatch_without_certificates(ledger, shipper, receiver, lot, permit, signed_dispatch):
    # An empty list is hashed as the hash of nothing, and still yields the id the contract returns.
    statement = signed_dispatch(shipper, receiver, lot, permit)
    assert statement.message["certificates"] == []
    assert statement.digest == dispatch_digest(ledger, statement.message)


def test_a_certificate_serves_every_dispatch_of_its_lot(
    ledger, shipper, receiver, lot, permit, certificate, dispatch
):
    for _ in range(3):
        tx = dispatch(shipper, receiver, lot, permit, certificates=[certificate])
        assert dispatched_certificates(tx) == (certificate,)
    assert plain(ledger.lot(lot))[1] == LOT_QUANTITY - 3 * SHIPPED


def test_certificate_of_another_lot(
    ledger,
    relayer,
    shipper,
    receiver,
    lab,
    lot,
    other_lot,
    permit,
    accreditation,
    issue_certificate,
    signed_dispatch,
):
    others_certificate = issue_certificate(lab, other_lot, accreditation)
    statement = signed_dispatch(shipper, receiver, lot, permit, certificates=[others_certificate])
    with reverts("CertificateNotForLot", others_certificate, lot):
        ledger.dispatch(*statement.args, {"from": relayer})


def test_unknown_certificate(ledger, relayer, shipper, receiver, lot, permit, signed_dispatch):
    unknown = b"\x42" * 32
    statement = signed_dispatch(shipper, receiver, lot, permit, certificates=[unknown])
    with reverts("CertificateNotForLot", unknown, lot):
        ledger.dispatch(*statement.args, {"from": relayer})


def test_revoked_certificate(
    ledger, relayer, shipper, receiver, lab, lot, permit, certificate, revoke_certificate, signed_dispatch
):
    revoke_certificate(lab, certificate, lot)
    statement = signed_dispatch(shipper, receiver, lot, permit, certificates=[certificate])
    with reverts("RevokedCertificate", certificate):
        ledger.dispatch(*statement.args, {"from": relayer})
    assert plain(ledger.lot(lot))[1] == LOT_QUANTITY


def test_dispatch_before_the_revocation_stands(
    ledger, shipper, receiver, lab, lot, permit, certificate, dispatch, revoke_certificate
):
    tx = dispatch(shipper, receiver, lot, permit, certificates=[certificate])
    revoke_certificate(lab, certificate, lot)
    transfer_id = tx.events["TransferDispatched"]["transferId"]
    assert plain(ledger.transfer(transfer_id))[1] == TransferStatus.DISPATCHED


@pytest.fixture
def short_certificate(lab, lot, accreditation, issue_certificate):
    """A certificate of `lot` valid for one day: (id, validUntil)."""
    valid_until = chain[-1].timestamp + DAY
    return issue_certificate(lab, lot, accreditation, validUntil=valid_until), valid_until


def test_expired_certificate(
    ledger, relayer, shipper, receiver, lot, permit, short_certificate, signed_dispatch
):
    certificate_id, valid_until = short_certificate
    statement = signed_dispatch(
        shipper, receiver, lot, permit, certificates=[certificate_id], deadline=valid_until + DAY
    )
    move_to(valid_until + 1)
    with reverts("CertificateExpired", certificate_id, valid_until):
        ledger.dispatch(*statement.args, {"from": relayer})


def test_certificate_valid_on_its_last_second(
    ledger, shipper, receiver, lot, permit, short_certificate, dispatch
):
    certificate_id, valid_until = short_certificate
    move_to(valid_until)
    tx = dispatch(shipper, receiver, lot, permit, certificates=[certificate_id], deadline=valid_until + DAY)
    assert tx.timestamp == valid_until
    assert dispatched_certificates(tx) == (certificate_id,)


@pytest.mark.parametrize("bad", ["another-lot", "unknown", "revoked", "expired"])
def test_second_certificate_bad(
    ledger,
    relayer,
    shipper,
    receiver,
    lab,
    lot,
    other_lot,
    permit,
    accreditation,
    issue_certificate,
    revoke_certificate,
    signed_dispatch,
    bad,
):
    # Every cited certificate is checked, not only the first.
    valid_until = chain[-1].timestamp + 30 * DAY
    good = issue_certificate(lab, lot, accreditation, validUntil=valid_until)
    if bad == "another-lot":
        second = issue_certificate(lab, other_lot, accreditation)
        error = ("CertificateNotForLot", second, lot)
    elif bad == "unknown":
        second = b"\x42" * 32
        error = ("CertificateNotForLot", second, lot)
    elif bad == "revoked":
        second = issue_certificate(lab, lot, accreditation)
        revoke_certificate(lab, second, lot)
        error = ("RevokedCertificate", second)
    else:
        second = issue_certificate(lab, lot, accreditation, validUntil=valid_until - DAY)
        error = ("CertificateExpired", second, valid_until - DAY)
    statement = signed_dispatch(
        shipper, receiver, lot, permit, certificates=[good, second], deadline=valid_until + DAY
    )
    if bad == "expired":
        move_to(valid_until - DAY + 1)
    with reverts(*error):
        ledger.dispatch(*statement.args, {"from": relayer})
    assert plain(ledger.lot(lot))[1] == LOT_QUANTITY


def test_received_lot_cannot_cite_its_source_lots_certificate(
    ledger,
    relayer,
    register,
    shipper,
    receiver,
    slag,
    lab,
    lot,
    permit,
    accreditation,
    certificate,
    register_permit,
    dispatch,
    receive,
    issue_certificate,
    signed_dispatch,
):
    """A certifies its lot and ships part of it to B; B's lot (a new id) needs a certificate of its own."""
    b = new_party()
    register(b, SHIPPER | RECEIVER)
    b_permit = register_permit(b, [(slag.key, SLAG_OPERATIONS)])
    first = dispatch(shipper, b, lot, b_permit, certificates=[certificate]).events["TransferDispatched"][
        "transferId"
    ]
    receive(first, b)

    statement = signed_dispatch(b, receiver, first, permit, certificates=[certificate])
    with reverts("CertificateNotForLot", certificate, first):
        ledger.dispatch(*statement.args, {"from": relayer})

    own = issue_certificate(lab, first, accreditation)
    tx = dispatch(b, receiver, first, permit, certificates=[own], quantity=10_000)
    assert dispatched_certificates(tx) == (own,)


@pytest.mark.parametrize("tampering", ["added", "dropped", "swapped", "reordered", "duplicated"])
def test_certificates_tampered_after_signing(
    ledger,
    relayer,
    shipper,
    receiver,
    lab,
    lot,
    permit,
    accreditation,
    issue_certificate,
    signed_dispatch,
    tampering,
):
    # Every submitted list passes the certificate checks, so only the signature can refuse it.
    first = bytes(issue_certificate(lab, lot, accreditation))
    second = bytes(issue_certificate(lab, lot, accreditation))
    signed, submitted = {
        "added": ([first], [first, second]),
        "dropped": ([first, second], [first]),
        "swapped": ([first], [second]),
        "reordered": ([first, second], [second, first]),
        "duplicated": ([first], [first, first]),
    }[tampering]
    statement = signed_dispatch(shipper, receiver, lot, permit, certificates=signed)
    with reverts("InvalidSignature", shipper.address):
        ledger.dispatch(*statement.tampered(certificates=submitted), {"from": relayer})
    ledger.dispatch(*statement.args, {"from": relayer})  # as signed, it passes


def test_certificate_outlives_the_labs_standing(
    ledger,
    shipper,
    receiver,
    lab,
    lot,
    permit,
    accreditation,
    certificate,
    set_status,
    revoke_permit,
    dispatch,
):
    # A dispatch asks that each certificate be bound to the lot, unrevoked and unexpired; the lab's later
    # suspension or the revocation of its accreditation does not withdraw what it certified before.
    set_status(lab, True)
    revoke_permit(accreditation)
    tx = dispatch(shipper, receiver, lot, permit, certificates=[certificate])
    assert dispatched_certificates(tx) == (certificate,)
