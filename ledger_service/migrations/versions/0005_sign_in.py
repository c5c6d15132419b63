"""sign-in challenges and access tokens

Revision ID: 0005_sign_in
Revises: 0004_documents
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_sign_in"
down_revision = "0004_documents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_challenges",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("nonce"),
    )
    op.create_table(
        "access_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index(op.f("ix_access_tokens_address"), "access_tokens", ["address"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_access_tokens_address"), table_name="access_tokens")
    op.drop_table("access_tokens")
    op.drop_table("sign_in_challenges")
