"""spending caps

``caps`` (a limit on a scope's priced cost per UTC period) and ``cap_alerts`` (each level fired at most once
per cap, period and customer: the unique key).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 15:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import llmobserve_app.models

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'caps',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column('limit_nanos', sa.BigInteger(), nullable=False),
        sa.Column('threshold_pct', sa.Integer(), nullable=False),
        sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column('notify_email', sa.Boolean(), nullable=False),
        sa.Column('slack_webhook_url', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column('webhook_url', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', llmobserve_app.models.UTCDateTime(), nullable=False),
        sa.Column('updated_at', llmobserve_app.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_caps_tenant_enabled', 'caps', ['tenant_id', 'enabled'])
    op.create_table(
        'cap_alerts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('cap_id', sa.Integer(), nullable=False),
        sa.Column('level', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column('period_start', llmobserve_app.models.UTCDateTime(), nullable=False),
        sa.Column('scope_value', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('spend_nanos', sa.BigInteger(), nullable=False),
        sa.Column('limit_nanos', sa.BigInteger(), nullable=False),
        sa.Column('created_at', llmobserve_app.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['cap_id'], ['caps.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tenant_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('cap_id', 'period_start', 'level', 'scope_value', name='uq_cap_alerts_once'),
    )
    op.create_index('ix_cap_alerts_tenant_created', 'cap_alerts', ['tenant_id', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_cap_alerts_tenant_created', table_name='cap_alerts')
    op.drop_table('cap_alerts')
    op.drop_index('ix_caps_tenant_enabled', table_name='caps')
    op.drop_table('caps')
