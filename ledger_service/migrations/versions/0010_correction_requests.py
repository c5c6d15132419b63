"""correction requests: a regulator asks the parties of a transfer to correct its record

Revision ID: 0010_correction_requests
Revises: 0009_documents_sign_in
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_correction_requests"
down_revision = "0009_documents_sign_in"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "correction_requests",
        sa.Column("id", sa.String(length=66), nullable=False),
        sa.Column("transfer_id", sa.String(length=66), nullable=False),
        sa.Column("regulator", sa.String(length=42), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("report_hash", sa.String(length=66), nullable=False),
        sa.Column("requested_tx", sa.String(length=66), nullable=False),
        sa.Column("requested_block", sa.BigInteger(), nullable=False),
        sa.Column("requested_log_index", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_correction_requests_transfer_id"), "correction_requests", ["transfer_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_correction_requests_transfer_id"), table_name="correction_requests")
    op.drop_table("correction_requests")
