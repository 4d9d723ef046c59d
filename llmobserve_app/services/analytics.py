"""Aggregates for every analytics page and the read API.

Everything here reads rollups — never a scan of raw events — except ``run_detail``, which reads one run's
events. Each query picks the smallest exact source for its scope:

- all customers: ``tenant_usage_hourly`` (a few rows per hour, whatever the number of customers);
- one customer: ``usage_hourly`` (indexed by tenant, customer, hour);
- the customer dimension over whole UTC days: ``customer_usage_daily`` (one narrow row per customer-day),
  else ``usage_hourly``; across all customers, the closed part of the window comes pre-summed per customer
  from ``customer_range_totals`` (services/customer_ranges.py) and only the open part (today, or this hour)
  is read from those rollups.

Windows are hour-aligned because the rollups are.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Session, select

from llmobserve_app.models import (
    CustomerUsageDaily,
    Event,
    Run,
    TenantUnitUsageHourly,
    TenantUsageHourly,
    UnitUsageHourly,
    UsageHourly,
    UTCDateTime,
    utcnow,
)
from llmobserve_app.services import customer_ranges, rollups
from llmobserve_app.services.time_range import day_floor, hour_floor

# Providers whose calls are infrastructure (vector DBs, search, speech), not LLM inference.
INFRA_PROVIDERS = frozenset({
    "pinecone", "qdrant", "weaviate", "chroma", "milvus", "tavily", "serper", "serpapi", "exa", "brave",
    "deepgram", "assemblyai", "elevenlabs", "cartesia", "firecrawl",
})
UNTRACKED = "untracked"
GROUP_BY = ("provider", "model", "customer", "agent", "day")
Usage = type[UsageHourly] | type[TenantUsageHourly]
T = TypeVar("T")


def window_start(now: datetime, hours: int) -> datetime:
    return hour_floor(now) - timedelta(hours=hours - 1)


@dataclass(frozen=True)
class Scope:
    """Whose data, over which window, optionally for one of their customers."""

    tenant_id: int
    start: datetime
    end: datetime
    customer_id: str | None = None


def _usage(scope: Scope) -> Usage:
    return TenantUsageHourly if scope.customer_id is None else UsageHourly


def _hourly_where(scope: Scope, table: Usage | None = None) -> list[sa.ColumnElement[bool]]:
    table = table or _usage(scope)
    conditions = [table.tenant_id == scope.tenant_id, table.hour >= scope.start, table.hour < scope.end]
    if scope.customer_id is not None:
        conditions.append(UsageHourly.customer_id == scope.customer_id)
    return conditions


def _whole_days(scope: Scope, now: datetime) -> bool:
    """True when the window is whole UTC days (its last day may end now): the daily rollup is exact."""
    ends_now = scope.end >= hour_floor(now) + timedelta(hours=1)
    return scope.start == day_floor(scope.start) and (scope.end == day_floor(scope.end) or ends_now)


def _daily_where(scope: Scope) -> list[sa.ColumnElement[bool]]:
    last_day = day_floor(scope.end - timedelta(microseconds=1))
    conditions = [CustomerUsageDaily.tenant_id == scope.tenant_id, CustomerUsageDaily.day >= scope.start,
                  CustomerUsageDaily.day <= last_day]
    if scope.customer_id is not None:
        conditions.append(CustomerUsageDaily.customer_id == scope.customer_id)
    return conditions


def _unpriced_calls(table: Usage) -> sa.ColumnElement[int]:
    return sa.func.sum(sa.case((table.priced.is_(False), table.calls), else_=0))


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


def totals(session: Session, scope: Scope) -> Totals:
    t = _usage(scope)
    row = session.execute(
        sa.select(
            sa.func.sum(t.cost_nanos), sa.func.sum(t.calls), sa.func.sum(t.failed_calls), _unpriced_calls(t),
            sa.func.sum(t.input_tokens), sa.func.sum(t.output_tokens), sa.func.sum(t.latency_ms_sum),
        ).where(*_hourly_where(scope))
    ).one()
    return Totals(*(int(value or 0) for value in row))


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


def _runs_where(scope: Scope) -> list[sa.ColumnElement[bool]]:
    conditions = [Run.tenant_id == scope.tenant_id, Run.last_seen >= scope.start]
    if scope.end < hour_floor(utcnow()):  # a window ending now needs no upper bound: the index alone answers
        conditions.append(Run.first_seen < scope.end)
    if scope.customer_id is not None:
        conditions.append(Run.customer_id == scope.customer_id)
    return conditions


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
    runs_7d = session.execute(sa.select(sa.func.count()).select_from(Run).where(*_runs_where(week))).scalar_one()
    return DashboardSummary(
        last_24h=totals(session, Scope(tenant_id, window_start(now, 24), end, customer_id)),
        last_7d=totals(session, week),
        previous_7d=totals(session, Scope(tenant_id, week_start - timedelta(days=7), week_start, customer_id)),
        runs_7d=int(runs_7d),
        has_any_data=has_any_data(session, tenant_id),
    )


def _bucket(moment: datetime, hourly: bool) -> datetime:
    return moment if hourly else moment.replace(hour=0)


def _buckets(scope: Scope, hourly: bool) -> list[datetime]:
    """Every hour (or UTC day) the window touches, in order: charts show empty ones as 0."""
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    moments, moment = [], _bucket(scope.start, hourly)
    while moment < scope.end:
        moments.append(moment)
        moment += step
    return moments


def cost_over_time(session: Session, scope: Scope, hourly: bool | None = None) -> list[tuple[datetime, int]]:
    """Cost per UTC day (per hour for windows up to 48 h) across the window, empty buckets included."""
    hourly = (scope.end - scope.start) <= timedelta(hours=48) if hourly is None else hourly
    t = _usage(scope)
    rows = session.execute(
        sa.select(t.hour, sa.func.sum(t.cost_nanos)).where(*_hourly_where(scope)).group_by(t.hour)
    ).all()
    buckets = dict.fromkeys(_buckets(scope, hourly), 0)
    for hour, cost in rows:
        key = _bucket(hour, hourly)
        buckets[key] = buckets.get(key, 0) + int(cost or 0)
    return sorted(buckets.items())


@dataclass(frozen=True)
class CostRow:
    name: str
    cost_nanos: int
    calls: int
    unpriced_calls: int
    failed_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


def _cost_row_columns(t: Usage) -> list[sa.ColumnElement]:
    return [sa.func.sum(t.cost_nanos), sa.func.sum(t.calls), _unpriced_calls(t), sa.func.sum(t.failed_calls),
            sa.func.sum(t.input_tokens), sa.func.sum(t.output_tokens)]


def _cost_row(name: str, values: tuple) -> CostRow:
    return CostRow(name, *(int(value or 0) for value in values))


def _customer_base(session: Session, scope: Scope, now: datetime) -> customer_ranges.Base | None:
    """The pre-summed closed part of an all-customers window (built now if needed), or None: one customer,
    nothing closed yet, or the base could not be built."""
    if scope.customer_id is not None:
        return None
    grain = customer_ranges.DAY if _whole_days(scope, now) else customer_ranges.HOUR
    end = min(scope.end, customer_ranges.closed_end(grain, now))
    if end <= scope.start:
        return None
    return customer_ranges.acquire(session, customer_ranges.RangeKey(scope.tenant_id, grain, scope.start, end), now)


def _customer_source(scope: Scope, now: datetime, base: customer_ranges.Base | None, search: str,
                     named_only: bool) -> sa.Subquery:
    """Rows to sum per customer (``customer_id`` and ``customer_ranges.MEASURES``) for the window: the daily
    or hourly rollup's rows, or the base's rows UNION ALL the rollup's rows after it.

    ``named_only`` leaves out calls without a customer (the hourly rollup's ``''``); ``search`` is a LIKE.
    """
    def matching(column: sa.ColumnElement[str]) -> list[sa.ColumnElement[bool]]:
        conditions = [column != ""] if named_only else []
        if search.strip():
            conditions.append(column.ilike(_like(search), escape="\\"))
        return conditions

    rest = scope if base is None else Scope(scope.tenant_id, base.key.end, scope.end)
    parts = [] if base is None else [customer_ranges.rows(base, *matching(customer_ranges.TOTALS.c.customer_id))]
    if base is None or rest.start < rest.end:
        if _whole_days(scope, now):
            d = CustomerUsageDaily
            parts.append(sa.select(d.customer_id, *(getattr(d, name) for name in customer_ranges.MEASURES))
                         .where(*_daily_where(rest), *matching(d.customer_id)))
        else:
            h = UsageHourly
            parts.append(sa.select(h.customer_id, h.calls, h.failed_calls,
                                   sa.case((h.priced.is_(False), h.calls), else_=0).label("unpriced_calls"),
                                   h.cost_nanos, h.input_tokens, h.output_tokens, h.latency_ms_sum,
                                   h.hour.label("first_seen"), h.hour.label("last_seen"))
                         .where(*_hourly_where(rest, UsageHourly), *matching(h.customer_id)))
    return (parts[0] if len(parts) == 1 else sa.union_all(*parts)).subquery("customer_rows")


def _by_customer(session: Session, scopes: Sequence[Scope], compute: Callable[..., T], search: str = "",
                 named_only: bool = False) -> T:
    """``compute`` over each window's per-customer rows (one subquery per scope): from range bases where there
    are some, checked still in place after reading (else computed again from the rollups alone)."""
    now = utcnow()
    bases = [_customer_base(session, scope, now) for scope in scopes]
    if any(bases):
        result = compute(*(_customer_source(scope, now, base, search, named_only)
                           for scope, base in zip(scopes, bases, strict=True)))
        if all(customer_ranges.still_valid(session, base) for base in bases if base is not None):
            return result
    return compute(*(_customer_source(scope, now, None, search, named_only) for scope in scopes))


def _binary_order(session: Session, column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    """``column`` compared by code point, as Python sorts strings (PostgreSQL's default collation may not)."""
    return column.collate("C") if session.get_bind().dialect.name == "postgresql" else column


def _ranked(session: Session, rows: sa.Subquery, columns: list[sa.ColumnElement], order: sa.ColumnElement,
            descending: bool, limit: int | None, offset: int = 0) -> list[sa.Row]:
    """``customer_id`` and ``columns`` (aggregates of ``rows``) per customer, ordered by ``order`` then customer.

    A page is ranked on its sort key alone, then summed in full for its customers only: carrying every sum
    through the GROUP BY of ~20k rows costs SQLite about twice as much.
    """
    c = rows.c
    ordering = (order.desc() if descending else order.asc(), c.customer_id)
    if limit is None:
        return list(session.execute(sa.select(c.customer_id, *columns).group_by(c.customer_id)
                                    .order_by(*ordering).offset(offset or None)).all())
    ranking = sa.select(c.customer_id).group_by(c.customer_id).order_by(*ordering).limit(limit).offset(offset)
    return _sums_of(session, rows, columns, list(session.execute(ranking).scalars()))


def _sums_of(session: Session, rows: sa.Subquery, columns: list[sa.ColumnElement],
             customers: list[str]) -> list[sa.Row]:
    """``customer_id`` and ``columns`` (aggregates of ``rows``) of the listed customers, in their order."""
    if not customers:
        return []
    c = rows.c
    found = {row[0]: row for row in session.execute(
        sa.select(c.customer_id, *columns).where(c.customer_id.in_(customers)).group_by(c.customer_id))}
    return [found[customer] for customer in customers if customer in found]


def _in_order(rows: sa.Subquery, *ordering: sa.ColumnElement) -> sa.Select:
    """``rows`` (already limited to a page) with their 1-based position in ``ordering`` as ``position``: the
    order of rows out of a UNION ALL is not guaranteed, a position is."""
    return sa.select(rows, sa.func.row_number().over(order_by=ordering).label("position"))


def _cost_by_customer(session: Session, scope: Scope, limit: int | None) -> list[CostRow]:
    def compute(rows: sa.Subquery) -> list[sa.Row]:
        c = rows.c
        cost = sa.func.sum(c.cost_nanos)
        columns = [cost, sa.func.sum(c.calls), sa.func.sum(c.unpriced_calls), sa.func.sum(c.failed_calls),
                   sa.func.sum(c.input_tokens), sa.func.sum(c.output_tokens)]
        return _ranked(session, rows, columns, cost, True, limit)

    return [_cost_row(name or "", tuple(values)) for name, *values in _by_customer(session, [scope], compute)]


def cost_by(session: Session, scope: Scope, dimension: str, limit: int | None = 10) -> list[CostRow]:
    """Cost per provider, model, customer, agent or day, most expensive first (days in date order).

    Calls without a customer are not part of the customer dimension.
    """
    if dimension not in GROUP_BY:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BY)}")
    if dimension == "customer":
        return _cost_by_customer(session, scope, limit)
    t = _usage(scope)
    if dimension == "day":
        daily: dict[datetime, list[int]] = defaultdict(lambda: [0] * 6)
        rows = session.execute(sa.select(t.hour, *_cost_row_columns(t)).where(*_hourly_where(scope))
                               .group_by(t.hour)).all()
        for hour, *values in rows:
            sums = daily[hour.replace(hour=0)]
            for index, value in enumerate(values):
                sums[index] += int(value or 0)
        return [_cost_row(day.date().isoformat(), tuple(sums)) for day, sums in sorted(daily.items())]
    column = {"provider": t.provider, "model": t.model, "agent": t.agent}[dimension]
    columns = _cost_row_columns(t)
    query = (sa.select(column, *columns).where(*_hourly_where(scope)).group_by(column)
             .order_by(columns[0].desc(), column))
    if limit is not None:
        query = query.limit(limit)
    rows = session.execute(query).all()
    empty = UNTRACKED if dimension == "agent" else ""
    return [_cost_row(name or empty, tuple(values)) for name, *values in rows]


