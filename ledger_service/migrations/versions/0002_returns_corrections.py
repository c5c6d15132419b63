"""rejections with their return transfers, and corrections

Revision ID: 0002_returns_corrections
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_returns_corrections"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The new statuses ("partially_rejected") outgrow 16 characters. SQLite does not enforce the length
    # (and cannot alter a column in place); the others widen it.
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("transfers", "status", type_=sa.String(length=32), existing_type=sa.String(length=16))
    op.create_table(
        "rejections",
        sa.Column("transfer_id", sa.String(length=66), nullable=False),
        sa.Column("receiver", sa.String(length=42), nullable=False),
        sa.Column("accepted_quantity", sa.BigInteger(), nullable=False),
        sa.Column("rejected_quantity", sa.BigInteger(), nullable=False),
        sa.Column("shipped_quantity", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("return_id", sa.String(length=66), nullable=True),
        sa.Column("return_to", sa.String(length=42), nullable=True),
        sa.Column("return_permit_id", sa.String(length=66), nullable=True),
        sa.Column("return_operation", sa.String(length=4), nullable=True),
        sa.Column("rejection_tx", sa.String(length=66), nullable=False),
        sa.Column("rejection_block", sa.BigInteger(), nullable=False),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("transfer_id"),
        sa.UniqueConstraint("return_id"),
    )
    op.create_table(
        "corrections",
        sa.Column("id", sa.String(length=66), nullable=False),
        sa.Column("transfer_id", sa.String(length=66), nullable=False),
        sa.Column("proposer", sa.String(length=42), nullable=False),
        sa.Column("counterparty", sa.String(length=42), nullable=False),
        sa.Column("shipped_delta", sa.BigInteger(), nullable=False),
        sa.Column("received_delta", sa.BigInteger(), nullable=False),
        sa.Column("document_hash", sa.String(length=66), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposed_tx", sa.String(length=66), nullable=False),
        sa.Column("proposed_block", sa.BigInteger(), nullable=False),
        sa.Column("proposed_log_index", sa.Integer(), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("countersigned_tx", sa.String(length=66), nullable=True),
        sa.Column("countersigned_block", sa.BigInteger(), nullable=True),
        sa.Column("countersigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_corrections_transfer_id"), "corrections", ["transfer_id"], unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("transfers", "status", type_=sa.String(length=16), existing_type=sa.String(length=32))
    op.drop_index(op.f("ix_corrections_transfer_id"), table_name="corrections")
    op.drop_table("corrections")
    op.drop_table("rejections")
