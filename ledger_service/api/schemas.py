"""Request and response bodies. Field checks here name the field and the reason in every 422."""

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from eth_utils import is_hex_address
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from compliance.operations import OPERATIONS, operations_mask
from ledger_service.api.errors import TRANSFER_STATUSES
from ledger_service.roles import PermitKind, Role
from ledger_service.statements import checksummed

MAX_QUANTITY = 2**56 - 1  # the ledger contract's bound: a transfer's quantity shares a storage slot
MAX_UINT256 = 2**256 - 1


def _address(value: str) -> str:
    if not is_hex_address(value):
        raise ValueError("not an address: expected 0x followed by 40 hexadecimal digits")
    checksum = checksummed(value)
    if value != value.lower() and value[2:] != value[2:].upper() and value != checksum:
        raise ValueError("mixed-case address with a wrong EIP-55 checksum (mistyped?)")
    return checksum


Address = Annotated[str, AfterValidator(_address)]


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes (stored as UTC); an answer's times always name their zone (RFC 3339).
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# Every time in an answer: as the OpenAPI document says (format date-time), with its offset.
Utc = Annotated[datetime, AfterValidator(_utc)]
Bytes32 = Annotated[
    str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{64}$", to_lower=True), Field(examples=["0x" + "ab" * 32])
]
Signature = Annotated[
    str, StringConstraints(pattern=r"^0x([0-9a-fA-F]{2}){65,1024}$"), Field(description="0x-hex signature")
]
Quantity = Annotated[int, Field(gt=0, le=MAX_QUANTITY, description="Positive integer in the unit")]
Uint256 = Annotated[int, Field(ge=0, le=MAX_UINT256)]
WasteCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z0-9](?:[A-Z0-9 .*\-]{0,30}[A-Z0-9*])?$"),
    Field(description="Waste code as written in its scheme, e.g. '10 02 02' or 'D001'"),
]
# UN/CEFACT Recommendation 20 codes of the units quantities are declared in.
UNITS = {
    "KGM": "kilogram",
    "TNE": "tonne",
    "MTQ": "cubic metre",
    "LTR": "litre",
    "KWH": "kilowatt hour",
    "MWH": "megawatt hour",
    "GV": "gigajoule",
}


def _unit(value: str) -> str:
    if value not in UNITS:
        raise ValueError(f"unknown unit; expected a UN/CEFACT code, one of {', '.join(sorted(UNITS))}")
    return value


Unit = Annotated[str, AfterValidator(_unit)]


def _operation(value: str) -> str:
    if value not in OPERATIONS:
        raise ValueError("unknown operation; expected a recovery (R1-R13) or disposal (D1-D15) code")
    return value


Operation = Annotated[str, AfterValidator(_operation)]
Scheme = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9\-]{1,31}$"),
    Field(description="Classification scheme, e.g. 'VN-TT02-2022', 'EU-LOW', 'US-RCRA'"),
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# In a signed message every character counts: nothing is stripped, or the signature would not match.
SignedText = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def _nul_at(value: Any, path: str) -> str | None:
    """Where in a body's raw value a string holds U+0000, if anywhere."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return next((found for key, item in items if (found := _nul_at(item, f"{path}.{key}")) is not None), None)


class Strict(BaseModel):
    """A request body: unknown fields are refused, and so is U+0000 in any text (PostgreSQL cannot store it)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if (path := _nul_at(data, "")) is not None:
            raise ValueError(f"{path.lstrip('.')} contains a NUL character (U+0000), which no text may hold")
        return data


# --- OpenAPI examples: each checked against its schema and its model (tests/service/test_openapi.py) ----

_REGULATOR = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
_PARTY = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
_RECEIVER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
_LAB = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
_TRUCK = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"
_SIGNATURE = "0x" + "5a" * 64 + "1b"
_DEADLINE = 1_893_456_000  # 2030-01-01, in unix seconds as a prepared statement carries it
_LOT, _PERMIT, _CERTIFICATE = "0x" + "1a" * 32, "0x" + "2b" * 32, "0x" + "ce" * 32
_DOCUMENT, _TRANSFER = "0x" + "d0" * 32, "0x" + "7a" * 32
_CODE_KEY = "0x" + "3c" * 32


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


def _signed_example(message: dict[str, Any], **signatures: str) -> ConfigDict:
    """A submission body as the OpenAPI example: the prepared message and its signature(s). The message's
    integers are numbers here; sent back as the typed data has them (decimal strings) they are accepted too."""
    return _examples({"message": message, **(signatures or {"signature": _SIGNATURE})})


# --- prepared statements ------------------------------------------------------------------------


class PreparedStatement(BaseModel):
    statement: str = Field(description="EIP-712 primary type")
    signer: str = Field(description="The address whose signature the ledger will require")
    digest: str = Field(description="EIP-712 digest the signature covers")
    typed_data: dict[str, Any] = Field(description="eth_signTypedData_v4 payload, to sign unchanged")


class DeadlineTerms(Strict):
    deadline: datetime | None = Field(None, description="Default: now + the service's statement TTL")


class StatementTerms(DeadlineTerms):
    nonce: Uint256 | None = Field(
        None,
        description="Default: the signer's next unused nonce, or a random one where it only makes the statement unique",
    )


class RegistrationTerms(StatementTerms):
    model_config = _examples(
        {
            "regulator": _REGULATOR,
            "participant": _PARTY,
            "roles": ["SHIPPER", "RECEIVER"],
            "legal_name": "Phu My Steel JSC",
            "enterprise_id": "3501234567",
            "park": "Phu My 3",
        }
    )

    regulator: Address
    participant: Address
    roles: list[Role] = Field(min_length=1)
    legal_name: Text
    enterprise_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    park: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] = ""


class StatusTerms(StatementTerms):
    model_config = _examples(
        {"regulator": _REGULATOR, "suspended": True, "reason": "environmental permit under review"}
    )

    regulator: Address
    suspended: bool
    reason: Text


class WasteCodeTerms(StatementTerms):
    model_config = _examples(
        {
            "regulator": _REGULATOR,
            "scheme": "EU-LOW",
            "code": "10 02 02",
            "unit": "KGM",
            "hazardous": False,
            "description": "unprocessed slag",
        }
    )

    regulator: Address
    scheme: Scheme
    code: WasteCode
    unit: Unit
    hazardous: bool
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""


class CoverageTerms(Strict):
    scheme: Scheme
    code: WasteCode
    operations: list[Operation] = Field(min_length=1)