# --- customers -------------------------------------------------------------------------------------------

CUSTOMER_SORTS = ("cost", "calls", "customer", "last_seen", "avg_latency")


@dataclass(frozen=True)
class CustomerRow:
    customer_id: str
    cost_nanos: int
    calls: int
    latency_ms_sum: int
    providers: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime

    @property
    def average_cost_nanos(self) -> int:
        return self.cost_nanos // self.calls if self.calls else 0

    @property
    def average_latency_ms(self) -> float:
        return self.latency_ms_sum / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class CustomerPage:
    rows: list[CustomerRow]
    total_customers: int
    total_cost_nanos: int
    total_calls: int

    @property
    def average_cost_per_customer_nanos(self) -> int:
        return self.total_cost_nanos // self.total_customers if self.total_customers else 0


def _escape_like(text: str) -> str:
    """User text made literal inside a LIKE pattern (with ``escape="\\"``)."""
    return text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like(text: str) -> str:
    return f"%{_escape_like(text)}%"


def _providers_of(session: Session, scope: Scope, customers: list[str]) -> dict[str, tuple[str, ...]]:
    """Providers each listed customer used in the window (only the customers of one page are asked)."""
    if not customers:
        return {}
    query = (sa.select(UsageHourly.customer_id, UsageHourly.provider)
             .where(*_hourly_where(Scope(scope.tenant_id, scope.start, scope.end), UsageHourly),
                    UsageHourly.customer_id.in_(customers))
             .group_by(UsageHourly.customer_id, UsageHourly.provider))
    found: dict[str, set[str]] = defaultdict(set)
    for customer, provider in session.execute(query).all():
        found[customer].add(provider)
    return {customer: tuple(sorted(providers)) for customer, providers in found.items()}


