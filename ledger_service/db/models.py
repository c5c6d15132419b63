"""Tables of the read model and the outbox.

Which tables are derived from chain events (and rebuilt from the chain alone) and which are kept is
declared in DERIVED_TABLES and KEPT_TABLES at the end; `signed_payloads` holds parties' signed statements
until the chain has them.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ADDRESS = String(42)
HASH = String(66)
UINT256 = String(78)  # decimal text: uint256 does not fit any SQL integer type


class Base(DeclarativeBase):
    pass


class Participant(Base):
    __tablename__ = "participants"

    address: Mapped[str] = mapped_column(ADDRESS, primary_key=True)
    roles: Mapped[int] = mapped_column(Integer)
    legal_name: Mapped[str] = mapped_column(String(200))
    enterprise_id: Mapped[str] = mapped_column(String(64))
    park: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16))
    registered_by: Mapped[str | None] = mapped_column(ADDRESS)
    registered_tx: Mapped[str] = mapped_column(HASH)
    registered_block: Mapped[int] = mapped_column(BigInteger)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_tx: Mapped[str | None] = mapped_column(HASH)


class WasteCode(Base):
    __tablename__ = "waste_codes"

    code_key: Mapped[str] = mapped_column(HASH, primary_key=True)
    catalogue_id: Mapped[int] = mapped_column(Integer, unique=True)
    scheme: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str] = mapped_column(String(8))
    hazardous: Mapped[bool]
    description: Mapped[str] = mapped_column(Text)
    registered_by: Mapped[str] = mapped_column(ADDRESS)
    registered_tx: Mapped[str] = mapped_column(HASH)


class Permit(Base):
    __tablename__ = "permits"

    permit_id: Mapped[str] = mapped_column(HASH, primary_key=True)
    permit_number: Mapped[str] = mapped_column(String(120))
    holder: Mapped[str] = mapped_column(ADDRESS, index=True)
    kind: Mapped[str] = mapped_column(String(48))
    # [{"code_key": ..., "operations": ["R5", ...]}]
    coverage: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    yearly_capacity: Mapped[int] = mapped_column(BigInteger)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool]
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    registered_by: Mapped[str] = mapped_column(ADDRESS)
    registered_tx: Mapped[str] = mapped_column(HASH)


class Lot(Base):
    __tablename__ = "lots"

    id: Mapped[str] = mapped_column(HASH, primary_key=True)
    holder: Mapped[str] = mapped_column(ADDRESS, index=True)
    code_key: Mapped[str] = mapped_column(HASH, index=True)
    origin: Mapped[str] = mapped_column(String(16))  # generated | received
    quantity: Mapped[int] = mapped_column(BigInteger)
    balance: Mapped[int] = mapped_column(BigInteger)
    source_transfer: Mapped[str | None] = mapped_column(HASH)
    document_hash: Mapped[str | None] = mapped_column(HASH)
    created_tx: Mapped[str] = mapped_column(HASH)
    created_block: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Certificate(Base):
    __tablename__ = "certificates"

    id: Mapped[str] = mapped_column(HASH, primary_key=True)
    lot_id: Mapped[str] = mapped_column(HASH, index=True)
    lab: Mapped[str] = mapped_column(ADDRESS, index=True)
    accreditation_id: Mapped[str] = mapped_column(HASH)
    document_hash: Mapped[str] = mapped_column(HASH)
    results_hash: Mapped[str] = mapped_column(HASH)
    valid_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool]
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    issued_tx: Mapped[str] = mapped_column(HASH)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Transfer(Base):
    __tablename__ = "transfers"

    id: Mapped[str] = mapped_column(HASH, primary_key=True)
    shipper: Mapped[str] = mapped_column(ADDRESS, index=True)
    receiver: Mapped[str] = mapped_column(ADDRESS, index=True)
    lot_id: Mapped[str] = mapped_column(HASH, index=True)
    code_key: Mapped[str] = mapped_column(HASH, index=True)
    quantity: Mapped[int] = mapped_column(BigInteger)
    operation: Mapped[str] = mapped_column(String(4))
    permit_id: Mapped[str] = mapped_column(HASH)
    certificates: Mapped[list[str]] = mapped_column(JSON)
    transporters: Mapped[list[str]] = mapped_column(JSON, default=list)
    licences: Mapped[list[str]] = mapped_column(JSON, default=list)
    legs_picked_up: Mapped[int] = mapped_column(Integer, default=0)
    legs_delivered: Mapped[int] = mapped_column(Integer, default=0)
    document_hash: Mapped[str] = mapped_column(HASH)
    status: Mapped[str] = mapped_column(String(32), index=True)  # "partially_rejected" is 18
    dispatch_tx: Mapped[str] = mapped_column(HASH)
    dispatch_block: Mapped[int] = mapped_column(BigInteger)
    dispatched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    received_quantity: Mapped[int | None] = mapped_column(BigInteger)
    receipt_tx: Mapped[str | None] = mapped_column(HASH)
    receipt_block: Mapped[int | None] = mapped_column(BigInteger)
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ChainEvent(Base):
    """Every ledger event as logged on chain: the evidence behind each row of the read model."""

    __tablename__ = "chain_events"
    __table_args__ = (UniqueConstraint("block_number", "log_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(HASH)
    block_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    tx_hash: Mapped[str] = mapped_column(HASH)
    log_index: Mapped[int] = mapped_column(Integer)
    contract: Mapped[str] = mapped_column(ADDRESS)
    event: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(HASH, index=True)
    args: Mapped[dict[str, Any]] = mapped_column(JSON)


class IndexerCheckpoint(Base):
    __tablename__ = "indexer_checkpoints"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(HASH)


class SignedPayload(Base):
    """A party's signed statement, kept from the moment it is accepted until the chain has recorded it."""

    __tablename__ = "signed_payloads"
    __table_args__ = (Index("ix_signed_payloads_signer", "contract", "signer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(HASH, unique=True)
    statement: Mapped[str] = mapped_column(String(32))
    contract: Mapped[str] = mapped_column(ADDRESS)
    signer: Mapped[str] = mapped_column(ADDRESS)
    nonce: Mapped[str | None] = mapped_column(UINT256)
    message: Mapped[dict[str, Any]] = mapped_column(JSON)
    signature: Mapped[str] = mapped_column(Text)
    # Arguments the contract call needs besides the signed message (e.g. a leg's transporter list).
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # pending / sent / recorded / failed: see ledger_service.relayer.
    status: Mapped[str] = mapped_column(String(16), index=True)
    tx_hash: Mapped[str | None] = mapped_column(HASH)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- sign-in (not derived from the chain: a rebuilt read model signs everyone out) --------------------


class SignInChallenge(Base):
    """An EIP-4361 challenge issued to an address; used once (ledger_service.signin)."""

    __tablename__ = "sign_in_challenges"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(ADDRESS)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AccessToken(Base):
    """A bearer token given for a signed challenge, kept as its SHA-256 only."""

    __tablename__ = "access_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(ADDRESS, index=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# --- documents (ledger_service.documents) -----------------------------------------------------------
# Not derived from the chain: who uploaded which document and who read it exist only here (with the
# encrypted bodies in the document store), so these tables are kept, never rebuilt.


class Document(Base):
    """A document held encrypted in the document store, addressed by the SHA-256 parties sign."""

    __tablename__ = "documents"

    sha256: Mapped[str] = mapped_column(HASH, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DocumentUploader(Base):
    """Each party that uploaded a document (the same content may come from several)."""

    __tablename__ = "document_uploaders"

    sha256: Mapped[str] = mapped_column(HASH, primary_key=True)
    uploader: Mapped[str] = mapped_column(ADDRESS, primary_key=True, index=True)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DocumentAuditEntry(Base):
    """Who did what to which document, when: uploads, reads, refused reads and failed integrity checks."""

    __tablename__ = "document_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    party: Mapped[str] = mapped_column(ADDRESS, index=True)
    sha256: Mapped[str] = mapped_column(HASH, index=True)
    action: Mapped[str] = mapped_column(String(24))
    request_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)


# Who may read a document is looked up by the hash the chain records cites it under.
Index("ix_transfers_document_hash", Transfer.document_hash)
Index("ix_lots_document_hash", Lot.document_hash)
Index("ix_certificates_document_hash", Certificate.document_hash)
Index("ix_certificates_results_hash", Certificate.results_hash)


# --- rejections, returns and corrections (svc-workflows) -----------------------------------------------


class Rejection(Base):
    """A receiver's refusal of all or part of a transfer, and the return transfer carrying the refused part."""

    __tablename__ = "rejections"

    transfer_id: Mapped[str] = mapped_column(HASH, primary_key=True)
    receiver: Mapped[str] = mapped_column(ADDRESS)
    accepted_quantity: Mapped[int] = mapped_column(BigInteger)
    rejected_quantity: Mapped[int] = mapped_column(BigInteger)
    shipped_quantity: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    # Set by the TransferReturned event that follows TransferRejected in the same transaction.
    return_id: Mapped[str | None] = mapped_column(HASH, unique=True)
    return_to: Mapped[str | None] = mapped_column(ADDRESS)
    return_permit_id: Mapped[str | None] = mapped_column(HASH)
    return_operation: Mapped[str | None] = mapped_column(String(4))  # None: back to the shipper
    rejection_tx: Mapped[str] = mapped_column(HASH)
    rejection_block: Mapped[int] = mapped_column(BigInteger)
    rejected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Correction(Base):
    """A correction of a transfer, proposed by one party; in effect once the other countersigned it."""

    __tablename__ = "corrections"

    id: Mapped[str] = mapped_column(HASH, primary_key=True)
    transfer_id: Mapped[str] = mapped_column(HASH, index=True)
    proposer: Mapped[str] = mapped_column(ADDRESS)
    counterparty: Mapped[str] = mapped_column(ADDRESS)
    shipped_delta: Mapped[int] = mapped_column(BigInteger)
    received_delta: Mapped[int] = mapped_column(BigInteger)
    document_hash: Mapped[str] = mapped_column(HASH)  # zero: the document is unchanged
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # pending | applied
    proposed_tx: Mapped[str] = mapped_column(HASH)
    proposed_block: Mapped[int] = mapped_column(BigInteger)
    proposed_log_index: Mapped[int] = mapped_column(Integer)
    proposed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    countersigned_tx: Mapped[str | None] = mapped_column(HASH)
    countersigned_block: Mapped[int | None] = mapped_column(BigInteger)
    countersigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# --- idempotency keys (not derived from the chain) -----------------------------------------------


class IdempotentRequest(Base):
    """A POST made with an Idempotency-Key, and its answer once there is one (api/idempotency.py)."""

    __tablename__ = "idempotent_requests"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the caller's credentials
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    status_code: Mapped[int | None] = mapped_column(Integer)
    media_type: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)


# --- processing and metered flows ------------------------------------------------------------------
# Quantities a module's events carry as uint64 (or sums of uint64 x uint32 grams) may pass the largest
# SQL BIGINT: they are kept as decimal text (UINT256) and summed in Python.


class Processing(Base):
    """A processor's recorded processing: lot and external inputs into output lots, with losses."""

    __tablename__ = "processings"

    id: Mapped[str] = mapped_column(HASH, primary_key=True)
    processor: Mapped[str] = mapped_column(ADDRESS, index=True)
    # [{"lot_id", "code_key", "quantity", "grams_per_unit"}]
    inputs: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # [{"material", "grams", "document_hash"}]
    external_inputs: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # [{"lot_id", "kind", "code_key", "quantity", "grams_per_unit"}]
    outputs: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    input_grams: Mapped[str] = mapped_column(UINT256)
    output_grams: Mapped[str] = mapped_column(UINT256)
    loss_grams: Mapped[str] = mapped_column(UINT256)
    loss_description: Mapped[str] = mapped_column(Text)
    document_hash: Mapped[str] = mapped_column(HASH)
    recorded_tx: Mapped[str] = mapped_column(HASH)
    recorded_block: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LotLineage(Base):
    """A lot's place in a processing: one of its inputs, or one of its outputs (with the output's kind)."""

    __tablename__ = "lot_lineage"
    __table_args__ = (UniqueConstraint("processing_id", "role", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    processing_id: Mapped[str] = mapped_column(HASH, index=True)
    lot_id: Mapped[str] = mapped_column(HASH, index=True)
    role: Mapped[str] = mapped_column(String(8))  # input | output
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str | None] = mapped_column(String(16))  # product | by_product | residue (outputs)
    quantity: Mapped[str] = mapped_column(UINT256)


class LotUse(Base):
    """A holder's declaration that part of a product or by-product lot went to its final use."""

    __tablename__ = "lot_uses"

    id: Mapped[str] = mapped_column(HASH, primary_key=True)
    lot_id: Mapped[str] = mapped_column(HASH, index=True)
    holder: Mapped[str] = mapped_column(ADDRESS)
    quantity: Mapped[str] = mapped_column(UINT256)
    use: Mapped[str] = mapped_column(Text)
    document_hash: Mapped[str] = mapped_column(HASH)
    declared_tx: Mapped[str] = mapped_column(HASH)
    declared_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MeteredFlow(Base):
    __tablename__ = "metered_flows"

    id: Mapped[str] = mapped_column(HASH, primary_key=True)
    supplier: Mapped[str] = mapped_column(ADDRESS, index=True)
    offtaker: Mapped[str] = mapped_column(ADDRESS, index=True)
    medium: Mapped[str] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(String(8))
    meter_id: Mapped[str] = mapped_column(HASH)
    period_seconds: Mapped[int] = mapped_column(BigInteger)
    first_period_start: Mapped[int] = mapped_column(BigInteger)  # unix seconds, as signed
    next_period: Mapped[int] = mapped_column(BigInteger)
    registered_tx: Mapped[str] = mapped_column(HASH)
    registered_block: Mapped[int] = mapped_column(BigInteger)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MeteredPeriod(Base):
    """One anchored period of a flow: the total both parties signed, and the hash of its meter readings."""

    __tablename__ = "metered_periods"

    flow_id: Mapped[str] = mapped_column(HASH, primary_key=True)
    period: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    quantity: Mapped[str] = mapped_column(UINT256)
    reading_hash: Mapped[str] = mapped_column(HASH)
    anchored_tx: Mapped[str] = mapped_column(HASH)
    anchored_block: Mapped[int] = mapped_column(BigInteger)
    anchored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- end processing and metered flows --------------------------------------------------------------


# --- regulator actions (contracts/regulator/RegulatorActions.sol) --------------------------------


class CorrectionRequest(Base):
    """A regulator's signed request to the parties of a transfer to correct its record."""

    __tablename__ = "correction_requests"

    id: Mapped[str] = mapped_column(HASH, primary_key=True)  # the statement's EIP-712 digest
    transfer_id: Mapped[str] = mapped_column(HASH, index=True)
    regulator: Mapped[str] = mapped_column(ADDRESS)
    reason: Mapped[str] = mapped_column(Text)
    report_hash: Mapped[str] = mapped_column(HASH)  # zero: no report cited
    requested_tx: Mapped[str] = mapped_column(HASH)
    requested_block: Mapped[int] = mapped_column(BigInteger)
    requested_log_index: Mapped[int] = mapped_column(Integer)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- webhook notifications (not derived from the chain: ledger_service.notifications) -------------

from sqlalchemy import ForeignKey  # noqa: E402  (kept in this block so that merges stay simple)


class WebhookSubscription(Base):
    """A party's URL to which each change of its transfers' status is posted, signed with `secret`."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    party: Mapped[str] = mapped_column(ADDRESS, index=True)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(String(200))
    # Kept in clear: the service signs every message with it (HMAC), so it cannot keep only a hash.
    secret: Mapped[str] = mapped_column(String(64))
    # Events of blocks indexed before the subscription are history, not news: only later blocks are sent.
    after_block: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    """One chain event to one subscription: the exact body sent, and where its delivery stands."""

    __tablename__ = "webhook_deliveries"
    # A chain event is named by its place on the chain, which survives a rebuild of the read model.
    __table_args__ = (
        UniqueConstraint("subscription_id", "block_number", "log_index"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("webhook_subscriptions.id"), index=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    log_index: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(64))
    transfer_id: Mapped[str] = mapped_column(HASH)
    status: Mapped[str] = mapped_column(String(16))  # queued / delivered / failed / cancelled
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    # Attempts made before the last manual redelivery: each redelivery gets the full retry budget again.
    attempts_before_redelivery: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set while one notifier sends it, so that two service instances never send it at the same time.
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookAttempt(Base):
    """The delivery log: one row per HTTP attempt."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[int] = mapped_column(Integer)
    http_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


class NotifierCheckpoint(Base):
    """The last chain event the notifier has turned into deliveries (by its place on the chain)."""

    __tablename__ = "notifier_checkpoints"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    log_index: Mapped[int] = mapped_column(Integer)


# --- the indexer's view of the chain, and which tables the chain alone rebuilds -----------------------


class IndexedBlock(Base):
    """The hash of each recently indexed block: what a reorganisation of the chain is detected against."""

    __tablename__ = "indexed_blocks"

    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    block_hash: Mapped[str] = mapped_column(HASH)


# Every table is in exactly one of these two sets; the indexer refuses to start otherwise, so a table added
# later must be classified. A derived table holds only what chain events say: `symledger reindex` and the
# rollback of a reorganisation empty it and rebuild it by replaying events, so no handler ever needs undo
# code. A kept table holds what the chain does not have and survives both; it must not reference a derived
# table by foreign key (the derived rows are deleted and inserted again).
DERIVED_TABLES = frozenset(
    {
        "participants",
        "waste_codes",
        "permits",
        "lots",
        "certificates",
        "transfers",
        "chain_events",
        "indexer_checkpoints",
        "indexed_blocks",
        "rejections",
        "corrections",
        "processings",
        "lot_lineage",
        "lot_uses",
        "metered_flows",
        "metered_periods",
        "correction_requests",
    }
)
KEPT_TABLES = frozenset(
    {
        "signed_payloads",
        "sign_in_challenges",
        "access_tokens",
        "idempotent_requests",
        "documents",
        "document_uploaders",
        "document_audit",
        # Webhooks name chain events by block and log index, not by a derived row's id.
        "webhook_subscriptions",
        "webhook_deliveries",
        "webhook_attempts",
        "notifier_checkpoints",
    }
)


def derived_tables() -> list[Table]:
    """The derived tables, parents before children; raises if a table is in neither set or in both."""
    names = set(Base.metadata.tables)
    unclassified = sorted(names - DERIVED_TABLES - KEPT_TABLES)
    both = sorted(DERIVED_TABLES & KEPT_TABLES)
    if unclassified or both:
        raise RuntimeError(
            "every table must be in exactly one of DERIVED_TABLES and KEPT_TABLES "
            f"(ledger_service/db/models.py): unclassified {unclassified}, in both {both}"
        )
    return [table for table in Base.metadata.sorted_tables if table.name in DERIVED_TABLES]
