"""documents: encrypted document records, uploaders, audit log, signed-request nonces

Revision ID: 0004_documents
Revises: 0003_processing_flows
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_documents"
down_revision = "0003_processing_flows"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("sha256", sa.String(length=66), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_table(
        "document_uploaders",
        sa.Column("sha256", sa.String(length=66), nullable=False),
        sa.Column("uploader", sa.String(length=42), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "uploader"),
    )
    op.create_index(op.f("ix_document_uploaders_uploader"), "document_uploaders", ["uploader"], unique=False)
    op.create_table(
        "document_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("party", sa.String(length=42), nullable=False),
        sa.Column("sha256", sa.String(length=66), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_document_audit_party"), "document_audit", ["party"], unique=False)
    op.create_index(op.f("ix_document_audit_sha256"), "document_audit", ["sha256"], unique=False)
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
    op.create_index("ix_transfers_document_hash", "transfers", ["document_hash"], unique=False)
    op.create_index("ix_lots_document_hash", "lots", ["document_hash"], unique=False)
    op.create_index("ix_certificates_document_hash", "certificates", ["document_hash"], unique=False)
    op.create_index("ix_certificates_results_hash", "certificates", ["results_hash"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_certificates_results_hash", table_name="certificates")
    op.drop_index("ix_certificates_document_hash", table_name="certificates")
    op.drop_index("ix_lots_document_hash", table_name="lots")
    op.drop_index("ix_transfers_document_hash", table_name="transfers")
    op.drop_index(op.f("ix_document_request_nonces_expires_at"), table_name="document_request_nonces")
    op.drop_table("document_request_nonces")
    op.drop_index(op.f("ix_document_audit_sha256"), table_name="document_audit")
    op.drop_index(op.f("ix_document_audit_party"), table_name="document_audit")
    op.drop_table("document_audit")
    op.drop_index(op.f("ix_document_uploaders_uploader"), table_name="document_uploaders")
    op.drop_table("document_uploaders")
    op.drop_table("documents")
