"""custom prices

One account's own prices per model (``custom_prices``), used at ingest over the bundled ones.

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


def downgrade() -> None:
    op.drop_index('ix_custom_prices_tenant', table_name='custom_prices')
    op.drop_table('custom_prices')
