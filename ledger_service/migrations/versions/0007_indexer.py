"""hashes of recently indexed blocks (reorganisation detection)

Revision ID: 0007_indexer
Revises: 0006_webhooks
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_indexer"
down_revision = "0006_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "indexed_blocks",
        sa.Column("block_number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("block_number"),
    )


def downgrade() -> None:
    op.drop_table("indexed_blocks")