class PermitTerms(StatementTerms):
    model_config = _examples(
        {
            "regulator": _REGULATOR,
            "permit_number": "GPMT-0042/BRVT",
            "holder": _RECEIVER,
            "kind": "ENVIRONMENTAL_PERMIT",
            "coverage": [{"scheme": "EU-LOW", "code": "10 02 02", "operations": ["R5"]}],
            "yearly_capacity": 120_000_000,
            "valid_from": "2026-01-01T00:00:00Z",
            "valid_until": "2030-12-31T00:00:00Z",
        },
        {
            "regulator": _REGULATOR,
            "permit_number": "VILAS-1234",
            "holder": _LAB,
            "kind": "LAB_ACCREDITATION",
            "valid_from": "2026-01-01T00:00:00Z",
            "valid_until": "2029-01-01T00:00:00Z",
        },
    )

    regulator: Address
    permit_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    holder: Address
    kind: PermitKind
    coverage: list[CoverageTerms] = Field(
        default_factory=list, max_length=64, description="Required except for a lab accreditation"
    )
    yearly_capacity: Annotated[int, Field(ge=0, le=MAX_QUANTITY)] = 0
    valid_from: datetime
    valid_until: datetime

    @model_validator(mode="after")
    def _coverage_for_waste_handling(self) -> "PermitTerms":
        if self.kind is not PermitKind.LAB_ACCREDITATION:
            if not self.coverage:
                raise PydanticCustomError(
                    "coverage_required",
                    "coverage: a {kind} must cover at least one waste code",
                    {"kind": self.kind.value},
                )
            if self.yearly_capacity <= 0:
                raise PydanticCustomError("capacity_required", "yearly_capacity: must be a positive integer")
        return self


class CertificateTerms(StatementTerms):
    model_config = _examples(
        {
            "lab": _LAB,
            "lot_id": _LOT,
            "accreditation_id": "0x" + "ac" * 32,
            "document_hash": "0x" + "c1" * 32,
            "results_hash": "0x" + "c2" * 32,
            "valid_until": "2026-12-31T00:00:00Z",
        }
    )

    lab: Address
    lot_id: Bytes32
    accreditation_id: Bytes32
    document_hash: Bytes32
    results_hash: Bytes32
    valid_until: datetime


class CertificateRevocationTerms(StatementTerms):
    model_config = _examples(
        {"lab": _LAB, "reason": "sample mislabelled at the weighbridge"},
        {
            "lab": _REGULATOR,
            "reason": "the lab's accreditation was withdrawn before it issued this certificate",
        },
    )

    lab: Address = Field(
        description="Who signs the revocation: the lab that issued the certificate, or an active regulator"
    )
    reason: Text


class RevocationTerms(StatementTerms):
    model_config = _examples(
        {"regulator": _REGULATOR, "reason": "permit withdrawn by the provincial authority"}
    )

    regulator: Address
    reason: Text


class LotTerms(StatementTerms):
    model_config = _examples(
        {
            "generator": _PARTY,
            "waste_scheme": "EU-LOW",
            "waste_code": "10 02 02",
            "quantity": 80_000,
            "unit": "KGM",
            "document_hash": "0x" + "9e" * 32,
        }
    )

    generator: Address
    waste_scheme: Scheme
    waste_code: WasteCode
    quantity: Quantity
    unit: Unit
    document_hash: Bytes32


class DispatchTerms(StatementTerms):
    model_config = _examples(
        {
            "shipper": _PARTY,
            "receiver": _RECEIVER,
            "lot_id": _LOT,
            "quantity": 12_300,
            "operation": "R5",
            "permit_id": _PERMIT,
            "certificates": [_CERTIFICATE],
            "transporters": [_TRUCK],
            "document_hash": _DOCUMENT,
        }
    )

    shipper: Address
    receiver: Address
    lot_id: Bytes32
    quantity: Quantity
    operation: Operation
    permit_id: Bytes32
    certificates: list[Bytes32] = Field(default_factory=list, max_length=16)
    transporters: list[Address] = Field(
        default_factory=list,
        max_length=8,
        description="In order; none for a pipe or a collection by the receiver",
    )
    licences: list[Bytes32] | None = Field(
        None, description="The licence each transporter carries under (hazardous waste); default: none"
    )
    document_hash: Bytes32

    @model_validator(mode="after")
    def _a_licence_entry_per_transporter(self) -> "DispatchTerms":
        if self.licences is None:
            self.licences = ["0x" + "00" * 32] * len(self.transporters)
        elif len(self.licences) != len(self.transporters):
            raise ValueError("licences: give one per transporter (0x00…00 where none is needed)")
        return self


class LegTerms(DeadlineTerms):
    """A leg's pick-up or delivery; the transporter is the dispatch's for that leg."""

    model_config = _examples({}, {"deadline": "2030-01-01T00:00:00Z"})


class ReceiptTerms(DeadlineTerms):
    model_config = _examples({"received_quantity": 12_250})

    received_quantity: Quantity


# --- signed statements (the message exactly as in the typed data) -------------------------------


class RegisterParticipantMessage(Strict):
    regulator: Address
    participant: Address
    roles: Annotated[int, Field(gt=0, lt=2**16)]
    legalName: SignedText
    enterpriseId: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    park: Annotated[str, StringConstraints(max_length=120)]
    nonce: Uint256
    deadline: Uint256


class SetParticipantStatusMessage(Strict):
    regulator: Address
    participant: Address
    suspended: bool
    reason: SignedText
    nonce: Uint256
    deadline: Uint256


class RegisterWasteCodeMessage(Strict):
    regulator: Address
    scheme: Scheme
    code: WasteCode
    unit: Unit
    hazardous: bool
    description: Annotated[str, StringConstraints(max_length=200)]
    nonce: Uint256
    deadline: Uint256


class CoverageMessage(Strict):
    codeKey: Bytes32
    operations: Annotated[int, Field(gt=0, lt=2**28)]


class RegisterPermitMessage(Strict):
    regulator: Address
    permitNumber: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    holder: Address
    kind: Annotated[int, Field(ge=1, le=len(PermitKind))]
    coverage: list[CoverageMessage] = Field(max_length=64)
    yearlyCapacity: Annotated[int, Field(ge=0, le=MAX_QUANTITY)]
    validFrom: Annotated[int, Field(ge=0, lt=2**40)]
    validUntil: Annotated[int, Field(ge=0, lt=2**40)]
    nonce: Uint256
    deadline: Uint256


class RevokePermitMessage(Strict):
    regulator: Address
    permitId: Bytes32
    reason: SignedText
    nonce: Uint256
    deadline: Uint256


class RegisterLotMessage(Strict):
    generator: Address
    wasteScheme: Scheme
    wasteCode: WasteCode
    quantity: Quantity
    unit: Unit
    documentHash: Bytes32
    nonce: Uint256
    deadline: Uint256