def customers_page(session: Session, scope: Scope, search: str = "", sort: str = "cost", descending: bool = True,
                   page: int = 0, page_size: int = 25) -> CustomerPage:
    """One page of the customers table, searched, sorted and paged in the database.

    Whole-day windows read the narrow daily rollup (exact first/last call times); others the hourly one
    (first/last seen to the hour).
    """
    if sort not in CUSTOMER_SORTS:
        raise ValueError(f"sort must be one of {', '.join(CUSTOMER_SORTS)}")

    def compute(rows: sa.Subquery) -> tuple[list[sa.Row], sa.Row]:
        c = rows.c
        cost, calls, latency = sa.func.sum(c.cost_nanos), sa.func.sum(c.calls), sa.func.sum(c.latency_ms_sum)
        last_seen = sa.func.max(c.last_seen)
        key = {"cost": cost, "calls": calls, "customer": c.customer_id, "last_seen": last_seen,
               "avg_latency": latency / sa.func.nullif(calls, 0)}[sort]
        # One GROUP BY serves the page's ranking and the totals (the CTE is read twice, summed once); the page's
        # other sums are read for its customers only (see _ranked).
        per_customer = (sa.select(c.customer_id, cost.label("cost"), calls.label("calls"), key.label("sort_key"))
                        .group_by(c.customer_id).cte("per_customer"))
        p = per_customer.c
        ordering = (p.sort_key.desc() if descending else p.sort_key.asc(), p.customer_id)
        page_rows = (sa.select(p.customer_id, p.sort_key).order_by(*ordering)
                     .limit(page_size).offset(max(page, 0) * page_size).subquery("page_rows"))
        q = page_rows.c
        ranked = _in_order(page_rows, q.sort_key.desc() if descending else q.sort_key.asc(), q.customer_id).subquery()
        none = sa.cast(sa.null(), sa.BigInteger)
        found = session.execute(sa.union_all(
            sa.select(ranked.c.customer_id, ranked.c.position, none, none, none),
            sa.select(sa.cast(sa.null(), sa.String), none, sa.func.count(), sa.func.sum(p.cost), sa.func.sum(p.calls)),
        )).all()
        summary = next(row[2:] for row in found if row.customer_id is None)
        customers = [row.customer_id for row in sorted(found, key=lambda row: row.position or 0) if row.customer_id]
        columns = [cost, calls, latency, sa.func.min(c.first_seen), last_seen]
        return _sums_of(session, rows, columns, customers), summary

    found, (count, total_cost, total_calls) = _by_customer(session, [scope], compute, search, named_only=True)
    providers = _providers_of(session, scope, [row[0] for row in found])
    rows = [CustomerRow(customer, int(c or 0), int(n or 0), int(lat or 0), providers.get(customer, ()), first, last)
            for customer, c, n, lat, first, last in found]
    return CustomerPage(rows, int(count or 0), int(total_cost or 0), int(total_calls or 0))


