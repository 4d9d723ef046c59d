"""notifications outbox and webhook signing secrets

``notifications``: messages to deliver (email, Slack, webhook), one per source and channel, claimed by the
delivery job with a lease. ``webhook_signing_secrets``: each account's secret for signing its webhooks.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 15:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import llmobserve_app.models

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'notifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('source_kind', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column('source_id', sa.BigInteger(), nullable=False),
        sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('target', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
        sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', llmobserve_app.models.UTCDateTime(), nullable=False),
        sa.Column('claim_token', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column('claimed_until', llmobserve_app.models.UTCDateTime(), nullable=True),
        sa.Column('last_status_code', sa.Integer(), nullable=True),
        sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column('created_at', llmobserve_app.models.UTCDateTime(), nullable=False),
        sa.Column('sent_at', llmobserve_app.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['tenant_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('source_kind', 'source_id', 'channel', name='uq_notifications_source_channel'),
    )
    op.create_index('ix_notifications_due', 'notifications', ['status', 'next_attempt_at'])
    op.create_index('ix_notifications_tenant_source', 'notifications', ['tenant_id', 'source_kind', 'source_id'])
    op.create_table(
        'webhook_signing_secrets',
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('secret', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('created_at', llmobserve_app.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['users.id']),
        sa.PrimaryKeyConstraint('tenant_id'),
    )


def downgrade() -> None:
    op.drop_table('webhook_signing_secrets')
    op.drop_index('ix_notifications_tenant_source', table_name='notifications')
    op.drop_index('ix_notifications_due', table_name='notifications')
    op.drop_table('notifications')