class DispatchMessage(Strict):
    shipper: Address
    receiver: Address
    lotId: Bytes32
    quantity: Quantity
    operation: Operation
    permitId: Bytes32
    certificates: list[Bytes32] = Field(max_length=16)
    transporters: list[Address] = Field(max_length=8)
    licences: list[Bytes32] = Field(max_length=8)
    documentHash: Bytes32
    nonce: Uint256
    deadline: Uint256


class LegMessage(Strict):
    transferId: Bytes32
    transporter: Address
    leg: Annotated[int, Field(ge=0, lt=8)]
    deadline: Uint256


class IssueCertificateMessage(Strict):
    lab: Address
    lotId: Bytes32
    accreditationId: Bytes32
    documentHash: Bytes32
    resultsHash: Bytes32
    validUntil: Annotated[int, Field(gt=0, lt=2**40)]
    nonce: Uint256
    deadline: Uint256


class RevokeCertificateMessage(Strict):
    lab: Address
    certificateId: Bytes32
    lotId: Bytes32
    reason: SignedText
    nonce: Uint256
    deadline: Uint256


class ReceiptMessage(Strict):
    transferId: Bytes32
    receiver: Address
    receivedQuantity: Quantity
    deadline: Uint256


_DISPATCH_MESSAGE = {
    "shipper": _PARTY,
    "receiver": _RECEIVER,
    "lotId": _LOT,
    "quantity": 12_300,
    "operation": "R5",
    "permitId": _PERMIT,
    "certificates": [_CERTIFICATE],
    "transporters": [_TRUCK],
    "licences": ["0x" + "00" * 32],
    "documentHash": _DOCUMENT,
    "nonce": 8_034_523_561_873_345_111,
    "deadline": _DEADLINE,
}


class SignedRegistration(Strict):
    model_config = _signed_example(
        {
            "regulator": _REGULATOR,
            "participant": _PARTY,
            "roles": Role.SHIPPER.bit | Role.RECEIVER.bit,
            "legalName": "Phu My Steel JSC",
            "enterpriseId": "3501234567",
            "park": "Phu My 3",
            "nonce": 0,
            "deadline": _DEADLINE,
        }
    )

    message: RegisterParticipantMessage
    signature: Signature


class SignedStatusChange(Strict):
    model_config = _signed_example(
        {
            "regulator": _REGULATOR,
            "participant": _PARTY,
            "suspended": True,
            "reason": "environmental permit under review",
            "nonce": 1,
            "deadline": _DEADLINE,
        }
    )

    message: SetParticipantStatusMessage
    signature: Signature


class SignedWasteCode(Strict):
    model_config = _signed_example(
        {
            "regulator": _REGULATOR,
            "scheme": "EU-LOW",
            "code": "10 02 02",
            "unit": "KGM",
            "hazardous": False,
            "description": "unprocessed slag",
            "nonce": 2,
            "deadline": _DEADLINE,
        }
    )

    message: RegisterWasteCodeMessage
    signature: Signature


class SignedPermit(Strict):
    model_config = _signed_example(
        {
            "regulator": _REGULATOR,
            "permitNumber": "GPMT-0042/BRVT",
            "holder": _RECEIVER,
            "kind": PermitKind.ENVIRONMENTAL_PERMIT.code,
            "coverage": [{"codeKey": _CODE_KEY, "operations": operations_mask(["R5"])}],
            "yearlyCapacity": 120_000_000,
            "validFrom": 1_767_225_600,
            "validUntil": 1_924_905_600,
            "nonce": 3,
            "deadline": _DEADLINE,
        }
    )

    message: RegisterPermitMessage
    signature: Signature


class SignedRevocation(Strict):
    model_config = _signed_example(
        {
            "regulator": _REGULATOR,
            "permitId": _PERMIT,
            "reason": "permit withdrawn by the provincial authority",
            "nonce": 4,
            "deadline": _DEADLINE,
        }
    )

    message: RevokePermitMessage
    signature: Signature


class SignedLot(Strict):
    model_config = _signed_example(
        {
            "generator": _PARTY,
            "wasteScheme": "EU-LOW",
            "wasteCode": "10 02 02",
            "quantity": 80_000,
            "unit": "KGM",
            "documentHash": "0x" + "9e" * 32,
            "nonce": 0,
            "deadline": _DEADLINE,
        }
    )

    message: RegisterLotMessage
    signature: Signature


class SignedCertificate(Strict):
    model_config = _signed_example(
        {
            "lab": _LAB,
            "lotId": _LOT,
            "accreditationId": "0x" + "ac" * 32,
            "documentHash": "0x" + "c1" * 32,
            "resultsHash": "0x" + "c2" * 32,
            "validUntil": 1_798_675_200,
            "nonce": 0,
            "deadline": _DEADLINE,
        }
    )

    message: IssueCertificateMessage
    signature: Signature


class SignedCertificateRevocation(Strict):
    model_config = _signed_example(
        {
            "lab": _LAB,
            "certificateId": _CERTIFICATE,
            "lotId": _LOT,
            "reason": "sample mislabelled at the weighbridge",
            "nonce": 1,
            "deadline": _DEADLINE,
        }
    )

    message: RevokeCertificateMessage
    signature: Signature


class SignedLeg(Strict):
    model_config = _signed_example(
        {"transferId": _TRANSFER, "transporter": _TRUCK, "leg": 0, "deadline": _DEADLINE}
    )

    message: LegMessage
    signature: Signature


class SignedDispatch(Strict):
    model_config = _signed_example(_DISPATCH_MESSAGE)

    message: DispatchMessage
    signature: Signature


class SignedReceipt(Strict):
    model_config = _signed_example(
        {"transferId": _TRANSFER, "receiver": _RECEIVER, "receivedQuantity": 12_250, "deadline": _DEADLINE}
    )

    message: ReceiptMessage
    signature: Signature


# --- read model ---------------------------------------------------------------------------------


class Submission(BaseModel):
    """A statement accepted into the outbox that the chain has not recorded yet."""

    digest: str
    statement: str
    status: str
    tx_hash: str | None


class Evidence(BaseModel):
    """Where a statement stands on chain, and who signed it."""

    signer: str | None = Field(description="Who signed it; None for what the deployment itself recorded")
    nonce: str | None = Field(description="The signer's nonce, for statements that carry it on chain")
    tx_hash: str
    block_number: int
    block_hash: str
    log_index: int
    contract: str
    event: str
    recorded_at: Utc


class ParticipantOut(BaseModel):
    address: str
    roles: list[str]
    legal_name: str
    enterprise_id: str
    park: str
    status: str
    status_reason: str | None
    registered_by: str | None
    evidence: list[Evidence]


class WasteCodeOut(BaseModel):
    code_key: str
    catalogue_id: int
    scheme: str
    code: str
    unit: str
    hazardous: bool
    description: str
    evidence: list[Evidence]


