"""The case file: everything a verdict may rest on, as plain immutable records.

A case file is built from the read model (ledger_service.casefiles) or from an evidence bundle, and the
engine judges it without any I/O. Quantities are integers in their waste code's unit; times are aware UTC
datetimes; addresses are checksummed; ids are 0x-hex. Every record names where it is on chain (Evidence),
so each verdict can point at the transaction, block and log it rests on.

Collections are tuples; rules must not depend on their order (the engine's property tests shuffle them).
"""

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

# The ledger's participant roles, in the order of their bits in its roles mask (Participants.sol).
ROLES = ("regulator", "park_operator", "shipper", "receiver", "transporter", "lab")
# Permit kinds, in the order of the permit registry's PermitKind enum, which counts from 1.
PERMIT_KINDS = ("environmental_permit", "hazardous_waste_transport_licence", "lab_accreditation")


@dataclass(frozen=True, order=True)
class Evidence:
    """Where a fact is recorded: the transaction, block and log of its event, and who signed it."""

    tx_hash: str | None = None
    block: int | None = None
    log_index: int | None = None
    signer: str | None = None
    document_hash: str | None = None

    @cached_property
    def sort_key(self) -> tuple[str, int, int, str, str]:
        """The order findings cite evidence in: a total order even when some fields are unknown (None).
        Kept once computed (not a field: not compared, encoded nor an argument), as the engine orders the
        same record's evidence in the finding of every rule that cites it."""
        return (
            self.tx_hash or "",
            -1 if self.block is None else self.block,
            -1 if self.log_index is None else self.log_index,
            self.signer or "",
            self.document_hash or "",
        )


@dataclass(frozen=True)
class Party:
    address: str
    legal_name: str
    park: str
    roles: frozenset[str]  # regulator, park_operator, shipper, receiver, transporter, lab
    status: str  # active | suspended
    evidence: Evidence = Evidence()


@dataclass(frozen=True)
class WasteCode:
    key: str
    scheme: str  # VN-TT02-2022, EU-LOW, US-RCRA
    code: str
    description: str
    hazardous: bool
    unit: str  # UN/CEFACT: KGM, LTR, KWH
    evidence: Evidence = Evidence()

    @property
    def label(self) -> str:
        return f"{self.code} ({self.scheme})"


@dataclass(frozen=True)
class Coverage:
    code_key: str
    operations: frozenset[str]  # R1..R13, D1..D15


@dataclass(frozen=True)
class Permit:
    id: str
    number: str
    holder: str
    kind: str  # one of PERMIT_KINDS
    coverage: tuple[Coverage, ...]
    yearly_capacity: int
    valid_from: datetime
    valid_until: datetime
    revoked_at: datetime | None = None
    evidence: Evidence = Evidence()
    revocation: Evidence | None = None  # where its revocation is recorded

    def valid_on(self, when: datetime) -> bool:
        revoked = self.revoked_at is not None and self.revoked_at <= when
        return self.valid_from <= when <= self.valid_until and not revoked

    def covers(self, code_key: str, operation: str | None = None) -> bool:
        return any(
            c.code_key == code_key and (operation is None or operation in c.operations) for c in self.coverage
        )


@dataclass(frozen=True)
class Lot:
    id: str
    holder: str
    code_key: str
    origin: str  # generated | received | produced
    quantity: int
    balance: int
    created_at: datetime
    generator: str | None = None  # who declared it generated (origin generated)
    source_transfer: str | None = None  # the transfer whose receipt opened it (origin received)
    document_hash: str | None = None
    evidence: Evidence = Evidence()


@dataclass(frozen=True)
class Certificate:
    id: str
    lot_id: str
    lab: str
    accreditation_id: str
    document_hash: str
    results_hash: str
    issued_at: datetime
    valid_until: datetime
    revoked_at: datetime | None = None
    # The analysis results, when the certificate's results document is in the document store: parameter ->
    # integer value, the name saying unit and scale as the packs' limits do ("Pb_leachate_ug_l": micrograms
    # per litre of leachate); None when they are not available.
    results: tuple[tuple[str, int], ...] | None = None
    evidence: Evidence = Evidence()
    revocation: Evidence | None = None  # where its revocation is recorded

    def valid_on(self, when: datetime) -> bool:
        revoked = self.revoked_at is not None and self.revoked_at <= when
        return self.issued_at <= when <= self.valid_until and not revoked


@dataclass(frozen=True)
class Signature:
    """A party's signed statement about a transfer: what it signed (the statement's digest), when it was
    recorded, and where."""

    party: str
    role: str  # shipper | transporter | receiver | proposer | counterparty
    statement: str  # Dispatch, PickUp, Delivery, Receipt, Rejection, Correction
    digest: str
    recorded_at: datetime
    evidence: Evidence = Evidence()


