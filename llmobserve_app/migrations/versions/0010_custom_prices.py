"""custom prices, price recalculations and price data updates

One account's own prices per model (``custom_prices``), used at ingest over the bundled ones, and the
progress and audit record of each re-pricing of past calls (``price_recalculations``), and each fetch of
``PRICING_URL`` (``price_data_updates``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 15:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import llmobserve_app.models

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'custom_prices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('input_nanos_per_mtok', sa.BigInteger(), nullable=False),
        sa.Column('output_nanos_per_mtok', sa.BigInteger(), nullable=False),
        sa.Column('cached_input_nanos_per_mtok', sa.BigInteger(), nullable=True),
        sa.Column('reasoning_nanos_per_mtok', sa.BigInteger(), nullable=True),
        sa.Column('per_request_nanos', sa.BigInteger(), nullable=True),
        sa.Column('effective_from', llmobserve_app.models.UTCDateTime(), nullable=True),
        sa.Column('created_at', llmobserve_app.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['users.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_custom_prices_tenant', 'custom_prices', ['tenant_id'], unique=False)
    op.create_table(
        'price_recalculations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('window_start', llmobserve_app.models.UTCDateTime(), nullable=False),
        sa.Column('window_end', llmobserve_app.models.UTCDateTime(), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('events_seen', sa.BigInteger(), nullable=False),
        sa.Column('calls_changed', sa.BigInteger(), nullable=False),
        sa.Column('cost_before_nanos', sa.BigInteger(), nullable=False),
        sa.Column('cost_after_nanos', sa.BigInteger(), nullable=False),
        sa.Column('unpriced_before', sa.BigInteger(), nullable=False),
        sa.Column('unpriced_after', sa.BigInteger(), nullable=False),
        sa.Column('cursor_started', llmobserve_app.models.UTCDateTime(), nullable=True),
        sa.Column('cursor_id', sa.BigInteger(), nullable=True),
        sa.Column('created_at', llmobserve_app.models.UTCDateTime(), nullable=False),
        sa.Column('updated_at', llmobserve_app.models.UTCDateTime(), nullable=False),
        sa.Column('finished_at', llmobserve_app.models.UTCDateTime(), nullable=True),
        sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.ForeignKeyConstraint(['tenant_id'], ['users.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_price_recalculations_tenant', 'price_recalculations', ['tenant_id', 'id'], unique=False)


    op.create_table(
        'price_data_updates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column('fetched_at', llmobserve_app.models.UTCDateTime(), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column('accepted_entries', sa.Integer(), nullable=False),
        sa.Column('problems', sa.Text(), nullable=False),
        sa.Column('document', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('price_data_updates')
    op.drop_index('ix_price_recalculations_tenant', table_name='price_recalculations')
    op.drop_table('price_recalculations')
    op.drop_index('ix_custom_prices_tenant', table_name='custom_prices')
    op.drop_table('custom_prices')