class CoverageOut(BaseModel):
    code_key: str
    scheme: str
    code: str
    operations: list[str]


class PermitOut(BaseModel):
    permit_id: str
    permit_number: str
    holder: str
    kind: str
    coverage: list[CoverageOut]
    yearly_capacity: int
    valid_from: Utc
    valid_until: Utc
    revoked: bool
    revoked_reason: str | None
    evidence: list[Evidence]


class Waste(BaseModel):
    """A waste code as the lot and its transfers carry it."""

    scheme: str
    code: str
    unit: str
    hazardous: bool


class CertificateOut(BaseModel):
    id: str
    lot_id: str
    lab: str
    accreditation_id: str
    document_hash: str
    results_hash: str
    valid_until: Utc
    revoked: bool
    revoked_reason: str | None
    evidence: list[Evidence]


class LotOut(BaseModel):
    id: str
    holder: str
    waste: Waste
    origin: str = Field(description="generated, or received through the transfer `source_transfer`")
    quantity: int
    balance: int
    source_transfer: str | None
    document_hash: str | None
    created_at: Utc
    certificates: list[str] = Field(description="Ids of the certificates of analysis bound to this lot")
    evidence: list[Evidence]
    # --- processing and metered flows ---
    kind: str | None = Field(
        None, description="product, by_product or residue for a lot a processing produced"
    )
    produced_by: str | None = Field(None, description="The processing that produced it (origin `produced`)")
    processed_in: list[str] = Field(default_factory=list, description="Processings it was an input of")
    processed_quantity: int = Field(0, description="How much of it went into processings")
    used_quantity: int = Field(0, description="How much of it was declared put to its final use")
    uses: list["LotUseOut"] = Field(default_factory=list)


class TransferOut(BaseModel):
    id: str
    status: str
    lot_id: str
    waste: Waste
    quantity: int
    operation: str
    permit_id: str
    certificates: list[str]
    transporters: list[str]
    licences: list[str]
    legs_picked_up: int
    legs_delivered: int
    received_quantity: int | None
    discrepancy: int | None = Field(description="received - shipped, in the unit; None until received")
    shipper: str
    receiver: str
    document_hash: str
    dispatched_at: Utc
    received_at: Utc | None
    evidence: list[Evidence]
    # svc-workflows: rejections and returns (RejectionOut below)
    rejection: "RejectionOut | None" = Field(None, description="The receiver's rejection, if it refused any")
    return_of: str | None = Field(None, description="The rejected transfer this return carries back")
    returns: list[str] = Field(default_factory=list, description="Return transfers of the refused part")


class TransferPage(BaseModel):
    items: list[TransferOut]
    total: int
    offset: int
    limit: int


# --- rejections, returns, corrections and batches (svc-workflows) --------------------------------------

# Statements in one request. The relayer sends them in one recordBatch transaction, or in parts where that
# would take more than `max_batch_gas` (a dispatch takes 50k to 150k gas, with its certificates and legs).
MAX_BATCH = 256
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
Delta = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX, description="Signed change, in the transfer's unit")]


class RejectionTerms(DeadlineTerms):
    """What the named receiver refuses, and where the refused part goes (default: back to the shipper)."""

    model_config = _examples(
        {"accepted_quantity": 9000, "rejected_quantity": 3400, "reason": "moisture above the 8 % limit"},
        {
            "rejected_quantity": 12500,
            "reason": "contaminated with oil",
            "return_to": "0x" + "3c" * 20,
            "return_permit_id": "0x" + "2b" * 32,
            "return_operation": "R4",
        },
    )

    accepted_quantity: Annotated[int, Field(ge=0, le=MAX_QUANTITY)] = Field(
        0, description="Kept by the receiver (opens its lot); 0 for a full rejection"
    )
    rejected_quantity: Quantity
    reason: Text
    return_to: Address | None = Field(None, description="Default: the shipper")
    return_permit_id: Bytes32 | None = Field(
        None, description="The environmental permit of `return_to`, when it is not the shipper"
    )
    return_operation: Operation | None = Field(
        None, description="The operation at `return_to` (not the shipper)"
    )


class CorrectionTerms(StatementTerms):
    """A party's proposed correction of a transfer; the other party countersigns the same statement."""

    model_config = _examples(
        {
            "proposer": "0x" + "4d" * 20,
            "received_delta": 150,
            "document_hash": "0x" + "c0" * 32,
            "reason": "weighbridge calibration error, see the corrected ticket",
        },
        {"proposer": "0x" + "4d" * 20, "shipped_delta": -200, "reason": "200 kg stayed on the truck"},
    )

    proposer: Address
    shipped_delta: Delta = 0
    received_delta: Delta = 0
    document_hash: Bytes32 | None = Field(
        None, description="SHA-256 of the corrected document; default: unchanged"
    )
    reason: Text


class CountersignTerms(Strict):
    """Nothing to choose: the counterparty signs the proposed statement unchanged."""

    model_config = _examples({})


class RejectionMessage(Strict):
    transferId: Bytes32
    receiver: Address
    acceptedQuantity: Annotated[int, Field(ge=0, le=MAX_QUANTITY)]
    rejectedQuantity: Quantity
    reason: SignedText
    returnTo: Address
    returnPermitId: Bytes32
    returnOperation: Annotated[str, StringConstraints(max_length=3)]
    deadline: Uint256


class CorrectionMessage(Strict):
    transferId: Bytes32
    proposer: Address
    shippedDelta: Delta
    receivedDelta: Delta
    documentHash: Bytes32
    reason: SignedText
    nonce: Uint256
    deadline: Uint256


class SignedRejection(Strict):
    model_config = _examples(
        {
            "message": {
                "transferId": _TRANSFER,
                "receiver": "0x" + "4d" * 20,
                "acceptedQuantity": 9000,
                "rejectedQuantity": 3400,
                "reason": "moisture above the 8 % limit",
                "returnTo": "0x" + "1f" * 20,
                "returnPermitId": "0x" + "00" * 32,
                "returnOperation": "",
                "deadline": _DEADLINE,
            },
            "signature": _SIGNATURE,
        }
    )

    message: RejectionMessage
    signature: Signature


class SignedCorrection(Strict):
    model_config = _examples(
        {
            "message": {
                "transferId": _TRANSFER,
                "proposer": "0x" + "4d" * 20,
                "shippedDelta": 0,
                "receivedDelta": 150,
                "documentHash": "0x" + "c0" * 32,
                "reason": "weighbridge calibration error, see the corrected ticket",
                "nonce": 3,
                "deadline": _DEADLINE,
            },
            "signature": _SIGNATURE,
        }
    )

    message: CorrectionMessage
    signature: Signature


