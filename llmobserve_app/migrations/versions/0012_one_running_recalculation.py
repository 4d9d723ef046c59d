"""one running recalculation per account

A recalculation started from the API or the page runs in a child process of its own; a partial unique index
on ``price_recalculations(tenant_id) WHERE status = 'running'`` keeps an account to one running job, even
when two requests race, so a client looping on POST /v1/prices/recalculate cannot start processes without
bound. Jobs left running twice by an older version are failed first (the newest of each account kept).
``attempts`` counts the runners started for a job: one whose runners keep dying is given up. ``cursor_id`` goes:
chunks are ``started_at`` ranges, so ``cursor_started`` alone says where a job stands.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 18:50:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNNING = sa.text("status = 'running'")


def upgrade() -> None:
    with op.batch_alter_table('price_recalculations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.drop_column('cursor_id')
    op.execute("UPDATE price_recalculations SET status = 'failed', error = 'superseded by a newer job' "
               "WHERE status = 'running' AND id NOT IN (SELECT max(id) FROM price_recalculations "
               "WHERE status = 'running' GROUP BY tenant_id)")
    op.create_index('ux_price_recalculations_one_running', 'price_recalculations', ['tenant_id'], unique=True,
                    sqlite_where=RUNNING, postgresql_where=RUNNING)


def downgrade() -> None:
    op.drop_index('ux_price_recalculations_one_running', table_name='price_recalculations')
    with op.batch_alter_table('price_recalculations', schema=None) as batch_op:
        batch_op.drop_column('attempts')
        batch_op.add_column(sa.Column('cursor_id', sa.BigInteger(), nullable=True))