def customer_ids(session: Session, tenant_id: int, search: str = "", limit: int = 20) -> list[str]:
    """Customer ids for the global filter's search box (most recently active first)."""
    d = CustomerUsageDaily
    conditions = [d.tenant_id == tenant_id]
    if search.strip():
        conditions.append(d.customer_id.ilike(_like(search), escape="\\"))
    query = (sa.select(d.customer_id).where(*conditions).group_by(d.customer_id)
             .order_by(sa.func.max(d.day).desc(), d.customer_id).limit(limit))
    return list(session.execute(query).scalars())


# --- agents ----------------------------------------------------------------------------------------------

@dataclass
class AgentRow:
    agent: str
    cost_nanos: int = 0
    calls: int = 0
    latency_ms_sum: int = 0
    unpriced_calls: int = 0
    tools: set[str] = field(default_factory=set)

    @property
    def average_latency_ms(self) -> float:
        return self.latency_ms_sum / self.calls if self.calls else 0.0


def _tools_in(section_path: str) -> list[str]:
    return [segment.partition(":")[2] for segment in section_path.split("/") if segment.startswith("tool:")]


def _agent_day_rows(session: Session, scope: Scope) -> list[sa.Row]:
    """Cost, calls, latency and unpriced calls per agent, section path and UTC day: one pass that serves both
    the agents table and their trend."""
    t = _usage(scope)
    day_of = sa.type_coerce(rollups.truncated(session.get_bind().dialect.name, "day", t.hour), UTCDateTime)
    query = (sa.select(t.agent, t.section_path, day_of, sa.func.sum(t.cost_nanos), sa.func.sum(t.calls),
                       sa.func.sum(t.latency_ms_sum), _unpriced_calls(t))
             .where(*_hourly_where(scope)).group_by(t.agent, t.section_path, day_of))
    return list(session.execute(query).all())