class SignedDispatchBatch(Strict):
    """Independently signed dispatches (each the body `POST /transfers` takes) and receipts (each the body of
    `POST /transfers/{id}/receipt`), recorded in one transaction: the dispatches first, then the receipts,
    each of a transfer already dispatched."""

    model_config = _examples(
        {
            "items": [
                {
                    "message": _DISPATCH_MESSAGE,
                    "signature": _SIGNATURE,
                }
            ]
        }
    )

    items: list[SignedDispatch] = Field(default_factory=list, max_length=MAX_BATCH)
    receipts: list[SignedReceipt] = Field(default_factory=list, max_length=MAX_BATCH)

    @model_validator(mode="after")
    def _sized(self) -> "SignedDispatchBatch":
        if not 1 <= len(self.items) + len(self.receipts) <= MAX_BATCH:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH} statements, dispatches and receipts together")
        return self


class RejectionOut(BaseModel):
    receiver: str
    accepted_quantity: int
    rejected_quantity: int
    reason: str
    discrepancy: int = Field(description="accepted + rejected - shipped, in the unit")
    return_id: str | None
    return_to: str | None
    return_permit_id: str | None
    return_operation: str | None = Field(description="None for a return to the shipper")
    tx_hash: str
    block_number: int
    rejected_at: Utc


TransferOut.model_rebuild()  # it refers to RejectionOut, defined just above


class CorrectionOut(BaseModel):
    id: str = Field(description="The Correction statement's EIP-712 digest, which both parties sign")
    transfer_id: str
    status: str = Field(description="pending (awaiting the counterparty's countersignature) or applied")
    proposer: str
    counterparty: str
    shipped_delta: int
    received_delta: int
    document_hash: str | None = Field(description="The corrected document's SHA-256; None: unchanged")
    reason: str
    proposed_tx: str
    proposed_block: int
    proposed_at: Utc
    countersigned_tx: str | None
    countersigned_block: int | None
    countersigned_at: Utc | None
    evidence: list[Evidence]


class ItemError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str
    status: int = Field(description="The HTTP status the same dispatch alone would have been refused with")


class BatchItemOut(BaseModel):
    index: int
    outcome: str = Field(description="recorded, accepted (not yet recorded on chain) or refused")
    transfer_id: str = Field(
        description="The transfer's id: a dispatch's digest, or the transfer a receipt names"
    )
    transfer: TransferOut | None = None
    submission: Submission | None = None
    error: ItemError | None = None


class BatchReport(BaseModel):
    recorded: int
    accepted: int
    refused: int
    items: list[BatchItemOut] = Field(
        description="In request order; each recorded item's evidence names its tx"
    )
    receipts: list[BatchItemOut] = Field(default_factory=list, description="The receipts, in request order")


# --- processing and metered flows --------------------------------------------------------------------

OutputKindName = Literal["product", "by_product", "residue"]
Uint32 = Annotated[int, Field(ge=0, lt=2**32)]
Uint64 = Annotated[int, Field(ge=0, lt=2**64)]
GramsPerUnit = Annotated[
    int,
    Field(gt=0, lt=2**32, description="Grams per unit: 1000 for a code in KGM, the density in g/L for LTR"),
]
# A batch's gas stays far below a block's gas limit (about 11,000 gas per period).
MAX_PERIODS_PER_BATCH = 500
# A period's signature: compact (ERC-2098, 64 bytes) or as wallets give it (65 bytes, r s v).
PeriodSignature = Annotated[
    str,
    StringConstraints(pattern=r"^0x([0-9a-fA-F]{128}|[0-9a-fA-F]{130})$"),
    Field(description="0x-hex signature of the MeterPeriod statement: 64 bytes (ERC-2098) or 65"),
]
_HASH = "0x" + "a7" * 32


class LotInputTerms(Strict):
    lot_id: Bytes32
    quantity: Quantity
    grams_per_unit: GramsPerUnit | None = Field(
        None, description="Default: 1000 for a code in KGM; a code in LTR needs its density in g/L"
    )


class ExternalInputTerms(Strict):
    material: SignedText = Field(description="Virgin material or additive, e.g. 'Portland clinker'")
    grams: Annotated[int, Field(gt=0, lt=2**64)]
    document_hash: Bytes32 = Field(description="SHA-256 of its delivery document")


class OutputTerms(Strict):
    kind: OutputKindName
    scheme: Scheme
    code: WasteCode = Field(description="Catalogued code of the output (a product category or a waste code)")
    quantity: Quantity
    grams_per_unit: GramsPerUnit | None = Field(None, description="As for inputs")


class ProcessingTerms(StatementTerms):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "processor": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                    "inputs": [{"lot_id": "0x" + "1a" * 32, "quantity": 1000}],
                    "external_inputs": [
                        {"material": "Portland clinker", "grams": 50_000, "document_hash": "0x" + "c1" * 32}
                    ],
                    "outputs": [
                        {"kind": "product", "scheme": "UN-CPC", "code": "15320", "quantity": 800},
                        {"kind": "residue", "scheme": "EU-LOW", "code": "10 02 02", "quantity": 150},
                    ],
                    "loss_grams": 100_000,
                    "loss_description": "moisture and dust",
                    "document_hash": _HASH,
                }
            ]
        },
    )
    processor: Address
    inputs: list[LotInputTerms] = Field(min_length=1, max_length=32, description="Lots you hold")
    external_inputs: list[ExternalInputTerms] = Field(default_factory=list, max_length=32)
    outputs: list[OutputTerms] = Field(min_length=1, max_length=32)
    loss_grams: Uint64 = 0
    loss_description: Annotated[str, StringConstraints(max_length=200)] = ""
    document_hash: Bytes32 = Field(description="SHA-256 of the processing record")


class UseTerms(StatementTerms):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "quantity": 500,
                    "use": "road base course, National Road 10",
                    "document_hash": "0x" + "0e" * 32,
                }
            ]
        },
    )
    quantity: Quantity
    use: SignedText
    document_hash: Bytes32 = Field(description="SHA-256 of the sales or delivery note")


class FlowTerms(StatementTerms):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "supplier": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                    "offtaker": "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
                    "medium": "steam",
                    "unit": "TNE",
                    "meter_id": "0x" + "4e" * 32,
                    "period_seconds": 3600,
                    "first_period_start": "2026-01-01T00:00:00Z",
                }
            ]
        },
    )
    supplier: Address
    offtaker: Address
    medium: SignedText = Field(description="steam, CO2, treated wastewater, ...")
    unit: Unit
    meter_id: Bytes32 = Field(description="e.g. the hash of the meter's serial number and calibration record")
    period_seconds: Annotated[int, Field(gt=0, lt=2**32)]
    first_period_start: datetime


class PeriodTerms(Strict):
    quantity: Uint64 = Field(description="The period's total in the flow's unit (0: nothing flowed)")
    reading_hash: Bytes32 = Field(description="SHA-256 of the period's meter readings")


