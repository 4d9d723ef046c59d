"""customer range sort indexes

The customers page, top customers and insights rank a range base's rows by cost, calls or last seen: an
index per sort key (after the range key) walks a page in order instead of sorting every customer of the
range per request.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-01 17:45:00.000000
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0013'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = ['tenant_id', 'grain', 'range_start', 'range_end']
SORTS = ('cost_nanos', 'calls', 'last_seen')


def upgrade() -> None:
    with op.batch_alter_table('customer_range_totals', schema=None) as batch_op:
        for column in SORTS:
            batch_op.create_index(f'ix_customer_range_totals_{column}', [*KEY, column, 'customer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('customer_range_totals', schema=None) as batch_op:
        for column in SORTS:
            batch_op.drop_index(f'ix_customer_range_totals_{column}')