def _agents_from(rows: list[sa.Row]) -> list[AgentRow]:
    by_agent: dict[str, AgentRow] = {}
    for agent, section_path, _day, cost, calls, latency, unpriced in rows:
        name = agent or UNTRACKED
        row = by_agent.setdefault(name, AgentRow(name))
        row.cost_nanos += int(cost or 0)
        row.calls += int(calls or 0)
        row.latency_ms_sum += int(latency or 0)
        row.unpriced_calls += int(unpriced or 0)
        row.tools.update(_tools_in(section_path or ""))
    return sorted(by_agent.values(), key=lambda row: (-row.cost_nanos, row.agent))


def agents(session: Session, scope: Scope) -> list[AgentRow]:
    """Per top-level agent (calls outside any agent form the 'untracked' row), most expensive first."""
    return _agents_from(_agent_day_rows(session, scope))


def agents_with_trend(session: Session, scope: Scope, top: int = 5
                      ) -> tuple[list[AgentRow], dict[str, list[tuple[datetime, int]]]]:
    """The agents table and the daily cost of its ``top`` most expensive agents over the window, every day
    of the window included."""
    rows = _agent_day_rows(session, scope)
    table = _agents_from(rows)
    names = [row.agent for row in table[:top]]
    series: dict[str, dict[datetime, int]] = {name: dict.fromkeys(_buckets(scope, False), 0) for name in names}
    for agent, _section_path, day, cost, *_ in rows:
        bucket = series.get(agent or UNTRACKED)
        if bucket is not None:
            bucket[day] = bucket.get(day, 0) + int(cost or 0)
    return table, {name: sorted(values.items()) for name, values in series.items()}


# --- models and infrastructure --------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelRow:
    provider: str
    model: str
    cost_nanos: int
    calls: int
    unpriced_calls: int
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    reasoning_tokens: int

    @property
    def cached_share(self) -> float:
        return self.cached_input_tokens / self.input_tokens if self.input_tokens else 0.0

    @property
    def reasoning_share(self) -> float:
        return self.reasoning_tokens / self.output_tokens if self.output_tokens else 0.0

    @property
    def average_cost_nanos(self) -> int:
        return self.cost_nanos // self.calls if self.calls else 0


