"""customer range totals

Per-customer totals over closed ranges (customer_range_totals, customer_range_state), the late-event counters
ingest bumps (tenant_late_versions), customer_usage_daily's covering index in day order, and usage_hourly's
per-customer index extended with provider (covering).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 22:03:27.017334
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import llmobserve_app.models

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DAILY_MEASURES = ['cost_nanos', 'calls', 'failed_calls', 'unpriced_calls', 'latency_ms_sum', 'input_tokens',
                   'output_tokens', 'first_seen', 'last_seen']


def _range_key() -> list[sa.Column]:
    return [
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('grain', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column('range_start', llmobserve_app.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('range_end', llmobserve_app.models.UTCDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        'customer_range_state',
        *_range_key(),
        sa.Column('late_version', sa.BigInteger(), nullable=False),
        sa.Column('build_id', sa.BigInteger(), nullable=False),
        sa.Column('built_at', llmobserve_app.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['users.id']),
        sa.PrimaryKeyConstraint('tenant_id', 'grain', 'range_start', 'range_end'),
    )
    op.create_table(
        'customer_range_totals',
        *_range_key(),
        sa.Column('customer_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False)
          for name in ('calls', 'failed_calls', 'unpriced_calls', 'cost_nanos', 'input_tokens', 'output_tokens',
                       'latency_ms_sum')),
        sa.Column('first_seen', llmobserve_app.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_seen', llmobserve_app.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['users.id']),
        sa.PrimaryKeyConstraint('tenant_id', 'grain', 'range_start', 'range_end', 'customer_id'),
        sqlite_with_rowid=False,
    )
    op.create_table(
        'tenant_late_versions',
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('late_day_version', sa.BigInteger(), nullable=False),
        sa.Column('late_hour_version', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['users.id']),
        sa.PrimaryKeyConstraint('tenant_id'),
    )
    with op.batch_alter_table('customer_usage_daily', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_usage_daily_cover')
        batch_op.create_index('ix_customer_usage_daily_day_cover', ['tenant_id', 'day', 'customer_id',
                                                                     *_DAILY_MEASURES], unique=False)
    with op.batch_alter_table('usage_hourly', schema=None) as batch_op:
        batch_op.drop_index('ix_usage_hourly_tenant_customer_hour')
        batch_op.create_index('ix_usage_hourly_customer_cover', ['tenant_id', 'customer_id', 'hour', 'provider'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('usage_hourly', schema=None) as batch_op:
        batch_op.drop_index('ix_usage_hourly_customer_cover')
        batch_op.create_index('ix_usage_hourly_tenant_customer_hour', ['tenant_id', 'customer_id', 'hour'],
                              unique=False)
    with op.batch_alter_table('customer_usage_daily', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_usage_daily_day_cover')
        batch_op.create_index('ix_customer_usage_daily_cover', ['tenant_id', 'customer_id', 'day',
                                                                 *_DAILY_MEASURES], unique=False)
    op.drop_table('tenant_late_versions')
    op.drop_table('customer_range_totals')
    op.drop_table('customer_range_state')
