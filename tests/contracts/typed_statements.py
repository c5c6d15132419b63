"""EIP-712 statements as the parties sign them, and the custom errors the contracts answer with.

Plain functions and constants shared by conftest.py and the test modules (fixtures live in conftest.py).
The typed data is built as standard `eth_signTypedData_v4` JSON, the form a wallet or the ledger service
signs, so a mismatch between these field lists and the contracts' type hashes shows up as InvalidSignature.
Statements may hold structs and arrays of structs (a permit's coverage): the message then holds dicts, the
typed data lists the referenced struct types, and the tuple passed to the contract nests tuples. An array of
atomic values (a dispatch's certificate ids) is a plain list.
"""

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import NamedTuple

import brownie
from brownie import SymbiosisLedger, chain, web3
from brownie.exceptions import decode_typed_error
from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

# Role bits, as SymbiosisLedger's constants (custody/Participants.sol).
REGULATOR, PARK_OPERATOR, SHIPPER, RECEIVER, TRANSPORTER, LAB = (1 << i for i in range(6))
ALL_ROLES = (1 << 6) - 1
# SymbiosisLedger keeps quantities within uint56, so that a transfer's receiver, status, quantity and waste
# code share one storage slot (and a SQL read model's int64 holds any of them).
MAX_QUANTITY = 2**56 - 1
ZERO_ADDRESS = "0x" + "00" * 20
ZERO_BYTES32 = b"\x00" * 32  # a transporter's licence where none is required
MAX_LEGS = 8  # transport legs a dispatch may name
DOCUMENT_HASH = bytes.fromhex("5e" * 32)  # stands for the SHA-256 of the transfer document
GENERATION_RECORD = bytes.fromhex("9e" * 32)  # stands for the SHA-256 of a lot's generation record
CERTIFICATE_DOCUMENT = bytes.fromhex("ce" * 32)  # stands for the SHA-256 of a certificate of analysis
CERTIFICATE_RESULTS = bytes.fromhex("7e" * 32)  # stands for the SHA-256 of the certificate's results
LOT_QUANTITY = 80_000  # what the `lot` fixture generates, in kilograms
SHIPPED = 12_500  # what a dispatch ships unless told otherwise
# A permit's operations for one waste code: bit i-1 for R1..R13, bit 12+i for D1..D15 (IPermitRegistry).
ALL_OPERATIONS = (1 << 28) - 1


def r_operation(i):
    """The operations bit of recovery operation R<i> (i = 1..13)."""
    return 1 << (i - 1)


def d_operation(i):
    """The operations bit of disposal operation D<i> (i = 1..15)."""
    return 1 << (12 + i)


def operation_bit(operation):
    """The operations bit of an operation code as a dispatch names it ("R5", "D10")."""
    kind, number = operation[0], int(operation[1:])
    return r_operation(number) if kind == "R" else d_operation(number)


# Every operation code a dispatch may name, in bit order.
OPERATIONS = [f"R{i}" for i in range(1, 14)] + [f"D{i}" for i in range(1, 16)]


def operation_index(operation):
    """The index of an operation's bit (0..12 for R1..R13, 13..27 for D1..D15), as TransferDispatched carries it."""
    return OPERATIONS.index(operation)


def utc_year(timestamp):
    """The UTC calendar year of a unix time: the year a permit's capacity is counted in."""
    return datetime.fromtimestamp(timestamp, UTC).year


def utc_timestamp(year, month=1, day=1, hour=0, minute=0, second=0):
    """The unix time of a UTC date and time."""
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp())


# Waste codes the contract tests register, as catalogue entries: (scheme, code, unit, hazardous, description).
SLAG = ("EU-LOW", "10 02 02", "KGM", False, "unprocessed slag")
WASTE_OIL = (
    "EU-LOW",
    "13 02 05*",
    "LTR",
    True,
    "mineral-based non-chlorinated engine, gear and lubricating oils",
)
# What the `permit` fixture allows: slag for metal recovery or as aggregate (R4, R5); waste oil for
# re-refining (R9), storage pending it (R13) or incineration on land (D10).
SLAG_OPERATIONS = r_operation(4) | r_operation(5)
OIL_OPERATIONS = r_operation(9) | r_operation(13) | d_operation(10)


class CatalogueCode(NamedTuple):
    """A registered waste code: its key and its catalogue id."""

    key: bytes
    id: int


class ParticipantStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2