def models(session: Session, scope: Scope) -> list[ModelRow]:
    """Per LLM model (infrastructure providers excluded), most expensive first."""
    t = _usage(scope)
    columns = [sa.func.sum(t.cost_nanos), sa.func.sum(t.calls), _unpriced_calls(t), sa.func.sum(t.input_tokens),
               sa.func.sum(t.cached_input_tokens), sa.func.sum(t.output_tokens), sa.func.sum(t.reasoning_tokens)]
    query = (sa.select(t.provider, t.model, *columns)
             .where(*_hourly_where(scope), t.provider.not_in(INFRA_PROVIDERS))
             .group_by(t.provider, t.model).order_by(columns[0].desc(), t.model))
    return [ModelRow(provider, model or "(unknown)", *(int(v or 0) for v in values))
            for provider, model, *values in session.execute(query).all()]


@dataclass(frozen=True)
class ServiceRow:
    """One infrastructure provider: cost and calls, plus the units it metered (read units, credits…)."""

    provider: str
    cost_nanos: int
    calls: int
    unpriced_calls: int
    units: dict[str, float]


def infrastructure(session: Session, scope: Scope) -> list[ServiceRow]:
    """Non-LLM services (vector databases, search, speech) by provider, most expensive first."""
    t = _usage(scope)
    columns = _cost_row_columns(t)
    query = (sa.select(t.provider, *columns[:3])
             .where(*_hourly_where(scope), t.provider.in_(INFRA_PROVIDERS))
             .group_by(t.provider).order_by(columns[0].desc(), t.provider))
    u: type[UnitUsageHourly] | type[TenantUnitUsageHourly] = TenantUnitUsageHourly
    if scope.customer_id is not None:
        u = UnitUsageHourly
    unit_conditions = [u.tenant_id == scope.tenant_id, u.hour >= scope.start, u.hour < scope.end]
    if scope.customer_id is not None:
        unit_conditions.append(UnitUsageHourly.customer_id == scope.customer_id)
    units: dict[str, dict[str, float]] = defaultdict(dict)
    unit_query = (sa.select(u.provider, u.unit, sa.func.sum(u.quantity)).where(*unit_conditions)
                  .group_by(u.provider, u.unit))
    for provider, unit, quantity in session.execute(unit_query).all():
        units[provider][unit] = float(quantity or 0)
    return [ServiceRow(name, int(cost or 0), int(calls or 0), int(unpriced or 0), units.get(name, {}))
            for name, cost, calls, unpriced in session.execute(query).all()]


# --- runs ------------------------------------------------------------------------------------------------

RUNS_COUNT_LIMIT = 10_000


@dataclass(frozen=True)
class RunsPage:
    rows: list[Run]
    total: int
    more: bool = False  # the count stopped at its limit: there are more than ``total`` runs


def _runs_query_conditions(scope: Scope, agent: str | None, search: str) -> list[sa.ColumnElement[bool]]:
    conditions = _runs_where(scope)
    if agent:
        conditions.append(Run.agent.is_(None) if agent == UNTRACKED else Run.agent == agent)
    if search.strip():
        conditions.append(Run.run_id.like(f"{_escape_like(search)}%", escape="\\"))
    return conditions


def runs_page(session: Session, scope: Scope, agent: str | None = None, search: str = "", page: int = 0,
              page_size: int = 25, count_limit: int = RUNS_COUNT_LIMIT) -> RunsPage:
    """One page of runs, newest first. The total is counted up to ``count_limit`` (or a little past the
    page asked for): 30 days at 10M events hold ~2.5M runs, and counting them all took seconds for a pager
    label that then reads "of 10,000+"."""
    conditions = _runs_query_conditions(scope, agent, search)
    page = max(page, 0)
    rows = session.exec(select(Run).where(*conditions).order_by(Run.last_seen.desc(), Run.id.desc())
                        .limit(page_size).offset(page * page_size)).all()
    limit = max(count_limit, (page + 1) * page_size + 1)
    bounded = sa.select(Run.id).where(*conditions).limit(limit + 1).subquery()
    counted = int(session.execute(sa.select(sa.func.count()).select_from(bounded)).scalar_one())
    return RunsPage(list(rows), min(counted, limit), more=counted > limit)


def iter_runs(session: Session, scope: Scope, agent: str | None = None, search: str = "") -> Iterator[Run]:
    """Every run in scope, newest first, fetched in chunks (for exports)."""
    query = (select(Run).where(*_runs_query_conditions(scope, agent, search))
             .order_by(Run.last_seen.desc(), Run.id.desc()).execution_options(yield_per=1000))
    yield from session.exec(query)


