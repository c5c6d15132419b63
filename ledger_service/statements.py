"""The EIP-712 statements parties sign, mirrored from the contracts' type hashes.

Pure code (no I/O): it builds `eth_signTypedData_v4` JSON, hashes it and recovers signers. Integers
in a message are written as decimal strings so that JavaScript wallets read uint256 values exactly.
"""

import functools
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_typing import ChecksumAddress
from eth_utils import keccak, to_checksum_address

from ledger_service import eip712


@functools.lru_cache(maxsize=8192)
def checksummed(address: str) -> ChecksumAddress:
    """to_checksum_address, remembered: it hashes the address (keccak) every time, and the same few
    parties' and contracts' addresses come by thousands in a batch and in its events."""
    return to_checksum_address(address)


DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


@dataclass(frozen=True)
class Statement:
    """One kind of signed statement: its EIP-712 type and who signs it."""

    primary_type: str
    signer_field: str
    fields: tuple[tuple[str, str], ...]
    # Struct types the fields refer to, e.g. {"Coverage": (("codeKey", "bytes32"), ...)}.
    structs: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    # Whether the contract consumes the nonce (statements that change existing state); a statement that
    # creates a record keyed by its digest is replay-proof by that record, its nonce is only a salt.
    consumes_nonce: bool = False
    # The EIP-712 domain (name, version) of the contract that verifies it: the ledger's, or a module's (a
    # name of at most 31 bytes: OpenZeppelin's EIP712 keeps it in an immutable then).
    domain: tuple[str, str] = ("SymbiosisLedger", "1")

    def types(self) -> dict[str, list[dict[str, str]]]:
        types = {"EIP712Domain": DOMAIN_TYPE}
        types[self.primary_type] = [{"name": n, "type": t} for n, t in self.fields]
        for name, fields in self.structs:
            types[name] = [{"name": n, "type": t} for n, t in fields]
        return types

    def struct_fields(self, struct: str) -> tuple[tuple[str, str], ...]:
        return dict(self.structs)[struct]


