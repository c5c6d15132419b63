"""Request and response bodies. Field checks here name the field and the reason in every 422."""

from datetime import datetime
from typing import Annotated, Any

from eth_utils import is_checksum_address, is_hex_address, to_checksum_address
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from compliance.operations import OPERATIONS
from ledger_service.roles import PermitKind, Role

MAX_QUANTITY = 2**56 - 1  # the ledger contract's bound: a transfer's quantity shares a storage slot
MAX_UINT256 = 2**256 - 1


def _address(value: str) -> str:
    if not is_hex_address(value):
        raise ValueError("not an address: expected 0x followed by 40 hexadecimal digits")
    if value != value.lower() and value[2:] != value[2:].upper() and not is_checksum_address(value):
        raise ValueError("mixed-case address with a wrong EIP-55 checksum (mistyped?)")
    return to_checksum_address(value)


Address = Annotated[str, AfterValidator(_address)]
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


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    regulator: Address
    participant: Address
    roles: list[Role] = Field(min_length=1)
    legal_name: Text
    enterprise_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    park: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] = ""


class StatusTerms(StatementTerms):
    regulator: Address
    suspended: bool
    reason: Text


class WasteCodeTerms(StatementTerms):
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
    lab: Address
    lot_id: Bytes32
    accreditation_id: Bytes32
    document_hash: Bytes32
    results_hash: Bytes32
    valid_until: datetime


class CertificateRevocationTerms(StatementTerms):
    lab: Address
    reason: Text


class RevocationTerms(StatementTerms):
    regulator: Address
    reason: Text


class LotTerms(StatementTerms):
    generator: Address
    waste_scheme: Scheme
    waste_code: WasteCode
    quantity: Quantity
    unit: Unit
    document_hash: Bytes32


class DispatchTerms(StatementTerms):
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


class ReceiptTerms(DeadlineTerms):
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


class SignedRegistration(Strict):
    message: RegisterParticipantMessage
    signature: Signature


class SignedStatusChange(Strict):
    message: SetParticipantStatusMessage
    signature: Signature


class SignedWasteCode(Strict):
    message: RegisterWasteCodeMessage
    signature: Signature


class SignedPermit(Strict):
    message: RegisterPermitMessage
    signature: Signature


class SignedRevocation(Strict):
    message: RevokePermitMessage
    signature: Signature


class SignedLot(Strict):
    message: RegisterLotMessage
    signature: Signature


class SignedCertificate(Strict):
    message: IssueCertificateMessage
    signature: Signature


class SignedCertificateRevocation(Strict):
    message: RevokeCertificateMessage
    signature: Signature


class SignedLeg(Strict):
    message: LegMessage
    signature: Signature


class SignedDispatch(Strict):
    message: DispatchMessage
    signature: Signature


class SignedReceipt(Strict):
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
    recorded_at: datetime


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
    valid_from: datetime
    valid_until: datetime
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
    valid_until: datetime
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
    created_at: datetime
    certificates: list[str] = Field(description="Ids of the certificates of analysis bound to this lot")
    evidence: list[Evidence]


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
    dispatched_at: datetime
    received_at: datetime | None
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

MAX_BATCH = 64  # dispatches in one dispatchBatch transaction: ~150k gas each stays well below a block
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
Delta = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX, description="Signed change, in the transfer's unit")]
_EXAMPLE_TRANSFER = "0x" + "7a" * 32
_EXAMPLE_SIGNATURE = "0x" + "5e" * 65


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


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
    return_operation: Operation | None = Field(None, description="The operation at `return_to` (not the shipper)")


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
    document_hash: Bytes32 | None = Field(None, description="SHA-256 of the corrected document; default: unchanged")
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
                "transferId": _EXAMPLE_TRANSFER,
                "receiver": "0x" + "4d" * 20,
                "acceptedQuantity": "9000",
                "rejectedQuantity": "3400",
                "reason": "moisture above the 8 % limit",
                "returnTo": "0x" + "1f" * 20,
                "returnPermitId": "0x" + "00" * 32,
                "returnOperation": "",
                "deadline": "1893456000",
            },
            "signature": _EXAMPLE_SIGNATURE,
        }
    )

    message: RejectionMessage
    signature: Signature


class SignedCorrection(Strict):
    model_config = _examples(
        {
            "message": {
                "transferId": _EXAMPLE_TRANSFER,
                "proposer": "0x" + "4d" * 20,
                "shippedDelta": "0",
                "receivedDelta": "150",
                "documentHash": "0x" + "c0" * 32,
                "reason": "weighbridge calibration error, see the corrected ticket",
                "nonce": "3",
                "deadline": "1893456000",
            },
            "signature": _EXAMPLE_SIGNATURE,
        }
    )

    message: CorrectionMessage
    signature: Signature


class SignedDispatchBatch(Strict):
    """Independently signed dispatches, each the body `POST /transfers` takes, recorded in one transaction."""

    model_config = _examples(
        {
            "items": [
                {
                    "message": {
                        "shipper": "0x" + "1f" * 20,
                        "receiver": "0x" + "4d" * 20,
                        "lotId": "0x" + "1a" * 32,
                        "quantity": "12300",
                        "operation": "R5",
                        "permitId": "0x" + "2b" * 32,
                        "certificates": [],
                        "transporters": [],
                        "licences": [],
                        "documentHash": "0x" + "d0" * 32,
                        "nonce": "8034523561873345111",
                        "deadline": "1893456000",
                    },
                    "signature": _EXAMPLE_SIGNATURE,
                }
            ]
        }
    )

    items: list[SignedDispatch] = Field(min_length=1, max_length=MAX_BATCH)


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
    rejected_at: datetime


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
    proposed_at: datetime
    countersigned_tx: str | None
    countersigned_block: int | None
    countersigned_at: datetime | None
    evidence: list[Evidence]


class ItemError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str
    status: int = Field(description="The HTTP status the same dispatch alone would have been refused with")


class BatchItemOut(BaseModel):
    index: int
    outcome: str = Field(description="recorded, accepted (not yet recorded on chain) or refused")
    transfer_id: str = Field(description="The dispatch's digest: the transfer's id once recorded")
    transfer: TransferOut | None = None
    submission: Submission | None = None
    error: ItemError | None = None


class BatchReport(BaseModel):
    recorded: int
    accepted: int
    refused: int
    items: list[BatchItemOut] = Field(description="In request order; each recorded item's evidence names its tx")

