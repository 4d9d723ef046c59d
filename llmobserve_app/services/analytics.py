"""Dashboard aggregates. Totals read the hourly rollup and the runs table, never a scan of raw events.

Windows are hour-aligned because the rollup is: "last 24 hours" is the current hour and the 23 before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from llmobserve_app.models import Run, UsageHourly, utcnow

DIMENSIONS = {"provider": UsageHourly.provider, "model": UsageHourly.model, "customer": UsageHourly.customer_id,
              "agent": UsageHourly.agent}


def hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def window_start(now: datetime, hours: int) -> datetime:
    return hour_floor(now) - timedelta(hours=hours - 1)


@dataclass(frozen=True)
class Totals:
    cost_nanos: int = 0
    calls: int = 0
    failed_calls: int = 0
    unpriced_calls: int = 0


@dataclass(frozen=True)
class DashboardSummary:
    last_24h: Totals
    last_7d: Totals
    previous_7d: Totals
    runs_7d: int
    has_any_data: bool

    @property
    def week_over_week(self) -> float | None:
        """Relative change of 7-day cost against the 7 days before; None when there is no baseline."""
        if self.previous_7d.cost_nanos == 0:
            return None
        return (self.last_7d.cost_nanos - self.previous_7d.cost_nanos) / self.previous_7d.cost_nanos


@dataclass(frozen=True)
class CostRow:
    name: str
    cost_nanos: int
    calls: int
    unpriced_calls: int


def _totals(session: Session, tenant_id: int, start: datetime, end: datetime) -> Totals:
    unpriced = sa.case((UsageHourly.priced.is_(False), UsageHourly.calls), else_=0)
    row = session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(UsageHourly.cost_nanos), 0),
            sa.func.coalesce(sa.func.sum(UsageHourly.calls), 0),
            sa.func.coalesce(sa.func.sum(UsageHourly.failed_calls), 0),
            sa.func.coalesce(sa.func.sum(unpriced), 0),
        ).where(UsageHourly.tenant_id == tenant_id, UsageHourly.hour >= start, UsageHourly.hour < end)
    ).one()
    return Totals(*(int(value) for value in row))


def dashboard_summary(session: Session, tenant_id: int, now: datetime | None = None) -> DashboardSummary:
    now = now or utcnow()
    end = hour_floor(now) + timedelta(hours=1)
    week_start = window_start(now, 24 * 7)
    runs_7d = session.execute(
        sa.select(sa.func.count()).select_from(Run).where(Run.tenant_id == tenant_id, Run.last_seen >= week_start)
    ).scalar_one()
    has_any = session.execute(
        sa.select(UsageHourly.id).where(UsageHourly.tenant_id == tenant_id).limit(1)
    ).first() is not None
    return DashboardSummary(
        last_24h=_totals(session, tenant_id, window_start(now, 24), end),
        last_7d=_totals(session, tenant_id, week_start, end),
        previous_7d=_totals(session, tenant_id, week_start - timedelta(days=7), week_start),
        runs_7d=int(runs_7d),
        has_any_data=has_any,
    )


def cost_over_time(session: Session, tenant_id: int, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """Cost per UTC day in [start, end), days without calls included as zero."""
    rows = session.execute(
        sa.select(UsageHourly.hour, sa.func.sum(UsageHourly.cost_nanos))
        .where(UsageHourly.tenant_id == tenant_id, UsageHourly.hour >= start, UsageHourly.hour < end)
        .group_by(UsageHourly.hour)
    ).all()
    first_day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    days: dict[datetime, int] = {}
    day = first_day
    while day < end:
        days[day] = 0
        day += timedelta(days=1)
    for hour, cost in rows:
        bucket = hour.replace(hour=0)
        days[bucket] = days.get(bucket, 0) + int(cost or 0)
    return sorted(days.items())


def cost_by(session: Session, tenant_id: int, dimension: str, start: datetime, end: datetime,
            limit: int = 10) -> list[CostRow]:
    column = DIMENSIONS[dimension]
    unpriced = sa.case((UsageHourly.priced.is_(False), UsageHourly.calls), else_=0)
    cost = sa.func.sum(UsageHourly.cost_nanos)
    rows = session.execute(
        sa.select(column, cost, sa.func.sum(UsageHourly.calls), sa.func.sum(unpriced))
        .where(UsageHourly.tenant_id == tenant_id, UsageHourly.hour >= start, UsageHourly.hour < end)
        .group_by(column)
        .order_by(cost.desc(), column)
        .limit(limit)
    ).all()
    return [CostRow(name or "", int(c or 0), int(n or 0), int(u or 0)) for name, c, n, u in rows]


def recent_runs(session: Session, tenant_id: int, limit: int = 10) -> list[Run]:
    return list(session.exec(
        select(Run).where(Run.tenant_id == tenant_id).order_by(Run.last_seen.desc(), Run.id.desc()).limit(limit)
    ))