def recent_runs(session: Session, tenant_id: int, limit: int = 10, customer_id: str | None = None) -> list[Run]:
    query = select(Run).where(Run.tenant_id == tenant_id)
    if customer_id is not None:
        query = query.where(Run.customer_id == customer_id)
    return list(session.exec(query.order_by(Run.last_seen.desc(), Run.id.desc()).limit(limit)))


@dataclass
class RunNode:
    """A node of a run's hierarchy: the run, an agent, a tool or a section, or one call (a leaf)."""

    label: str
    kind: str
    depth: int
    cost_nanos: int = 0
    unpriced_calls: int = 0
    calls: int = 0
    start: datetime | None = None
    end: datetime | None = None
    children: dict[str, RunNode] = field(default_factory=dict)
    leaves: list[RunNode] = field(default_factory=list)

    def add_call(self, cost_nanos: int | None, priced: bool, start: datetime, end: datetime) -> None:
        self.cost_nanos += cost_nanos or 0
        self.unpriced_calls += 0 if priced else 1
        self.calls += 1
        self.start = start if self.start is None else min(self.start, start)
        self.end = end if self.end is None else max(self.end, end)

    @property
    def latency_ms(self) -> int:
        return int((self.end - self.start).total_seconds() * 1000) if self.start and self.end else 0

    def flatten(self) -> list[RunNode]:
        """Depth-first: this node, its sub-sections in first-call order, then its own calls."""
        ordered = sorted(self.children.values(), key=lambda node: node.start or datetime.min)
        return [self, *(node for child in ordered for node in child.flatten()), *self.leaves]


@dataclass(frozen=True)
class RunDetail:
    run: Run
    tree: list[RunNode]
    calls: list[Event]


def run_detail(session: Session, tenant_id: int, run_id: str) -> RunDetail | None:
    """One run's hierarchy (agents → tools → calls) with cost and latency at every node."""
    run = session.exec(select(Run).where(Run.tenant_id == tenant_id, Run.run_id == run_id)).first()
    if run is None:
        return None
    calls = list(session.exec(select(Event).where(Event.tenant_id == tenant_id, Event.run_id == run_id)
                              .order_by(Event.started_at, Event.id)))
    root = RunNode(run_id, "run", 0)
    for call in calls:
        root.add_call(call.cost_nanos, call.priced, call.started_at, call.ended_at)
        node = root
        for segment in filter(None, (call.section_path or "").split("/")):
            kind, _, name = segment.partition(":")
            node = node.children.setdefault(segment, RunNode(name or kind, kind if name else "section",
                                                             node.depth + 1))
            node.add_call(call.cost_nanos, call.priced, call.started_at, call.ended_at)
        leaf = RunNode(f"{call.provider} · {call.model or call.endpoint}", "call", node.depth + 1)
        leaf.add_call(call.cost_nanos, call.priced, call.started_at, call.ended_at)
        node.leaves.append(leaf)
    return RunDetail(run, root.flatten(), calls)


# --- insights --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mover:
    dimension: str
    name: str
    this_week_nanos: int
    last_week_nanos: int

    @property
    def change_nanos(self) -> int:
        return self.this_week_nanos - self.last_week_nanos


@dataclass(frozen=True)
class Insights:
    movers: list[Mover]
    top_customers: list[CostRow]
    top_agents: list[CostRow]
    untracked_cost_nanos: int
    total_cost_nanos: int
    unpriced_models: list[tuple[str, str, int]]

    @property
    def untracked_share(self) -> float:
        return self.untracked_cost_nanos / self.total_cost_nanos if self.total_cost_nanos else 0.0