class TransferStatus(IntEnum):
    """Without transport legs: DISPATCHED -> RECEIVED. With legs: AWAITING_PICK_UP -> IN_TRANSIT (first pick-up,
    and between legs) -> DELIVERED (last delivery) -> RECEIVED. Instead of RECEIVED: PARTIALLY_REJECTED or
    REJECTED, the refused part leaving as a RETURNING transfer (-> RECEIVED). A correction changes no status."""

    NONE = 0
    DISPATCHED = 1
    AWAITING_PICK_UP = 2
    IN_TRANSIT = 3
    DELIVERED = 4
    RECEIVED = 5
    PARTIALLY_REJECTED = 6
    REJECTED = 7
    RETURNING = 8


class Unit(IntEnum):
    """IPermitRegistry.Unit; statements name units by their UN/CEFACT codes (UNIT_CODES)."""

    KILOGRAM = 0
    LITRE = 1
    KILOWATT_HOUR = 2


UNIT_CODES = {"KGM": Unit.KILOGRAM, "LTR": Unit.LITRE, "KWH": Unit.KILOWATT_HOUR}


class PermitKind(IntEnum):
    NONE = 0
    ENVIRONMENTAL_PERMIT = 1
    HAZARDOUS_WASTE_TRANSPORT_LICENCE = 2
    LAB_ACCREDITATION = 3


# EIP-712 domain (name, version) of each contract, keyed by contract name; the same as the service's
# ledger_service/statements.py. OpenZeppelin 5.7's EIP712 refuses names over 31 bytes at deployment.
DOMAINS = {
    "SymbiosisLedger": ("SymbiosisLedger", "1"),
    # The gas benchmark's baseline (contracts/baseline), never deployed.
    "NaiveTransferLedger": ("Naive Transfer Ledger", "1"),
}

