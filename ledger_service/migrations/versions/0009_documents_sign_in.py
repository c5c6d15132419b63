"""documents: signed in with a bearer token like every endpoint; the signed-request nonces go

Revision ID: 0009_documents_sign_in
Revises: 0008_idempotency
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_documents_sign_in"
down_revision = "0008_idempotency"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index(op.f("ix_document_request_nonces_expires_at"), table_name="document_request_nonces")
    op.drop_table("document_request_nonces")


def downgrade() -> None:
    op.create_table(
        "document_request_nonces",
        sa.Column("party", sa.String(length=42), nullable=False),
        sa.Column("nonce", sa.String(length=66), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("party", "nonce"),
    )
    op.create_index(
        op.f("ix_document_request_nonces_expires_at"), "document_request_nonces", ["expires_at"], unique=False
    )