class PeriodsTerms(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "periods": [
                        {"quantity": 41_250, "reading_hash": "0x" + "51" * 32},
                        {"quantity": 39_980, "reading_hash": "0x" + "52" * 32},
                    ]
                }
            ]
        },
    )
    first_period: Uint32 | None = Field(None, description="Default: the flow's next period to anchor")
    periods: list[PeriodTerms] = Field(min_length=1, max_length=MAX_PERIODS_PER_BATCH)


class LotInputMessage(Strict):
    lotId: Bytes32
    codeKey: Bytes32
    quantity: Uint64
    gramsPerUnit: Uint32


class ExternalInputMessage(Strict):
    material: Annotated[str, StringConstraints(max_length=200)]
    grams: Uint64
    documentHash: Bytes32


class ProcessOutputMessage(Strict):
    kind: Annotated[int, Field(ge=0, lt=2**8)]
    codeKey: Bytes32
    quantity: Uint64
    gramsPerUnit: Uint32


class RecordProcessingMessage(Strict):
    processor: Address
    inputs: list[LotInputMessage] = Field(max_length=32)
    externalInputs: list[ExternalInputMessage] = Field(max_length=32)
    outputs: list[ProcessOutputMessage] = Field(max_length=32)
    lossGrams: Uint64
    lossDescription: Annotated[str, StringConstraints(max_length=200)]
    documentHash: Bytes32
    nonce: Uint256
    deadline: Uint256


class DeclareUseMessage(Strict):
    holder: Address
    lotId: Bytes32
    quantity: Uint64
    use: Annotated[str, StringConstraints(max_length=200)]
    documentHash: Bytes32
    nonce: Uint256
    deadline: Uint256


class RegisterFlowMessage(Strict):
    supplier: Address
    offtaker: Address
    medium: Annotated[str, StringConstraints(max_length=200)]
    unit: Annotated[str, StringConstraints(max_length=8)]
    meterId: Bytes32
    periodSeconds: Uint32
    firstPeriodStart: Uint64
    nonce: Uint256
    deadline: Uint256


class SignedProcessing(Strict):
    model_config = _signed_example(
        {
            "processor": _PARTY,
            "inputs": [
                {
                    "lotId": "0x" + "1a" * 32,
                    "codeKey": "0x" + "3c" * 32,
                    "quantity": 1000,
                    "gramsPerUnit": 1000,
                }
            ],
            "externalInputs": [
                {"material": "Portland clinker", "grams": 50_000, "documentHash": "0x" + "c1" * 32}
            ],
            "outputs": [{"kind": 1, "codeKey": "0x" + "4d" * 32, "quantity": 800, "gramsPerUnit": 1000}],
            "lossGrams": 100_000,
            "lossDescription": "moisture and dust",
            "documentHash": _HASH,
            "nonce": 8_112_934_871,
            "deadline": 1_767_225_600,
        }
    )
    message: RecordProcessingMessage
    signature: Signature


class SignedUse(Strict):
    model_config = _signed_example(
        {
            "holder": _PARTY,
            "lotId": "0x" + "2e" * 32,
            "quantity": 500,
            "use": "road base course, National Road 10",
            "documentHash": "0x" + "0e" * 32,
            "nonce": 0,
            "deadline": 1_767_225_600,
        }
    )
    message: DeclareUseMessage
    signature: Signature


class SignedFlow(Strict):
    """The RegisterFlow statement with both parties' signatures of it."""

    model_config = _signed_example(
        {
            "supplier": _PARTY,
            "offtaker": "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
            "medium": "steam",
            "unit": "TNE",
            "meterId": "0x" + "4e" * 32,
            "periodSeconds": 3600,
            "firstPeriodStart": 1_767_225_600,
            "nonce": 8_112_934_871,
            "deadline": 1_767_312_000,
        },
        supplier_signature=_SIGNATURE,
        offtaker_signature="0x" + "6b" * 64 + "1c",
    )
    message: RegisterFlowMessage
    supplier_signature: Signature
    offtaker_signature: Signature


class SignedPeriod(Strict):
    quantity: Uint64
    reading_hash: Bytes32
    supplier_signature: PeriodSignature
    offtaker_signature: PeriodSignature