REGISTER_PARTICIPANT = Statement(
    "RegisterParticipant",
    "regulator",
    (
        ("regulator", "address"),
        ("participant", "address"),
        ("roles", "uint16"),
        ("legalName", "string"),
        ("enterpriseId", "string"),
        ("park", "string"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    ),
    consumes_nonce=True,
)
SET_PARTICIPANT_STATUS = Statement(
    "SetParticipantStatus",
    "regulator",
    (
        ("regulator", "address"),
        ("participant", "address"),
        ("suspended", "bool"),
        ("reason", "string"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    ),
    consumes_nonce=True,
)
REGISTER_WASTE_CODE = Statement(
    "RegisterWasteCode",
    "regulator",
    (
        ("regulator", "address"),
        ("scheme", "string"),
        ("code", "string"),
        ("unit", "string"),
        ("hazardous", "bool"),
        ("description", "string"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    ),
    consumes_nonce=True,
)
REGISTER_PERMIT = Statement(
    "RegisterPermit",
    "regulator",
    (
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
    ),
    structs=(("Coverage", (("codeKey", "bytes32"), ("operations", "uint32"))),),
    consumes_nonce=True,
)
REVOKE_PERMIT = Statement(
    "RevokePermit",
    "regulator",
    (
        ("regulator", "address"),
        ("permitId", "bytes32"),
        ("reason", "string"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    ),
    consumes_nonce=True,
)
REGISTER_LOT = Statement(
    "RegisterLot",
    "generator",
    (
        ("generator", "address"),
        ("wasteScheme", "string"),
        ("wasteCode", "string"),
        ("quantity", "uint64"),
        ("unit", "string"),
        ("documentHash", "bytes32"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    ),
)
DISPATCH = Statement(
    "Dispatch",
    "shipper",
    (
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
    ),
)
ISSUE_CERTIFICATE = Statement(
    "IssueCertificate",
    "lab",
    (
        ("lab", "address"),
        ("lotId", "bytes32"),
        ("accreditationId", "bytes32"),
        ("documentHash", "bytes32"),
        ("resultsHash", "bytes32"),
        ("validUntil", "uint64"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    ),
)
REVOKE_CERTIFICATE = Statement(
    "RevokeCertificate",
    "lab",
    (
        ("lab", "address"),
        ("certificateId", "bytes32"),
        ("lotId", "bytes32"),
        ("reason", "string"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    ),
    # Not consumed: a revocation is final, its record stops a replay (the nonce only makes it unique).
)
_LEG = (
    ("transferId", "bytes32"),
    ("transporter", "address"),
    ("leg", "uint8"),
    ("deadline", "uint256"),
)
PICK_UP = Statement("PickUp", "transporter", _LEG)
DELIVERY = Statement("Delivery", "transporter", _LEG)
RECEIPT = Statement(
    "Receipt",
    "receiver",
    (
        ("transferId", "bytes32"),
        ("receiver", "address"),
        ("receivedQuantity", "uint64"),
        ("deadline", "uint256"),
    ),
)

STATEMENTS = {
    s.primary_type: s
    for s in (
        REGISTER_PARTICIPANT,
        SET_PARTICIPANT_STATUS,
        REGISTER_WASTE_CODE,
        REGISTER_PERMIT,
        REVOKE_PERMIT,
        REGISTER_LOT,
        ISSUE_CERTIFICATE,
        REVOKE_CERTIFICATE,
        DISPATCH,
        PICK_UP,
        DELIVERY,
        RECEIPT,
    )
}


def code_key(scheme: str, code: str) -> str:
    """The contracts' key of a waste code: keccak256(abi.encode(keccak256(scheme), keccak256(code)))."""
    return "0x" + keccak(keccak(text=scheme) + keccak(text=code)).hex()


def permit_id(permit_number: str) -> str:
    """The contracts' id of a permit: keccak256 of its number as issued."""
    return "0x" + keccak(text=permit_number).hex()


def normalise_message(statement: Statement, message: dict[str, Any]) -> dict[str, Any]:
    """The message in canonical JSON form: checksummed addresses, lower-case hex, integers as strings."""
    return _normalise(statement, statement.fields, message)


def _normalise(
    statement: Statement, fields: tuple[tuple[str, str], ...], message: dict[str, Any]
) -> dict[str, Any]:
    return {name: _normalise_value(statement, typ, message[name]) for name, typ in fields}


def _normalise_value(statement: Statement, typ: str, value: Any) -> Any:
    if typ.endswith("[]"):
        return [_normalise_value(statement, typ[:-2], item) for item in value]
    if typ in dict(statement.structs):
        return _normalise(statement, statement.struct_fields(typ), value)
    if typ == "address":
        return checksummed(value)
    if typ.startswith(("uint", "int")):  # int64: a correction's signed deltas
        return str(int(value))
    if typ == "bytes32":
        return value.lower() if isinstance(value, str) else "0x" + bytes(value).hex()
    return value


def typed_data(
    statement: Statement, chain_id: int, verifying_contract: str, message: dict[str, Any]
) -> dict[str, Any]:
    """The `eth_signTypedData_v4` payload a party signs for `message`."""
    return {
        "types": statement.types(),
        "primaryType": statement.primary_type,
        "domain": {
            "name": statement.domain[0],
            "version": statement.domain[1],
            "chainId": chain_id,
            "verifyingContract": checksummed(verifying_contract),
        },
        "message": normalise_message(statement, message),
    }


def statement_digest(
    statement: Statement, chain_id: int, verifying_contract: str, message: dict[str, Any]
) -> bytes:
    """`digest(typed_data(statement, chain_id, verifying_contract, message))`, from the statement's own
    definition: its type hashes are worked out once (ledger_service.eip712), where eth_account's general
    encoder derives them from the payload on every call."""
    domain = (*statement.domain, chain_id, checksummed(verifying_contract))
    return eip712.digest(
        statement.primary_type, _types(statement), domain, normalise_message(statement, message)
    )


def _types(statement: Statement) -> eip712.Types:
    return ((statement.primary_type, statement.fields), *statement.structs)


def digest(payload: dict[str, Any]) -> bytes:
    """The EIP-712 digest of any typed-data payload (what the signature covers), by eth_account."""
    signable = encode_typed_data(full_message=payload)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def recover_signer(payload: dict[str, Any], signature: bytes) -> str | None:
    """The address whose key produced `signature` over `payload`, or None if it is no valid signature."""
    try:
        return Account.recover_message(encode_typed_data(full_message=payload), signature=signature)
    except Exception:  # malformed signatures raise several unrelated exception types
        return None


# --- rejections, returns and corrections (svc-workflows) ----------------------------------------------

REJECTION = Statement(
    "Rejection",
    "receiver",
    (
        ("transferId", "bytes32"),
        ("receiver", "address"),
        ("acceptedQuantity", "uint64"),
        ("rejectedQuantity", "uint64"),
        ("reason", "string"),
        ("returnTo", "address"),
        ("returnPermitId", "bytes32"),
        ("returnOperation", "string"),
        ("deadline", "uint256"),
    ),
)
# Signed by the proposer, then the very same statement by the counterparty (who is named by the transfer,
# not by the message); only the proposal consumes the nonce.
CORRECTION = Statement(
    "Correction",
    "proposer",
    (
        ("transferId", "bytes32"),
        ("proposer", "address"),
        ("shippedDelta", "int64"),
        ("receivedDelta", "int64"),
        ("documentHash", "bytes32"),
        ("reason", "string"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    ),
    consumes_nonce=True,
)
STATEMENTS.update({s.primary_type: s for s in (REJECTION, CORRECTION)})
ZERO_BYTES32 = "0x" + "00" * 32


def struct_encoding(statement: Statement, message: dict[str, Any]) -> list[str]:
    """The EIP-712 encodeData of a statement whose members are atomic or arrays of atomic values, as 32-byte
    words in hex: its type hash, then each member (strings and arrays as their hashes). The ledger takes a
    dispatch's encoding as the proof of its parties when a transfer is rejected or corrected."""
    words = eip712.encode_data(
        statement.primary_type, _types(statement), normalise_message(statement, message)
    )
    return ["0x" + w.hex() for w in words]


def struct_digest(chain_id: int, verifying_contract: str, statement: Statement, encoding: list[str]) -> str:
    """The EIP-712 digest of a statement given as its encoding: how the ledger checks an encoding."""
    struct_hash = keccak(b"".join(bytes.fromhex(w[2:]) for w in encoding))
    domain = (*statement.domain, chain_id, checksummed(verifying_contract))
    return "0x" + eip712.signed_digest(domain, struct_hash).hex()


def countersignature_key(correction_id: str, counterparty: str) -> bytes:
    """The outbox's key of a countersignature: the statement's own digest is its proposal's key."""
    return keccak(bytes.fromhex(correction_id[2:]) + bytes.fromhex(checksummed(counterparty)[2:]))


# --- processing and metered flows ----------------------------------------------------------------------
# Statements verified by the modules beside the ledger, each under its contract's own EIP-712 domain.

PROCESSING_DOMAIN = ("SymbiosisProcessing", "1")
METERED_FLOWS_DOMAIN = ("SymbiosisMeteredFlows", "1")

RECORD_PROCESSING = Statement(
    "RecordProcessing",
    "processor",
    (
        ("processor", "address"),
        ("inputs", "LotInput[]"),
        ("externalInputs", "ExternalInput[]"),
        ("outputs", "ProcessOutput[]"),
        ("lossGrams", "uint64"),
        ("lossDescription", "string"),
        ("documentHash", "bytes32"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    ),
    structs=(
        (
            "LotInput",
            (
                ("lotId", "bytes32"),
                ("codeKey", "bytes32"),
                ("quantity", "uint64"),
                ("gramsPerUnit", "uint32"),
            ),
        ),
        ("ExternalInput", (("material", "string"), ("grams", "uint64"), ("documentHash", "bytes32"))),
        (
            "ProcessOutput",
            (("kind", "uint8"), ("codeKey", "bytes32"), ("quantity", "uint64"), ("gramsPerUnit", "uint32")),
        ),
    ),
    domain=PROCESSING_DOMAIN,
)
DECLARE_USE = Statement(
    "DeclareUse",
    "holder",
    (
        ("holder", "address"),
        ("lotId", "bytes32"),
        ("quantity", "uint64"),
        ("use", "string"),
        ("documentHash", "bytes32"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    ),
    consumes_nonce=True,
    domain=PROCESSING_DOMAIN,
)
# Signed by both parties (the supplier's signature travels as the submission's, the offtaker's beside it).
REGISTER_FLOW = Statement(
    "RegisterFlow",
    "supplier",
    (
        ("supplier", "address"),
        ("offtaker", "address"),
        ("medium", "string"),
        ("unit", "string"),
        ("meterId", "bytes32"),
        ("periodSeconds", "uint32"),
        ("firstPeriodStart", "uint64"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    ),
    domain=METERED_FLOWS_DOMAIN,
)
# Signed by both parties for each period; it is never submitted alone, only inside an AnchorPeriods batch.
METER_PERIOD = Statement(
    "MeterPeriod",
    "",
    (("flowId", "bytes32"), ("period", "uint32"), ("quantity", "uint64"), ("readingHash", "bytes32")),
    domain=METERED_FLOWS_DOMAIN,
)
# Not a statement anyone signs: the anchorPeriods call (flow, first period, periods with both parties'
# compact signatures) in the outbox's terms, so a batch is kept and relayed like any signed statement.
# Its typed-data digest under the MeteredFlows domain is the batch's id in the outbox; `supplier` names
# whose periods they are (the outbox files each entry under a party) and is not an argument of the call.
ANCHOR_PERIODS = Statement(
    "AnchorPeriods",
    "supplier",
    (("supplier", "address"), ("flowId", "bytes32"), ("firstPeriod", "uint32"), ("periods", "Period[]")),
    structs=(
        (
            "Period",
            (
                ("quantity", "uint64"),
                ("readingHash", "bytes32"),
                ("supplierR", "bytes32"),
                ("supplierVs", "bytes32"),
                ("offtakerR", "bytes32"),
                ("offtakerVs", "bytes32"),
            ),
        ),
    ),
    domain=METERED_FLOWS_DOMAIN,
)
STATEMENTS.update(
    {s.primary_type: s for s in (RECORD_PROCESSING, DECLARE_USE, REGISTER_FLOW, ANCHOR_PERIODS)}
)

# Processing.OutputKind, as the API and the read model name its values (index = the contract's value).
OUTPUT_KINDS = ("none", "product", "by_product", "residue")
SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


def output_lot_id(processing_id: str, index: int) -> str:
    """The ledger lot a processing's output `index` opens: keccak256(abi.encode(processingId, index))."""
    return "0x" + keccak(bytes.fromhex(processing_id[2:]) + index.to_bytes(32, "big")).hex()


def compact_signature(signature: bytes) -> tuple[str, str]:
    """(r, vs) of a signature per ERC-2098; a 64-byte one is compact already, a 65-byte one (r, s, v) is
    folded: vs = s with v - 27 in its top bit. Raises ValueError for any other length or a high s."""
    if len(signature) == 64:
        return "0x" + signature[:32].hex(), "0x" + signature[32:].hex()
    if len(signature) != 65:
        raise ValueError(f"a signature has 64 (compact) or 65 bytes, not {len(signature)}")
    s, v = int.from_bytes(signature[32:64], "big"), signature[64]
    v = v + 27 if v in (0, 1) else v
    if v not in (27, 28):
        raise ValueError(f"recovery byte v is {signature[64]}, not 27 or 28")
    if s > SECP256K1_HALF_N:  # the contract refuses the malleable (high-s) form of a signature
        raise ValueError("s is in the upper half of the curve order (a malleable signature)")
    return "0x" + signature[:32].hex(), "0x" + ((v - 27) << 255 | s).to_bytes(32, "big").hex()


def expand_signature(r: str, vs: str) -> bytes:
    """The 65-byte (r, s, v) form of a compact (r, vs) signature."""
    vs_int = int(vs, 16)
    return bytes.fromhex(r[2:]) + (vs_int & (2**255 - 1)).to_bytes(32, "big") + bytes([27 + (vs_int >> 255)])


# --- end processing and metered flows ------------------------------------------------------------------


# --- regulator actions ------------------------------------------------------------------------------
# Verified by the RegulatorActions contract beside the ledger, under its own EIP-712 domain.

REGULATOR_ACTIONS_DOMAIN = ("SymbiosisRegulatorActions", "1")

# A regulator asks the parties of a transfer to correct its record; the nonce is consumed, so the regulator
# may ask again about the same transfer with another one.
CORRECTION_REQUEST = Statement(
    "CorrectionRequest",
    "regulator",
    (
        ("regulator", "address"),
        ("transferId", "bytes32"),
        ("reason", "string"),
        ("reportHash", "bytes32"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    ),
    consumes_nonce=True,
    domain=REGULATOR_ACTIONS_DOMAIN,
)
STATEMENTS[CORRECTION_REQUEST.primary_type] = CORRECTION_REQUEST

# --- end regulator actions --------------------------------------------------------------------------