@dataclass(frozen=True)
class Transfer:
    id: str
    lot_id: str
    shipper: str
    receiver: str
    code_key: str
    operation: str  # R1..R13, D1..D15; "" for a return to its shipper
    permit_id: str | None
    quantity: int  # shipped
    dispatched_at: datetime
    status: str
    transporters: tuple[str, ...] = ()
    licences: tuple[str, ...] = ()
    certificates: tuple[str, ...] = ()
    document_hash: str | None = None
    received_quantity: int | None = None
    received_at: datetime | None = None
    rejected_quantity: int = 0
    return_of: str | None = None  # the rejected transfer this one returns
    signatures: tuple[Signature, ...] = ()
    evidence: Evidence = Evidence()


@dataclass(frozen=True)
class Correction:
    """A signed change of a transfer's quantities, applied once its counterparty countersigned it. The
    transfer's quantities already include every applied correction; these records tell what they were
    before and when the parties agreed on the change."""

    id: str
    transfer_id: str
    shipped_delta: int
    received_delta: int
    reason: str
    proposed_at: datetime
    countersigned_at: datetime | None = None  # None: pending, not applied
    evidence: Evidence = Evidence()  # the countersignature's event once applied, else the proposal's


@dataclass(frozen=True)
class ProcessingInput:
    lot_id: str
    quantity: int
    code_key: str | None = None  # the input lot's waste code, as the processing recorded it


@dataclass(frozen=True)
class ProcessingOutput:
    lot_id: str
    kind: str  # product | by_product | residue
    quantity: int
    code_key: str | None = None  # the output lot's waste code (a hazardous code only for a residue)


@dataclass(frozen=True)
class Processing:
    id: str
    processor: str
    recorded_at: datetime
    inputs: tuple[ProcessingInput, ...]
    outputs: tuple[ProcessingOutput, ...]
    external_grams: int = 0  # declared virgin inputs, in grams
    input_grams: int = 0
    output_grams: int = 0
    loss_grams: int = 0
    evidence: Evidence = Evidence()


@dataclass(frozen=True)
class Use:
    """A holder's declaration that part of a product or by-product lot went to its final use, which closes
    that part of the chain."""

    id: str
    lot_id: str
    holder: str
    quantity: int
    use: str  # what it was used for, in the holder's words
    used_at: datetime
    document_hash: str | None = None
    evidence: Evidence = Evidence()


@dataclass(frozen=True)
class Document:
    sha256: str
    media_type: str | None
    stored: bool  # the service holds the body
    intact: bool | None = None  # its body re-hashed to sha256 (None: not checked)


@dataclass(frozen=True)
class _Index:
    """A case file's records by the key its lookups take."""

    party: dict[str, Party]
    code: dict[str, WasteCode]
    permit: dict[str, Permit]
    lot: dict[str, Lot]
    certificate: dict[str, Certificate]
    transfer: dict[str, Transfer]
    document: dict[str, Document]


@dataclass(frozen=True)
class CaseFile:
    """The records of one evaluation (a lot's lineage, a transfer, a firm or a park over a period)."""

    evaluation_date: datetime
    subject: str  # what was asked for, e.g. "lot 0x…", "transfer 0x…", "park Phu My 3 2026"
    parties: tuple[Party, ...] = ()
    codes: tuple[WasteCode, ...] = ()
    permits: tuple[Permit, ...] = ()
    lots: tuple[Lot, ...] = ()
    certificates: tuple[Certificate, ...] = ()
    transfers: tuple[Transfer, ...] = ()
    processings: tuple[Processing, ...] = ()
    documents: tuple[Document, ...] = ()
    corrections: tuple[Correction, ...] = ()
    uses: tuple[Use, ...] = ()
    # Not an argument: each case file indexes its own records, so a copy made with `dataclasses.replace`
    # gets a new index of the copy's records and the original keeps finding its own.
    _index: _Index = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        index = _Index(
            party={r.address: r for r in self.parties},
            code={r.key: r for r in self.codes},
            permit={r.id: r for r in self.permits},
            lot={r.id: r for r in self.lots},
            certificate={r.id: r for r in self.certificates},
            transfer={r.id: r for r in self.transfers},
            document={r.sha256: r for r in self.documents},
        )
        object.__setattr__(self, "_index", index)  # frozen: set once, here

    def party(self, address: str) -> Party | None:
        return self._index.party.get(address)

    def code(self, key: str) -> WasteCode | None:
        return self._index.code.get(key)

    def permit(self, permit_id: str | None) -> Permit | None:
        return self._index.permit.get(permit_id or "")

    def lot(self, lot_id: str) -> Lot | None:
        return self._index.lot.get(lot_id)

    def certificate(self, certificate_id: str) -> Certificate | None:
        return self._index.certificate.get(certificate_id)

    def transfer(self, transfer_id: str) -> Transfer | None:
        return self._index.transfer.get(transfer_id)

    def document(self, sha256: str | None) -> Document | None:
        return self._index.document.get(sha256 or "")

    def permits_of(self, holder: str, kind: str) -> tuple[Permit, ...]:
        return tuple(p for p in self.permits if p.holder == holder and p.kind == kind)

    def name(self, address: str) -> str:
        party = self.party(address)
        return f"{party.legal_name} ({address})" if party else address
