"""The dashboard's figures: totals of a scope, the fixed-window KPI summary and cost over time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.models import Run, TenantUsageHourly, utcnow
from llmobserve_app.services.analytics import closed_days
from llmobserve_app.services.analytics.scope import (
    Scope,
    bucket,
    buckets,
    hourly_where,
    runs_where,
    unpriced_calls_sum,
    usage_of,
    window_start,
)
from llmobserve_app.services.time_range import day_floor, hour_floor


@dataclass(frozen=True)
class Totals:
    cost_nanos: int = 0
    calls: int = 0
    failed_calls: int = 0
    unpriced_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms_sum: int = 0

    @property
    def average_latency_ms(self) -> float:
        return self.latency_ms_sum / self.calls if self.calls else 0.0


def totals(session: Session, scope: Scope, now: datetime | None = None) -> Totals:
    """The window's sums (the closed days' part kept between requests: ``closed_days``)."""
    t = usage_of(scope)

    def read(part: Scope) -> list[tuple]:
        return [tuple(session.execute(sa.select(
            sa.func.sum(t.cost_nanos), sa.func.sum(t.calls), sa.func.sum(t.failed_calls), unpriced_calls_sum(t),
            sa.func.sum(t.input_tokens), sa.func.sum(t.output_tokens), sa.func.sum(t.latency_ms_sum),
        ).where(*hourly_where(part))).one())]

    found = closed_days.summed(session, scope, now or utcnow(), "totals", 0, read)
    return Totals(*found[0]) if found else Totals()


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


def has_any_data(session: Session, tenant_id: int) -> bool:
    query = sa.select(TenantUsageHourly.id).where(TenantUsageHourly.tenant_id == tenant_id).limit(1)
    return session.execute(query).first() is not None


def dashboard_summary(session: Session, tenant_id: int, now: datetime | None = None,
                      customer_id: str | None = None) -> DashboardSummary:
    """The fixed-window KPIs: last 24 h, last 7 days (today and 6 whole days) and the 7 days before."""
    now = now or utcnow()
    end = hour_floor(now) + timedelta(hours=1)
    week_start = day_floor(now) - timedelta(days=6)
    week = Scope(tenant_id, week_start, end, customer_id)
    runs_7d = session.execute(sa.select(sa.func.count()).select_from(Run).where(*runs_where(week, now))).scalar_one()
    return DashboardSummary(
        last_24h=totals(session, Scope(tenant_id, window_start(now, 24), end, customer_id), now),
        last_7d=totals(session, week, now),
        previous_7d=totals(session, Scope(tenant_id, week_start - timedelta(days=7), week_start, customer_id), now),
        runs_7d=int(runs_7d),
        has_any_data=has_any_data(session, tenant_id),
    )


def cost_over_time(session: Session, scope: Scope, hourly: bool | None = None,
                   now: datetime | None = None) -> list[tuple[datetime, int]]:
    """Cost per UTC day (per hour for windows up to 48 h) across the window, empty buckets included (the
    closed days' hours kept between requests: ``closed_days``)."""
    hourly = (scope.end - scope.start) <= timedelta(hours=48) if hourly is None else hourly
    t = usage_of(scope)

    def read(part: Scope) -> list[tuple]:
        query = sa.select(t.hour, sa.func.sum(t.cost_nanos)).where(*hourly_where(part)).group_by(t.hour)
        return [tuple(row) for row in session.execute(query).all()]

    rows = closed_days.summed(session, scope, now or utcnow(), "cost_per_hour", 1, read)
    by_bucket = dict.fromkeys(buckets(scope, hourly), 0)
    for hour, cost in rows:
        key = bucket(hour, hourly)
        by_bucket[key] = by_bucket.get(key, 0) + int(cost or 0)
    return sorted(by_bucket.items())
