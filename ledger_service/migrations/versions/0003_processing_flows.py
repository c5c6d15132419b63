"""processing and metered flows: processings, lot lineage and final uses; metered flows and their periods

Revision ID: 0003_processing_flows
Revises: 0002_returns_corrections
Create Date: 2026-11-22 17:32:18.740123
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_processing_flows"
down_revision = "0002_returns_corrections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lot_lineage",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("processing_id", sa.String(length=66), nullable=False),
        sa.Column("lot_id", sa.String(length=66), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("quantity", sa.String(length=78), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("processing_id", "role", "position"),
    )
    op.create_index(op.f("ix_lot_lineage_lot_id"), "lot_lineage", ["lot_id"], unique=False)
    op.create_index(op.f("ix_lot_lineage_processing_id"), "lot_lineage", ["processing_id"], unique=False)
    op.create_table(
        "lot_uses",
        sa.Column("id", sa.String(length=66), nullable=False),
        sa.Column("lot_id", sa.String(length=66), nullable=False),
        sa.Column("holder", sa.String(length=42), nullable=False),
        sa.Column("quantity", sa.String(length=78), nullable=False),
        sa.Column("use", sa.Text(), nullable=False),
        sa.Column("document_hash", sa.String(length=66), nullable=False),
        sa.Column("declared_tx", sa.String(length=66), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_lot_uses_lot_id"), "lot_uses", ["lot_id"], unique=False)
    op.create_table(
        "metered_flows",
        sa.Column("id", sa.String(length=66), nullable=False),
        sa.Column("supplier", sa.String(length=42), nullable=False),
        sa.Column("offtaker", sa.String(length=42), nullable=False),
        sa.Column("medium", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("meter_id", sa.String(length=66), nullable=False),
        sa.Column("period_seconds", sa.BigInteger(), nullable=False),
        sa.Column("first_period_start", sa.BigInteger(), nullable=False),
        sa.Column("next_period", sa.BigInteger(), nullable=False),
        sa.Column("registered_tx", sa.String(length=66), nullable=False),
        sa.Column("registered_block", sa.BigInteger(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_metered_flows_offtaker"), "metered_flows", ["offtaker"], unique=False)
    op.create_index(op.f("ix_metered_flows_supplier"), "metered_flows", ["supplier"], unique=False)
    op.create_table(
        "metered_periods",
        sa.Column("flow_id", sa.String(length=66), nullable=False),
        sa.Column("period", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.String(length=78), nullable=False),
        sa.Column("reading_hash", sa.String(length=66), nullable=False),
        sa.Column("anchored_tx", sa.String(length=66), nullable=False),
        sa.Column("anchored_block", sa.BigInteger(), nullable=False),
        sa.Column("anchored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("flow_id", "period"),
    )
    op.create_table(
        "processings",
        sa.Column("id", sa.String(length=66), nullable=False),
        sa.Column("processor", sa.String(length=42), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("external_inputs", sa.JSON(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("input_grams", sa.String(length=78), nullable=False),
        sa.Column("output_grams", sa.String(length=78), nullable=False),
        sa.Column("loss_grams", sa.String(length=78), nullable=False),
        sa.Column("loss_description", sa.Text(), nullable=False),
        sa.Column("document_hash", sa.String(length=66), nullable=False),
        sa.Column("recorded_tx", sa.String(length=66), nullable=False),
        sa.Column("recorded_block", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_processings_processor"), "processings", ["processor"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_processings_processor"), table_name="processings")
    op.drop_table("processings")
    op.drop_table("metered_periods")
    op.drop_index(op.f("ix_metered_flows_supplier"), table_name="metered_flows")
    op.drop_index(op.f("ix_metered_flows_offtaker"), table_name="metered_flows")
    op.drop_table("metered_flows")
    op.drop_index(op.f("ix_lot_uses_lot_id"), table_name="lot_uses")
    op.drop_table("lot_uses")
    op.drop_index(op.f("ix_lot_lineage_processing_id"), table_name="lot_lineage")
    op.drop_index(op.f("ix_lot_lineage_lot_id"), table_name="lot_lineage")
    op.drop_table("lot_lineage")
