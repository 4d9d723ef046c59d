"""The daily retention job: delete each account's raw events and rollups older than its plan keeps.

- Hosted: Free keeps 30 days, Pro 400 (``plans.py``). Self-hosted: ``RETENTION_DAYS`` when set, else nothing.
- The cut-off is a UTC midnight, so every hourly and daily rollup bucket is either wholly kept or wholly
  deleted, exactly like the events it sums: totals read from rollups and from events still agree.
- Runs are deleted when their last call is before the cut-off (a run spanning it keeps its totals).
- Per-customer range totals (``customer_range_totals``) summed from deleted rollups are invalidated in the same
  transaction as the rollup rows (``customer_ranges.invalidate``): readers rebuild them from what is left.
- Deletes go in chunks of ``chunk_rows`` rows, one short transaction each with a pause between, so ingest (which
  needs SQLite's one write lock) never waits long.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from llmobserve_app.db import session_scope
from llmobserve_app.models import User, utcnow
from llmobserve_app.services import customer_ranges
from llmobserve_app.services.billing.plans import Plan
from llmobserve_app.services.rollups import (
    CUSTOMER_DAILY,
    EVENTS,
    HOURLY,
    RUNS,
    TENANT_HOURLY,
    TENANT_UNIT_HOURLY,
    UNIT_HOURLY,
)
from llmobserve_app.services.time_range import day_floor

logger = logging.getLogger(__name__)

CHUNK_ROWS = 2000
PAUSE_SECONDS = 0.05
# (table, its time column); rollups first, so a page never shows events its totals no longer count.
ROLLUP_TABLES = ((HOURLY, "hour"), (TENANT_HOURLY, "hour"), (CUSTOMER_DAILY, "day"), (UNIT_HOURLY, "hour"),
                 (TENANT_UNIT_HOURLY, "hour"))
OTHER_TABLES = ((RUNS, "last_seen"), (EVENTS, "started_at"))
_RANGE_SOURCES = {HOURLY.name, CUSTOMER_DAILY.name}  # what customer_range_totals are summed from


@dataclass
class RetentionResult:
    tenants: int = 0
    deleted: dict[str, int] = field(default_factory=dict)


def cutoff(plan: Plan, now: datetime) -> datetime | None:
    """Rows strictly before this UTC midnight are deleted; None: the plan keeps everything."""
    if plan.history_days is None:
        return None
    return day_floor(now) - timedelta(days=plan.history_days)


def _delete_chunk(session: Session, table: sa.Table, column: str, tenant_id: int, before: datetime,
                  chunk_rows: int) -> int:
    key = table.c.id
    doomed = (sa.select(key).where(table.c.tenant_id == tenant_id, table.c[column] < before)
              .limit(chunk_rows).scalar_subquery())
    return session.execute(sa.delete(table).where(key.in_(doomed))).rowcount or 0


def purge_tenant(engine: sa.Engine, tenant_id: int, before: datetime, chunk_rows: int = CHUNK_ROWS,
                 pause_seconds: float = PAUSE_SECONDS) -> dict[str, int]:
    """Delete the tenant's rows older than ``before`` (a UTC midnight), chunk by chunk; counts per table."""
    deleted: dict[str, int] = {}
    for table, column in (*ROLLUP_TABLES, *OTHER_TABLES):
        while True:
            with session_scope(engine) as session:
                count = _delete_chunk(session, table, column, tenant_id, before, chunk_rows)
                if count and table.name in _RANGE_SOURCES:
                    customer_ranges.invalidate(session, tenant_id)
            deleted[table.name] = deleted.get(table.name, 0) + count
            if count < chunk_rows:
                break
            time.sleep(pause_seconds)
    return deleted


def apply_retention(engine: sa.Engine, plan_of: Callable[[Session, int], Plan], now: datetime | None = None,
                    chunk_rows: int = CHUNK_ROWS, pause_seconds: float = PAUSE_SECONDS) -> RetentionResult:
    """Purge every account by its plan (``plan_of(session, user_id)``, e.g. ``subscriptions.plan_for``)."""
    now = now or utcnow()
    with session_scope(engine) as session:
        tenants = [(user_id, cutoff(plan_of(session, user_id), now))
                   for user_id in session.exec(select(User.id).order_by(User.id))]
    result = RetentionResult()
    for tenant_id, before in tenants:
        if before is None:
            continue
        result.tenants += 1
        for name, count in purge_tenant(engine, tenant_id, before, chunk_rows, pause_seconds).items():
            result.deleted[name] = result.deleted.get(name, 0) + count
    return result