class PeriodBatch(Strict):
    """Consecutive periods from `first_period`, each signed by both parties."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "first_period": 0,
                    "periods": [
                        {
                            "quantity": 41_250,
                            "reading_hash": "0x" + "51" * 32,
                            "supplier_signature": "0x" + "11" * 64,
                            "offtaker_signature": "0x" + "22" * 65,
                        }
                    ],
                }
            ]
        },
    )
    first_period: Uint32
    periods: list[SignedPeriod] = Field(min_length=1, max_length=MAX_PERIODS_PER_BATCH)


class AnchorPeriodMessage(Strict):
    quantity: Uint64
    readingHash: Bytes32
    supplierR: Bytes32
    supplierVs: Bytes32
    offtakerR: Bytes32
    offtakerVs: Bytes32


class AnchorPeriodsMessage(Strict):
    supplier: Address
    flowId: Bytes32
    firstPeriod: Uint32
    periods: list[AnchorPeriodMessage]


class PreparedJointStatement(PreparedStatement):
    signers: list[str] = Field(description="Every party that signs the same typed data, in order")


class PreparedPeriod(BaseModel):
    period: int
    digest: str
    typed_data: dict[str, Any]


class PreparedPeriods(BaseModel):
    flow_id: str
    first_period: int
    signers: list[str] = Field(description="supplier and offtaker: both sign every period")
    periods: list[PreparedPeriod]


class LotUseOut(BaseModel):
    id: str
    quantity: int
    use: str
    document_hash: str
    declared_at: Utc


class ProcessingInputOut(BaseModel):
    lot_id: str
    waste: Waste
    quantity: int
    grams_per_unit: int
    grams: int


class ExternalInputOut(BaseModel):
    material: str
    grams: int
    document_hash: str


class ProcessingOutputOut(ProcessingInputOut):
    kind: str


class ProcessingOut(BaseModel):
    id: str
    processor: str
    inputs: list[ProcessingInputOut]
    external_inputs: list[ExternalInputOut]
    outputs: list[ProcessingOutputOut]
    input_grams: int = Field(description="Lot and external inputs, in grams")
    output_grams: int
    loss_grams: int
    loss_description: str
    document_hash: str
    recorded_at: Utc
    evidence: list[Evidence]


class PeriodOut(BaseModel):
    period: int
    start: Utc
    end: Utc
    quantity: int
    reading_hash: str
    anchored_tx: str


class FlowOut(BaseModel):
    id: str
    supplier: str
    offtaker: str
    medium: str
    unit: str
    meter_id: str
    period_seconds: int
    first_period_start: Utc
    next_period: int = Field(description="The next period to anchor (= periods anchored so far)")
    periods: list[PeriodOut] = Field(description="Anchored periods in the range asked for")
    evidence: list[Evidence]


class FlowTotals(BaseModel):
    flow_id: str
    unit: str
    from_period: int
    to_period: int = Field(description="Last period of the range (inclusive)")
    start: Utc
    end: Utc
    periods_anchored: int
    periods_missing: int = Field(description="Periods of the range not anchored (yet)")
    total: int = Field(description="Sum of the anchored periods' quantities, in the flow's unit")


LotOut.model_rebuild()

# --- end processing and metered flows ----------------------------------------------------------------


# --- search and lineage (ledger_service.search, ledger_service.lineage) -----------------------------

# The statuses the read model gives transfers: the chain's (but "none"), and the read model's "corrected" once a correction was countersigned (the chain
# keeps the status its custody rules need; a correction's history is in its events).
TransferStatus = Literal[(*TRANSFER_STATUSES[1:], "corrected")]  # type: ignore[valid-type]
LotOrigin = Literal["generated", "received", "produced"]
_DAY = r"^\d{4}-\d{2}-\d{2}$"


def _moment(value: Any) -> date | datetime:
    # A bare date is kept a date: as an upper bound it means the whole day (ledger_service.search).
    try:
        if isinstance(value, str) and re.fullmatch(_DAY, value):
            return date.fromisoformat(value)
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(
            "expected a date (2025-03-31) or an ISO 8601 date-time (2025-03-31T17:00:00+07:00)"
        ) from None


Moment = Annotated[
    date | datetime,
    BeforeValidator(_moment),
    Field(description="A date (the whole day, UTC) or an ISO 8601 date-time (UTC unless it says)"),
]
ParkName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class Paging(Strict):
    """Query parameters of a list; an unknown parameter (a misspelt filter) is refused, not ignored."""

    offset: int = Field(0, ge=0)
    limit: int = Field(50, ge=1, le=500)


class CodeFilter(Paging):
    waste_scheme: Scheme | None = Field(None, description="With waste_code: only this catalogued code")
    waste_code: WasteCode | None = Field(None, examples=["10 02 02"])
    hazardous: bool | None = Field(None, description="Only hazardous (true) or non-hazardous (false) codes")


class TransferQuery(CodeFilter):
    """Filters of GET /transfers; all given ones must hold."""

    participant: Address | None = Field(None, description="Its shipper, receiver or a transporter")
    shipper: Address | None = None
    receiver: Address | None = None
    park: ParkName | None = Field(
        None, description="A park: its shipper or receiver is registered in it", examples=["Phu My 3"]
    )
    status: list[TransferStatus] = Field(
        default_factory=list, description="Repeatable: any of these statuses"
    )
    dispatched_from: Moment | None = Field(None, examples=["2025-03-01"])
    dispatched_until: Moment | None = Field(None, description="Inclusive", examples=["2025-03-31"])


class LotQuery(CodeFilter):
    """Filters of GET /lots; all given ones must hold."""

    holder: Address | None = None
    generator: Address | None = Field(None, description="Lots this party declared generated")
    participant: Address | None = Field(
        None, description="Its holder, or a shipper, receiver or transporter of a transfer it opened or fed"
    )
    park: ParkName | None = Field(None, description="A park: its holder is registered in it")
    origin: LotOrigin | None = Field(None, description="generated, received, or produced by a processing")
    kind: OutputKindName | None = Field(None, description="What a processing produced it as")
    open: bool | None = Field(None, description="Balance left (true) or used up (false)")
    created_from: Moment | None = None
    created_until: Moment | None = Field(None, description="Inclusive")


class LotPage(BaseModel):
    items: list[LotOut]
    total: int
    offset: int
    limit: int


class LineageNode(BaseModel):
    """A lot, a processing or a final use. A redacted node tells only its id and kind."""

    id: str
    kind: Literal["lot", "processing", "use"]
    redacted: bool = False
    holder: str | None = Field(None, description="The lot's holder, or who declared the use")
    processor: str | None = None
    waste: Waste | None = None
    origin: str | None = Field(None, description="A lot's: generated, received or produced")
    output_kind: str | None = Field(None, description="product, by_product or residue (a produced lot)")
    quantity: int | None = None
    balance: int | None = None
    input_grams: int | None = None
    output_grams: int | None = None
    loss_grams: int | None = None
    external_inputs: list[ExternalInputOut] | None = Field(
        None, description="What a processing took in besides lots"
    )
    use: str | None = Field(None, description="The final use declared")
    document_hash: str | None = None
    tx_hash: str | None = Field(None, description="The transaction that recorded it")
    block_number: int | None = None
    recorded_at: Utc | None = None


class LineageEdge(BaseModel):
    """A transfer (lot taken from → lot its receipt opened), a processing's input (lot → processing) or
    output (processing → lot), or a final use (lot → use). A redacted edge tells only its id, kind and ends."""

    id: str = Field(description="The transfer, the processing, or the use")
    kind: Literal["transfer", "input", "output", "use"]
    source: str
    target: str | None = Field(
        description="None for a transfer that has opened no lot (not received, rejected)"
    )
    redacted: bool = False
    quantity: int | None = Field(None, description="Shipped, put in, produced or used")
    status: TransferStatus | None = None
    shipper: str | None = None
    receiver: str | None = None
    transporters: list[str] | None = None
    operation: str | None = None
    received_quantity: int | None = None
    return_of: str | None = Field(None, description="The rejected transfer a return carries back")
    tx_hash: str | None = Field(None, description="The dispatch's or processing's transaction")
    block_number: int | None = None
    recorded_at: Utc | None = None
    receipt_tx: str | None = None


_LOT, _PROCESSING, _PRODUCT = "0x" + "1a" * 32, "0x" + "9c" * 32, "0x" + "b7" * 32
_SLAG = {"scheme": "EU-LOW", "code": "10 02 02", "unit": "KGM", "hazardous": False}


class LineageGraph(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "lot_id": _PRODUCT,
                    "depth": 20,
                    "truncated": False,
                    "nodes": [
                        {"id": _PRODUCT, "kind": "lot", "holder": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                         "waste": {**_SLAG, "scheme": "UN-CPC", "code": "15320"}, "origin": "produced",
                         "output_kind": "product", "quantity": 800, "balance": 800},
                        {"id": _PROCESSING, "kind": "processing", "redacted": True},
                        {"id": _LOT, "kind": "lot", "redacted": True},
                    ],
                    "edges": [
                        {"id": _PROCESSING, "kind": "input", "source": _LOT, "target": _PROCESSING,
                         "redacted": True},
                        {"id": _PROCESSING, "kind": "output", "source": _PROCESSING, "target": _PRODUCT,
                         "redacted": True},
                    ],
                }
            ]
        }
    )  # fmt: skip

    lot_id: str = Field(description="The lot the graph was asked for")
    depth: int = Field(description="How many links were followed from it, up and down")
    truncated: bool = Field(description="The depth or node limit left links out")
    nodes: list[LineageNode]
    edges: list[LineageEdge]


# --- end search and lineage -------------------------------------------------------------------------


# --- verification of records (ledger_service.casefiles, compliance) ---------------------------------

VerdictName = Literal["PASS", "FAIL", "WARN", "N/A", "INCONCLUSIVE"]
_TX = "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"


class EvidenceOut(BaseModel):
    """Where a fact is recorded on chain, and who signed it."""

    tx_hash: str | None
    block_number: int | None
    log_index: int | None
    signer: str | None
    document_hash: str | None = Field(description="SHA-256 of the document the record cites")


class FindingOut(BaseModel):
    """A rule's verdict on one record, the reason in the regulator's terms, and its evidence. A record the
    caller may not see tells only its verdict (`redacted`)."""

    subject: str = Field(examples=["transfer 0x…"])
    verdict: VerdictName
    reason: str
    evidence: list[EvidenceOut]
    parameters: list[str] = Field(description="The pack parameters the verdict used")
    redacted: bool = False


class RuleOut(BaseModel):
    id: str
    title: str
    jurisdiction: str
    citation: str
    severity: str
    verdict: VerdictName = Field(description="The worst verdict of its findings")
    unconfirmed: list[str] = Field(
        description="Parameters used whose legal value a lawyer must confirm ([U])"
    )
    findings: list[FindingOut]


class PackOut(BaseModel):
    id: str
    version: str
    hash: str = Field(description="SHA-256 of the pack as applied (with overrides): re-run it exactly")
    overrides: dict[str, str] = Field(description="Parameter -> value (JSON) set by this deployment")


class IntegrityOut(BaseModel):
    check: str = Field(description="records, documents or contracts")
    status: str = Field(description="verified, failed or not checked")
    summary: str
    problems: list[str] = Field(description="Each difference found (for a regulator; others get the summary)")


class VerificationReport(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "pack": {"id": "VN", "version": "2026.11.0", "hash": "9f2c…", "overrides": {}},
                    "evaluation_date": "2026-11-22T08:00:00+00:00",
                    "subject": "transfer 0x…",
                    "verdict": "PASS",
                    "counts": {"PASS": 4, "FAIL": 0, "WARN": 0, "N/A": 0, "INCONCLUSIVE": 0},
                    "rules": [
                        {"id": "GEN-PERMIT-02", "title": "Authorisations valid on each event date",
                         "jurisdiction": "ALL", "citation": "Design rule [D]", "severity": "Critical",
                         "verdict": "PASS", "unconfirmed": [],
                         "findings": [
                             {"subject": "transfer 0x…", "verdict": "PASS",
                              "reason": "the receiver's permit GPMT-0001 was valid on every event date",
                              "evidence": [{"tx_hash": _TX, "block_number": 12, "log_index": 0,
                                            "signer": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                                            "document_hash": None}],
                              "parameters": []},
                         ]},
                    ],
                }
            ]
        }
    )  # fmt: skip

    pack: PackOut
    evaluation_date: Utc
    subject: str = Field(description="What was verified")
    verdict: VerdictName = Field(description="The worst verdict of its rules")
    counts: dict[str, int] = Field(description="Rules by verdict")
    integrity: list[IntegrityOut] = Field(
        default_factory=list, description="What the verdicts rest on, checked: records, documents, contracts"
    )
    rules: list[RuleOut]


# --- end verification -------------------------------------------------------------------------------


# --- contract verification (ledger_service.verification.bytecode) -----------------------------------


class ContractVerificationOut(BaseModel):
    name: str = Field(description="Contract name in the source")
    address: str | None = Field(description="Where the deployment record says it is deployed")
    verified: bool = Field(
        description="Its runtime code is the source's, compiled anew, metadata hash included"
    )
    reason: str | None = Field(description="Why it is not verified")
    immutables: dict[str, str] = Field(description="Values its constructor fixed in the code (if verified)")
    compiler_version: str
    settings: dict[str, Any] = Field(description="solc settings, as brownie-config.yaml gives them")
    source_commit: str | None = Field(description="Commit of the source tree (git rev-parse HEAD), if any")
    uncommitted: list[str] = Field(description="Its source files that differ from that commit")
    source_files: list[str] = Field(description="The files it was compiled from, as its metadata lists them")
    sources_sha256: str = Field(description="sha256 of `sha256sum`'s output over those files, sorted by name")


class ContractsVerification(BaseModel):
    verified: bool = Field(description="Every deployed contract is verified")
    contracts: list[ContractVerificationOut]


# --- end contract verification ------------------------------------------------------------------------


# --- regulator actions ------------------------------------------------------------------------------

_REPORT = "0x" + "a1" * 32  # stands for the SHA-256 of a regulator's inspection report
_REQUEST_REASON = "weighbridge ticket shows 12,100 kg where 12,300 kg were recorded as received"


class CorrectionRequestTerms(StatementTerms):
    """A regulator's request to the parties of a transfer to correct its record."""

    model_config = _examples(
        {"regulator": _REGULATOR, "reason": _REQUEST_REASON, "report_hash": _REPORT},
        {"regulator": _REGULATOR, "reason": "transfer document does not match the manifest"},
    )

    regulator: Address = Field(description="The regulator who signs the request (an active REGULATOR)")
    reason: Text = Field(description="What is to be corrected, as the parties will read it")
    report_hash: Bytes32 | None = Field(
        None, description="SHA-256 of the report that found the error; default: none cited"
    )


class CorrectionRequestMessage(Strict):
    regulator: Address
    transferId: Bytes32
    reason: SignedText
    reportHash: Bytes32
    nonce: Uint256
    deadline: Uint256


class SignedCorrectionRequest(Strict):
    model_config = _signed_example(
        {
            "regulator": _REGULATOR,
            "transferId": _TRANSFER,
            "reason": _REQUEST_REASON,
            "reportHash": _REPORT,
            "nonce": 4,
            "deadline": _DEADLINE,
        }
    )

    message: CorrectionRequestMessage
    signature: Signature


class CorrectionRequestOut(BaseModel):
    id: str = Field(description="The CorrectionRequest statement's EIP-712 digest")
    transfer_id: str
    regulator: str
    reason: str
    report_hash: str | None = Field(description="SHA-256 of the report cited; None: none")
    requested_tx: str
    requested_block: int
    requested_at: Utc
    evidence: list[Evidence]


# --- end regulator actions --------------------------------------------------------------------------