def _customer_weeks(session: Session, week: Scope, previous: Scope,
                    limit: int) -> tuple[list[CostRow], list[Mover]]:
    """The ``limit`` most expensive customers of ``week`` and the ``2 * limit`` whose cost changed most against
    ``previous``: one GROUP BY over both windows (there can be 10k customers), ranked twice in SQL."""
    def compute(this: sa.Subquery, last: sa.Subquery) -> tuple[list[CostRow], list[Mover]]:
        none = sa.cast(sa.null(), sa.BigInteger)  # NULL, not 0: a customer of the week has a non-NULL sum
        both = sa.union_all(
            sa.select(this.c.customer_id, this.c.cost_nanos.label("this_week"), none.label("last_week")),
            sa.select(last.c.customer_id, none, last.c.cost_nanos),
        ).subquery("both_weeks")
        b = both.c
        weeks = (sa.select(b.customer_id, sa.func.sum(b.this_week).label("this_week"),
                           sa.func.coalesce(sa.func.sum(b.last_week), 0).label("last_week"))
                 .where(b.customer_id != "").group_by(b.customer_id).cte("customer_weeks"))
        w = weeks.c
        this_week = sa.func.coalesce(w.this_week, 0)
        top = (sa.select(w.customer_id, w.this_week).where(w.this_week.is_not(None))
               .order_by(w.this_week.desc(), w.customer_id).limit(limit).subquery("top_rows"))
        top_ranked = _in_order(top, top.c.this_week.desc(), top.c.customer_id).subquery()
        moved = (sa.select(w.customer_id, this_week.label("this_week"), w.last_week)
                 .where(this_week != w.last_week)
                 .order_by(sa.func.abs(this_week - w.last_week).desc(), _binary_order(session, w.customer_id))
                 .limit(2 * limit).subquery("moved_rows"))
        found = session.execute(sa.union_all(
            sa.select(sa.literal("top").label("part"), top_ranked.c.customer_id, top_ranked.c.position,
                      sa.cast(sa.null(), sa.BigInteger)),
            sa.select(sa.literal("moved"), moved.c.customer_id, moved.c.this_week, moved.c.last_week),
        )).all()
        movers = [Mover("customer", name, int(current or 0), int(before or 0))
                  for part, name, current, before in found if part == "moved"]
        top_names = [name for _, name, _, _ in sorted((row for row in found if row[0] == "top"), key=lambda r: r[2])]
        c = this.c
        details = [sa.func.sum(c.cost_nanos), sa.func.sum(c.calls), sa.func.sum(c.unpriced_calls),
                   sa.func.sum(c.failed_calls), sa.func.sum(c.input_tokens), sa.func.sum(c.output_tokens)]
        return [_cost_row(name, tuple(values)) for name, *values in _sums_of(session, this, details, top_names)], movers

    return _by_customer(session, [week, previous], compute)


def insights(session: Session, tenant_id: int, now: datetime | None = None, customer_id: str | None = None,
             limit: int = 5) -> Insights:
    """Week-over-week movers, the most expensive customers and agents, untracked share, unpriced models."""
    now = now or utcnow()
    end = hour_floor(now) + timedelta(hours=1)
    week = Scope(tenant_id, day_floor(now) - timedelta(days=6), end, customer_id)
    previous = Scope(tenant_id, week.start - timedelta(days=7), week.start, customer_id)
    top_customers, movers = _customer_weeks(session, week, previous, limit)  # every customer that can make the cut
    t = _usage(week)
    in_week = (t.hour >= week.start).label("in_week")
    costs: dict[tuple[str, bool], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    week_agents: dict[str, list[int]] = defaultdict(lambda: [0] * 6)  # raw agent → the sums of a CostRow
    for model, agent, of_week, *sums in session.execute(  # models and agents of both weeks in one pass
            sa.select(t.model, t.agent, in_week, *_cost_row_columns(t))
            .where(*_hourly_where(Scope(tenant_id, previous.start, week.end, customer_id)))
            .group_by(t.model, t.agent, in_week)):
        costs["model", bool(of_week)][model or ""] += int(sums[0] or 0)
        costs["agent", bool(of_week)][agent or UNTRACKED] += int(sums[0] or 0)
        if of_week:
            for index, value in enumerate(sums):
                week_agents[agent or ""][index] += int(value or 0)
    # As cost_by(week, "agent") orders them: cost, then the stored agent name ('' for untracked).
    agent_rows = [_cost_row(agent or UNTRACKED, tuple(values))
                  for agent, values in sorted(week_agents.items(), key=lambda item: (-item[1][0], item[0]))]
    for dimension in ("model", "agent"):
        this_week, last_week = costs[dimension, True], costs[dimension, False]
        for name in (this_week.keys() | last_week.keys()) - {""}:
            mover = Mover(dimension, name, this_week.get(name, 0), last_week.get(name, 0))
            if mover.change_nanos:
                movers.append(mover)
    movers.sort(key=lambda mover: (-abs(mover.change_nanos), mover.dimension, mover.name))
    unpriced_query = (sa.select(t.provider, t.model, sa.func.sum(t.calls))
                      .where(*_hourly_where(week), t.priced.is_(False))
                      .group_by(t.provider, t.model).order_by(sa.func.sum(t.calls).desc()))
    return Insights(
        movers=movers[:limit * 2],
        top_customers=top_customers,
        top_agents=[row for row in agent_rows if row.name != UNTRACKED][:limit],
        untracked_cost_nanos=sum(row.cost_nanos for row in agent_rows if row.name == UNTRACKED),
        total_cost_nanos=sum(row.cost_nanos for row in agent_rows),
        unpriced_models=[(p, m or "(unknown)", int(n)) for p, m, n in session.execute(unpriced_query).all()],
    )
