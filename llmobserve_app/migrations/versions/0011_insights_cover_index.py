"""insights cover index

The insights page sums two weeks of ``tenant_usage_hourly`` by model and agent: a covering index on
(tenant, hour, model, agent, priced, provider, the summed measures) answers it from the index alone.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 16:20:00.000000
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ['tenant_id', 'hour', 'model', 'agent', 'priced', 'provider', 'cost_nanos', 'calls', 'failed_calls',
           'input_tokens', 'output_tokens']


def upgrade() -> None:
    with op.batch_alter_table('tenant_usage_hourly', schema=None) as batch_op:
        batch_op.create_index('ix_tenant_usage_hourly_insights_cover', COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tenant_usage_hourly', schema=None) as batch_op:
        batch_op.drop_index('ix_tenant_usage_hourly_insights_cover')
