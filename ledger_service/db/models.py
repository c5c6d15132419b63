"""Tables of the read model and the outbox.

Which tables are derived from chain events (and rebuilt from the chain alone) and which are kept is
declared in DERIVED_TABLES and KEPT_TABLES at the end; `signed_payloads` holds parties' signed statements
until the chain has them.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Index, Integer, String, Table, Text, UniqueConstraint
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
    status: Mapped[str] = mapped_column(String(16), index=True)
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
    }
)
KEPT_TABLES = frozenset(
    {
        "signed_payloads",
        "sign_in_challenges",
        "access_tokens",
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
