"""A scope's spend in a period, DERIVED from the rollups each time (never a counter): priced cost since the
period started, and the number of unpriced calls (not spend, but shown next to it).

Global, provider, model and agent spend come from ``tenant_usage_hourly`` (a few rows per hour; periods start
on whole hours, so it is exact), grouped by only the columns the caps need. Customer spend comes from
``customer_usage_daily`` (periods start on whole UTC days) through its (tenant, customer, day) key, and
``customer:*`` finds every customer at or over a threshold in the same grouped query (HAVING). Each is ONE
query for all periods at once (a conditional sum per period), built once and reused: ingest runs them after
every batch of a tenant with caps.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.models import CustomerUsageDaily, TenantLateVersion, TenantUsageHourly, UTCDateTime
from llmobserve_app.services.caps.periods import PERIODS
from llmobserve_app.services.caps.touched import agents_in

HOURLY = TenantUsageHourly.__table__
DAILY = CustomerUsageDaily.__table__
Bounds = dict[str, tuple[datetime, datetime]]  # period → [start, end)
_NEVER = datetime(9999, 1, 1, tzinfo=UTC)  # the bounds of a period no cap asked for: sums nothing
_UNREACHABLE = 2**63 - 1


@dataclass
class Spend:
    cost_nanos: int = 0
    unpriced_calls: int = 0

    def add(self, cost_nanos: int, unpriced_calls: int) -> None:
        self.cost_nanos += cost_nanos
        self.unpriced_calls += unpriced_calls


@dataclass
class ScopeSpends:
    """Spend in one period over all customers: in total and per provider, model and agent (asked ones only)."""

    total: Spend = field(default_factory=Spend)
    providers: dict[str, Spend] = field(default_factory=dict)
    models: dict[str, Spend] = field(default_factory=dict)
    agents: dict[str, Spend] = field(default_factory=dict)

    def plus(self, other: ScopeSpends) -> ScopeSpends:
        """A new ScopeSpends: this one and ``other`` added up (neither is changed: cached ones are shared)."""
        total = ScopeSpends(Spend(self.total.cost_nanos, self.total.unpriced_calls))
        total.total.add(other.total.cost_nanos, other.total.unpriced_calls)
        for mine, theirs, into in ((self.providers, other.providers, total.providers),
                                   (self.models, other.models, total.models),
                                   (self.agents, other.agents, total.agents)):
            for source in (mine, theirs):
                for key, spend in source.items():
                    into.setdefault(key, Spend()).add(spend.cost_nanos, spend.unpriced_calls)
        return total

    def of(self, scope: str, value: str) -> Spend:
        if scope == "global":
            return self.total
        return {"provider": self.providers, "model": self.models, "agent": self.agents}[scope].get(value, Spend())


def _in_period(column: sa.ColumnElement[Any], period: str) -> sa.ColumnElement[bool]:
    return sa.and_(column >= sa.bindparam(f"{period}_start", type_=UTCDateTime()),
                   column < sa.bindparam(f"{period}_end", type_=UTCDateTime()))


def _sum_in(column: sa.ColumnElement[Any], measure: sa.ColumnElement[Any], period: str) -> sa.ColumnElement[Any]:
    return sa.func.sum(sa.case((_in_period(column, period), measure), else_=0))


def _window(column: sa.ColumnElement[Any]) -> list[sa.ColumnElement[bool]]:
    return [column >= sa.bindparam("from", type_=UTCDateTime()), column < sa.bindparam("to", type_=UTCDateTime())]


def _params(tenant_id: int, bounds: Bounds) -> dict[str, Any]:
    params: dict[str, Any] = {"tenant": tenant_id, "from": min(start for start, _ in bounds.values()),
                              "to": max(end for _, end in bounds.values())}
    for period in PERIODS:
        params[f"{period}_start"], params[f"{period}_end"] = bounds.get(period, (_NEVER, _NEVER))
    return params


@cache
def _scope_query(providers: bool, models: bool, agents: bool) -> sa.Select[Any]:
    keys = [column for column, wanted in ((HOURLY.c.provider, providers), (HOURLY.c.model, models),
                                          (HOURLY.c.section_path, agents)) if wanted]
    sums = [_sum_in(HOURLY.c.hour, measure, period) for period in PERIODS
            for measure in (HOURLY.c.cost_nanos, HOURLY.c.calls)]
    return (sa.select(*keys, HOURLY.c.priced, *sums)
            .where(HOURLY.c.tenant_id == sa.bindparam("tenant"), *_window(HOURLY.c.hour))
            .group_by(*keys, HOURLY.c.priced))


def scope_spends(session: Session, tenant_id: int, bounds: Bounds, *, providers: bool = False,
                 models: bool = False, agents: bool = False) -> dict[str, ScopeSpends]:
    """Spend per period of ``bounds``, from one grouped query on ``tenant_usage_hourly``. Periods with the same
    window (the open hours usually are the same for a day, a week and a month) share one result, summed once;
    an empty window costs nothing."""
    spends: dict[str, ScopeSpends] = {}
    summed: list[tuple[int, ScopeSpends]] = []  # (index of the period's sums in a row, its result)
    by_window: dict[tuple[datetime, datetime], ScopeSpends] = {}
    for index, period in enumerate(PERIODS):
        if period not in bounds:
            continue
        window = bounds[period]
        if window[0] >= window[1]:
            spends[period] = ScopeSpends()
            continue
        if window not in by_window:
            by_window[window] = ScopeSpends()
            summed.append((index, by_window[window]))
        spends[period] = by_window[window]
    if not summed:
        return spends
    keys = [name for name, wanted in (("provider", providers), ("model", models), ("section_path", agents))
            if wanted]
    asked = {PERIODS[index]: bounds[PERIODS[index]] for index, _ in summed}
    for row in session.execute(_scope_query(providers, models, agents), _params(tenant_id, asked)):
        named = dict(zip(keys, row, strict=False))
        priced = row[len(keys)]
        sums = row[len(keys) + 1:]
        row_agents = agents_in(named["section_path"]) if agents else ()
        for index, spend in summed:
            cost, calls = int(sums[2 * index] or 0), int(sums[2 * index + 1] or 0)
            cost, unpriced = (cost, 0) if priced else (0, calls)
            if not cost and not unpriced:
                continue
            spend.total.add(cost, unpriced)
            if providers:
                spend.providers.setdefault(named["provider"], Spend()).add(cost, unpriced)
            if models:
                spend.models.setdefault(named["model"], Spend()).add(cost, unpriced)
            for agent in row_agents:
                spend.agents.setdefault(agent, Spend()).add(cost, unpriced)
    return spends


# On SQLite, ``+day`` (a unary plus: the term cannot use an index) makes the planner seek the (tenant,
# customer, day) key once per named customer instead of scanning the day index over every customer of the
# period: the after-batch query then costs per customer of the batch, not per customer of the tenant.
_SQLITE_SEEK_DAY = sa.literal_column(f"+{DAILY.name}.{DAILY.c.day.name}", type_=UTCDateTime())


@cache
def _customer_query(over_thresholds: bool, sqlite: bool = False) -> sa.Select[Any]:
    costs = {period: _sum_in(DAILY.c.day, DAILY.c.cost_nanos, period) for period in PERIODS}
    window_column = _SQLITE_SEEK_DAY if sqlite and not over_thresholds else DAILY.c.day
    query = (sa.select(DAILY.c.customer_id, *(column for period in PERIODS for column in (
                 costs[period], _sum_in(DAILY.c.day, DAILY.c.unpriced_calls, period))))
             .where(DAILY.c.tenant_id == sa.bindparam("tenant"), *_window(window_column))
             .group_by(DAILY.c.customer_id))
    named = DAILY.c.customer_id.in_(sa.bindparam("customers", expanding=True))
    if not over_thresholds:
        return query.where(named)
    return query.having(sa.or_(named, *(costs[period] >= sa.bindparam(f"{period}_at_least", type_=sa.BigInteger())
                                        for period in PERIODS)))


def customer_spends(session: Session, tenant_id: int, bounds: Bounds, *, customers: Collection[str] = (),
                    at_least: dict[str, int] | None = None) -> dict[str, dict[str, Spend]]:
    """Spend per period of ``bounds`` and customer: of ``customers``, plus every customer whose spend in a
    period is at least ``at_least[period]`` nano-dollars when given (the ``customer:*`` caps), in one query."""
    result: dict[str, dict[str, Spend]] = {period: {} for period in bounds}
    if not customers and not at_least:
        return result
    params = {**_params(tenant_id, bounds), "customers": sorted(customers)}
    for period in PERIODS:
        params[f"{period}_at_least"] = (at_least or {}).get(period, _UNREACHABLE)
    query = _customer_query(bool(at_least), session.get_bind().dialect.name == "sqlite")
    for customer, *sums in session.execute(query, params):
        for index, period in enumerate(PERIODS):
            if period in result:
                result[period][customer] = Spend(int(sums[2 * index] or 0), int(sums[2 * index + 1] or 0))
    return result


def top_customers(session: Session, tenant_id: int, bounds: Bounds) -> dict[str, tuple[str, Spend]]:
    """Per period of ``bounds``, the customer who spent the most in it (what a ``customer:*`` cap shows when
    none is near), in one query: a ``LIMIT 1`` per period, joined by UNION ALL. Periods nobody spent in are
    left out."""
    if not bounds:
        return {}
    cost = sa.func.sum(DAILY.c.cost_nanos)
    parts = []
    for period, (start, end) in sorted(bounds.items()):
        top = (sa.select(sa.literal(period).label("period"), DAILY.c.customer_id.label("customer"),
                         cost.label("cost"), sa.func.sum(DAILY.c.unpriced_calls).label("unpriced"))
               .where(DAILY.c.tenant_id == tenant_id, DAILY.c.day >= start, DAILY.c.day < end)
               .group_by(DAILY.c.customer_id).order_by(cost.desc(), DAILY.c.customer_id).limit(1).subquery())
        parts.append(sa.select(top))
    query = parts[0] if len(parts) == 1 else sa.union_all(*parts)
    return {period: (customer, Spend(int(cost_ or 0), int(unpriced or 0)))
            for period, customer, cost_, unpriced in session.execute(query)}


# -- the closed days and hours of a period, cached -------------------------------------------------------------
LATE_VERSIONS = TenantLateVersion.__table__
_GRACE = timedelta(hours=1)  # a batch still being written at the turn of the hour lands in an hour kept open


def closed_until(now: datetime) -> datetime:
    """Hours before this are closed for caching: an hour before the current hour (by ``now`` and by the real
    clock, whichever is earlier: ingest flags late events by the real clock). A batch for a closed hour bumps
    the tenant's ``late_hour_version`` (``customer_ranges.LATE_SQL``), which is part of the cache key."""
    return (min(now, datetime.now(UTC)) - _GRACE).replace(minute=0, second=0, microsecond=0)


