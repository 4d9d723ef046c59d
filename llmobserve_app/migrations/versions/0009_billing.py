"""billing: subscription state per account, handled Stripe events, promo code redemptions

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 15:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import llmobserve_app.models

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'billing_accounts',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('stripe_customer_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column('stripe_subscription_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column('current_period_end', llmobserve_app.models.UTCDateTime(), nullable=True),
        sa.Column('cancel_at_period_end', sa.Boolean(), nullable=False),
        sa.Column('promo_code', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column('updated_at', llmobserve_app.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('user_id'),
    )
    op.create_index(op.f('ix_billing_accounts_stripe_customer_id'), 'billing_accounts', ['stripe_customer_id'],
                    unique=True)
    op.create_table(
        'stripe_webhook_events',
        sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('received_at', llmobserve_app.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'promo_redemptions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('redeemed_at', llmobserve_app.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code', 'user_id', name='uq_promo_redemptions_code_user'),
    )
    op.create_index(op.f('ix_promo_redemptions_code'), 'promo_redemptions', ['code'], unique=False)
    op.create_index(op.f('ix_promo_redemptions_user_id'), 'promo_redemptions', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_promo_redemptions_user_id'), table_name='promo_redemptions')
    op.drop_index(op.f('ix_promo_redemptions_code'), table_name='promo_redemptions')
    op.drop_table('promo_redemptions')
    op.drop_table('stripe_webhook_events')
    op.drop_index(op.f('ix_billing_accounts_stripe_customer_id'), table_name='billing_accounts')
    op.drop_table('billing_accounts')