# Field for field, in the order of the contracts' type hashes (and of their Solidity structs, so the
# same list also gives the tuple brownie passes as the struct argument). Statements and the struct types
# they reference (Coverage) alike.
TYPES = {
    "RegisterParticipant": [
        ("regulator", "address"),
        ("participant", "address"),
        ("roles", "uint16"),
        ("legalName", "string"),
        ("enterpriseId", "string"),
        ("park", "string"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    ],
    "SetParticipantStatus": [
        ("regulator", "address"),
        ("participant", "address"),
        ("suspended", "bool"),
        ("reason", "string"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    ],
    "RegisterLot": [
        ("generator", "address"),
        ("wasteScheme", "string"),
        ("wasteCode", "string"),
        ("quantity", "uint64"),
        ("unit", "string"),
        ("documentHash", "bytes32"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    ],
    "Dispatch": [
        ("shipper", "address"),
        ("receiver", "address"),
        ("lotId", "bytes32"),
        ("quantity", "uint64"),
        ("operation", "string"),
        ("permitId", "bytes32"),
        ("certificates", "bytes32[]"),
        ("transporters", "address[]"),
        ("licences", "bytes32[]"),
        ("documentHash", "bytes32"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    ],
    # A leg's transporter signs these (no nonce: each leg is picked up and delivered once); both are the
    # contract's Leg struct.
    "PickUp": [
        ("transferId", "bytes32"),
        ("transporter", "address"),
        ("leg", "uint8"),
        ("deadline", "uint256"),
    ],
    "Delivery": [
        ("transferId", "bytes32"),
        ("transporter", "address"),
        ("leg", "uint8"),
        ("deadline", "uint256"),
    ],
    "Receipt": [
        ("transferId", "bytes32"),
        ("receiver", "address"),
        ("receivedQuantity", "uint64"),
        ("deadline", "uint256"),
    ],
    "Rejection": [
        ("transferId", "bytes32"),
        ("receiver", "address"),
        ("acceptedQuantity", "uint64"),
        ("rejectedQuantity", "uint64"),
        ("reason", "string"),
        ("returnTo", "address"),
        ("returnPermitId", "bytes32"),
        ("returnOperation", "string"),
        ("deadline", "uint256"),
    ],
    "Correction": [
        ("transferId", "bytes32"),
        ("proposer", "address"),
        ("shippedDelta", "int64"),
        ("receivedDelta", "int64"),
        ("documentHash", "bytes32"),
        ("reason", "string"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    ],
    "RegisterWasteCode": [
        ("regulator", "address"),
        ("scheme", "string"),
        ("code", "string"),
        ("unit", "string"),
        ("hazardous", "bool"),
        ("description", "string"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    ],
    "RegisterPermit": [
        ("regulator", "address"),
        ("permitNumber", "string"),
        ("holder", "address"),
        ("kind", "uint8"),
        ("coverage", "Coverage[]"),
        ("yearlyCapacity", "uint64"),
        ("validFrom", "uint64"),
        ("validUntil", "uint64"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    ],
    "Coverage": [
        ("codeKey", "bytes32"),
        ("operations", "uint32"),
    ],
    "RevokePermit": [
        ("regulator", "address"),
        ("permitId", "bytes32"),
        ("reason", "string"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    ],
    "IssueCertificate": [
        ("lab", "address"),
        ("lotId", "bytes32"),
        ("accreditationId", "bytes32"),
        ("documentHash", "bytes32"),
        ("resultsHash", "bytes32"),
        ("validUntil", "uint64"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    ],
    "RevokeCertificate": [
        ("lab", "address"),
        ("certificateId", "bytes32"),
        ("lotId", "bytes32"),
        ("reason", "string"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    ],
}

_EIP712_DOMAIN = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]

# Nonces are unordered bitmaps in the contracts, so any unused value works: one counter for every
# signer keeps each statement's nonce fresh without per-party bookkeeping.
_nonces = itertools.count(1)


def next_nonce():
    return next(_nonces)


def code_key(scheme, code):
    """A waste code's key in the catalogue: keccak256(abi.encode(keccak256(scheme), keccak256(code)))."""
    return keccak(encode(["bytes32", "bytes32"], [keccak(text=scheme), keccak(text=code)]))


def coverage(*entries):
    """A permit's coverage from (code key, operations) pairs, as the RegisterPermit message holds it."""
    return [{"codeKey": key, "operations": operations} for key, operations in entries]


def address_of(party):
    """A party's address, given its key (LocalAccount) or the address itself."""
    return getattr(party, "address", party)


def transporters_hash(transporters):
    """What the carriage view holds of a dispatch's transporters: keccak256(abi.encodePacked(address[]))
    (each address padded to 32 bytes), cut to its first 28 bytes."""
    return keccak(b"".join(encode(["address"], [address_of(t)]) for t in transporters))[:28]


def leg_args(statement, transporters, **changes):
    """Arguments of pickUp/deliver for a signed PickUp or Delivery `statement`: the Leg struct (with
    `changes` applied after signing), the dispatch's transporter list, the signature."""
    return (statement.struct(**changes), [address_of(t) for t in transporters], statement.signature)


def permit_id(permit_number):
    """A permit's id: keccak256 of its number as issued."""
    return keccak(text=permit_number)


def deadline_in(seconds):
    """A deadline `seconds` after the latest block (negative: already passed when the next block is mined)."""
    return chain[-1].timestamp + seconds


def dispatched_per_year(ledger, permit_id_, from_block=0):
    """{UTC year: quantity} dispatched under `permit_id_`, summed from the ledger's TransferDispatched events.

    capacityUsed reads only the year of the permit's latest dispatch (an earlier year reads 0 once a later
    one has started): an earlier year's figure is in the events, as a read model would keep it.
    """
    totals = {}
    for log in ledger.events.get_sequence(from_block, event_type="TransferDispatched"):
        if bytes(log.args.permitId) == bytes(permit_id_):
            year = utc_year(web3.eth.get_block(log.blockNumber).timestamp)
            totals[year] = totals.get(year, 0) + log.args.quantity
    return totals


def set_next_block_time(timestamp):
    """Makes the next block (and the calls estimated against it) carry exactly `timestamp`.

    chain.mine(timestamp=...) only fixes the mined block; the next one lands at that time plus the wall
    clock's advance, which an exact PermitNotValid(…, time) or calendar-year boundary cannot allow.
    """
    web3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])


def new_party():
    """A fresh key for a regulator or firm: it holds no ether and only ever signs."""
    return Account.create()


def _struct_name(type_):
    """The struct type named by `type_` ("Coverage" for "Coverage[]"), or None for an atomic type."""
    name = type_.removesuffix("[]")
    return name if name in TYPES else None


def referenced_types(primary_type):
    """`primary_type` and every struct type its fields use, directly or not, as eth_signTypedData_v4 `types`."""
    found, pending = {}, [primary_type]
    while pending:
        name = pending.pop()
        if name not in found:
            found[name] = [{"name": n, "type": t} for n, t in TYPES[name]]
            pending += [s for _, t in TYPES[name] if (s := _struct_name(t))]
    return found


def typed_data(contract, primary_type, message, chain_id=None):
    """The eth_signTypedData_v4 JSON of `message` for `contract`'s domain (`chain_id` overrides the chain)."""
    name, version = DOMAINS[contract._name]
    return {
        "types": {"EIP712Domain": _EIP712_DOMAIN, **referenced_types(primary_type)},
        "primaryType": primary_type,
        "domain": {
            "name": name,
            "version": version,
            "chainId": chain.id if chain_id is None else chain_id,
            "verifyingContract": contract.address,
        },
        "message": message,
    }


def eip712_digest(full_message):
    """The digest a signer signs (and the contracts return as a statement id): keccak(0x1901 ‖ domain ‖ struct)."""
    signable = encode_typed_data(full_message=full_message)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


@dataclass(frozen=True)
class Signed:
    """A signed statement, ready for a relayer to submit as `fn(*signed.args, {"from": relayer})`."""

    primary_type: str
    message: dict
    signature: bytes
    digest: bytes

    def struct(self, **changes):
        """The statement as the tuple brownie passes for the Solidity struct, with `changes` applied."""
        return abi_value(self.primary_type, {**self.message, **changes})

    @property
    def args(self):
        return (self.struct(), self.signature)

    def tampered(self, **changes):
        """Arguments for submitting a statement altered after signing (the signature is kept as is)."""
        return (self.struct(**changes), self.signature)


def _encode_member(type_, value):
    if type_ in ("string", "bytes"):
        return keccak(value.encode() if isinstance(value, str) else bytes(value))
    if type_.endswith("[]"):
        return keccak(b"".join(_encode_member(type_[:-2], item) for item in value))
    return encode([type_], [value])


def struct_encoding(primary_type, message):
    """The EIP-712 encodeData of a statement whose members are atomic or arrays of atomic values, as 32-byte
    words: its type hash, then each member (strings and arrays as their hashes). The contracts take a
    dispatch's encoding as proof of its parties (SymbiosisLedger's reject and corrections)."""
    fields = ",".join(f"{t} {n}" for n, t in TYPES[primary_type])
    words = [keccak(text=f"{primary_type}({fields})")]
    words += [_encode_member(t, message[n]) for n, t in TYPES[primary_type]]
    return words


def abi_value(type_, value):
    """`value` of EIP-712 type `type_` as brownie passes it: a struct (dict) as the tuple of its fields."""
    if type_.endswith("[]"):
        return [abi_value(type_[:-2], item) for item in value]
    if type_ in TYPES:
        return tuple(abi_value(t, value[n]) for n, t in TYPES[type_])
    return value


def sign(signer, contract, primary_type, message, chain_id=None):
    """`signer` (a LocalAccount) signs `message` as a `primary_type` statement for `contract`."""
    full_message = typed_data(contract, primary_type, message, chain_id)
    signed = Account.sign_typed_data(signer.key, full_message=full_message)
    return Signed(primary_type, message, bytes(signed.signature), eip712_digest(full_message))


def _error_abi(name):
    # SymbiosisLedger raises its modules' and its interfaces' errors alike; the contracts deployed beside it
    # (contracts/flows, contracts/processing) raise their own. An error name means one error in this project.
    contracts = brownie.project.get_loaded_projects()[0]
    for container in [SymbiosisLedger, *(c for c in contracts if c is not SymbiosisLedger)]:
        for item in container.abi:
            if item["type"] == "error" and item["name"] == name:
                return item
    raise KeyError(f"no custom error {name!r} in the project's ABIs")


def custom_error(name, *args):
    """brownie's revert message for the custom error `name` raised with `args`.

    brownie 1.22 keeps no raw revert data on VirtualMachineError; it decodes the data into a message
    ("MissingRole: 0xabc…, 1"). Encoding the expected error (selector and arguments) and decoding it with
    the same function gives the exact message, so a match means the same error with the same arguments.
    """
    return decode_typed_error("0x" + error_data(name, *args).hex())


def error_data(name, *args):
    """The revert data of custom error `name` raised with `args`: its selector and ABI-encoded arguments."""
    abi = _error_abi(name)
    types = [i["type"] for i in abi["inputs"]]
    selector = keccak(text=f"{name}({','.join(types)})")[:4]
    return selector + encode(types, list(args))


def plain(value):
    """`value` as plain Python types, for comparing what brownie returns with expected values.

    brownie's compiled return types refuse some comparisons (Wei with an IntEnum, a bytes32 HexString
    with raw bytes); converting first keeps the assertions exact and readable.
    """
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(plain(v) for v in value)
    for kind in (bool, int, bytes, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def reverts(name, *args):
    """Context manager: the block must revert with custom error `name` and exactly these arguments."""
    return brownie.reverts(custom_error(name, *args))


def correction_effect(dispatch, correction):
    """What a countersignature names: the correction's effect as its proposal fixed it, from the dispatch's
    and the correction's messages (the ledger's CorrectionEffect; the shipper's lot only if it moves)."""
    shipper, receiver = dispatch["shipper"], dispatch["receiver"]
    counterparty = receiver if correction["proposer"] == shipper else shipper
    return (
        correction["transferId"],
        dispatch["lotId"] if correction["shippedDelta"] else ZERO_BYTES32,
        counterparty,
        correction["shippedDelta"],
        correction["receivedDelta"],
        correction["deadline"],
    )