def closed_days_until(now: datetime) -> datetime:
    """Days before this are closed for caching (the day holding ``closed_until``): a batch for an earlier day
    also bumps ``late_day_version``, while events of the previous hour — every batch for a while after each
    hour turns, or a client sending a little late — bump only ``late_hour_version``."""
    return closed_until(now).replace(hour=0)


class ClosedHoursCache:
    """``scope_spends`` of the closed part of periods, per tenant: after each batch only the open hours are
    summed, so a month cap costs the same on day 30 as on day 1. Two segments: the closed days, keyed by
    ``late_day_version``, and today's closed hours, keyed by ``late_hour_version`` — so a batch holding events
    of an earlier hour makes at most a day of rollups be summed again, not the month. Still derived: a late
    event changes a version, a new hour or day a boundary, and either makes a new entry."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._entries: dict[tuple[Any, ...], dict[str, ScopeSpends]] = {}
        self._lock = threading.Lock()

    def _cached(self, session: Session, key: tuple[Any, ...], tenant_id: int, bounds: Bounds,
                flags: dict[str, bool]) -> dict[str, ScopeSpends]:
        key = (str(session.get_bind().url), tenant_id, *key, tuple(sorted(bounds.items())),
               *(flags[name] for name in ("providers", "models", "agents")))
        cached = self._entries.get(key)
        if cached is None:
            cached = scope_spends(session, tenant_id, bounds, **flags)
            with self._lock:
                if len(self._entries) >= self.size:
                    self._entries.clear()
                self._entries[key] = cached
        return cached

    def spends(self, session: Session, tenant_id: int, bounds: Bounds, now: datetime, *, providers: bool = False,
               models: bool = False, agents: bool = False) -> dict[str, ScopeSpends]:
        days_end, hours_end = closed_days_until(now), closed_until(now)

        def cut(start: datetime, end: datetime, moment: datetime) -> datetime:
            return max(start, min(end, moment))

        days = {period: (start, cut(start, end, days_end)) for period, (start, end) in bounds.items()}
        hours = {period: (cut(start, end, days_end), cut(start, end, hours_end))
                 for period, (start, end) in bounds.items()}
        open_ = {period: (cut(start, end, hours_end), end) for period, (start, end) in bounds.items()}
        flags = {"providers": providers, "models": models, "agents": agents}
        versions = session.execute(sa.select(LATE_VERSIONS.c.late_day_version, LATE_VERSIONS.c.late_hour_version)
                                   .where(LATE_VERSIONS.c.tenant_id == tenant_id)).first() or (0, 0)
        closed_days = self._cached(session, ("days", versions[0]), tenant_id, days, flags)
        closed_hours_today = self._cached(session, ("hours", versions[1]), tenant_id, hours, flags)
        recent = scope_spends(session, tenant_id, open_, **flags)
        return {period: closed_days[period].plus(closed_hours_today[period]).plus(recent[period])
                for period in bounds}


closed_hours = ClosedHoursCache()
