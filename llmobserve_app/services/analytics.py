"""Aggregates for every analytics page and the read API.

Everything here reads the rollups (``usage_hourly``, ``runs``) — never a scan of raw events — except
``run_detail``, which reads one run's events. Windows are hour-aligned because the rollup is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from llmobserve_app.models import Event, Run, UsageHourly, utcnow
from llmobserve_app.services.time_range import hour_floor

# Providers whose calls are infrastructure (vector DBs, search, speech), not LLM inference.
INFRA_PROVIDERS = frozenset({
    "pinecone", "qdrant", "weaviate", "chroma", "milvus", "tavily", "serper", "serpapi", "exa", "brave",
    "deepgram", "assemblyai", "elevenlabs", "cartesia", "firecrawl",
})
UNTRACKED = "untracked"
GROUP_BY = ("provider", "model", "customer", "agent", "day")
_COLUMNS = {"provider": UsageHourly.provider, "model": UsageHourly.model, "customer": UsageHourly.customer_id,
            "agent": UsageHourly.agent}


def window_start(now: datetime, hours: int) -> datetime:
    return hour_floor(now) - timedelta(hours=hours - 1)


@dataclass(frozen=True)
class Scope:
    """Whose data, over which window, optionally for one of their customers."""

    tenant_id: int
    start: datetime
    end: datetime
    customer_id: str | None = None


def _hourly_where(scope: Scope) -> list[sa.ColumnElement[bool]]:
    conditions = [UsageHourly.tenant_id == scope.tenant_id, UsageHourly.hour >= scope.start,
                  UsageHourly.hour < scope.end]
    if scope.customer_id is not None:
        conditions.append(UsageHourly.customer_id == scope.customer_id)
    return conditions


def _unpriced_calls() -> sa.ColumnElement[int]:
    return sa.func.sum(sa.case((UsageHourly.priced.is_(False), UsageHourly.calls), else_=0))


def _distinct_list(session: Session, column: sa.ColumnElement) -> sa.ColumnElement[str]:
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.string_agg(sa.distinct(column), sa.literal_column("','"))
    return sa.func.group_concat(sa.distinct(column))


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
    row = session.execute(
        sa.select(
            sa.func.sum(UsageHourly.cost_nanos), sa.func.sum(UsageHourly.calls),
            sa.func.sum(UsageHourly.failed_calls), _unpriced_calls(), sa.func.sum(UsageHourly.input_tokens),
            sa.func.sum(UsageHourly.output_tokens), sa.func.sum(UsageHourly.latency_ms_sum),
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
    conditions = [Run.tenant_id == scope.tenant_id, Run.last_seen >= scope.start, Run.first_seen < scope.end]
    if scope.customer_id is not None:
        conditions.append(Run.customer_id == scope.customer_id)
    return conditions


def has_any_data(session: Session, tenant_id: int) -> bool:
    query = sa.select(UsageHourly.id).where(UsageHourly.tenant_id == tenant_id).limit(1)
    return session.execute(query).first() is not None


def dashboard_summary(session: Session, tenant_id: int, now: datetime | None = None,
                      customer_id: str | None = None) -> DashboardSummary:
    """The fixed-window KPIs: last 24 h, last 7 days and the 7 days before (for week over week)."""
    now = now or utcnow()
    end = hour_floor(now) + timedelta(hours=1)
    week_start = window_start(now, 24 * 7)
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


def cost_over_time(session: Session, scope: Scope, hourly: bool | None = None) -> list[tuple[datetime, int]]:
    """Cost per UTC day (per hour for windows up to 48 h) across the window, empty buckets included."""
    hourly = (scope.end - scope.start) <= timedelta(hours=48) if hourly is None else hourly
    rows = session.execute(
        sa.select(UsageHourly.hour, sa.func.sum(UsageHourly.cost_nanos))
        .where(*_hourly_where(scope)).group_by(UsageHourly.hour)
    ).all()
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    buckets: dict[datetime, int] = {}
    moment = _bucket(scope.start, hourly)
    while moment < scope.end:
        buckets[moment] = 0
        moment += step
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


def _cost_row_columns() -> list[sa.ColumnElement]:
    return [sa.func.sum(UsageHourly.cost_nanos), sa.func.sum(UsageHourly.calls), _unpriced_calls(),
            sa.func.sum(UsageHourly.failed_calls), sa.func.sum(UsageHourly.input_tokens),
            sa.func.sum(UsageHourly.output_tokens)]


def _cost_row(name: str, values: tuple) -> CostRow:
    return CostRow(name, *(int(value or 0) for value in values))


def cost_by(session: Session, scope: Scope, dimension: str, limit: int | None = 10) -> list[CostRow]:
    """Cost per provider, model, customer, agent or day, most expensive first (days in date order)."""
    if dimension not in GROUP_BY:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BY)}")
    if dimension == "day":
        daily: dict[datetime, list[int]] = defaultdict(lambda: [0] * 6)
        rows = session.execute(sa.select(UsageHourly.hour, *_cost_row_columns()).where(*_hourly_where(scope))
                               .group_by(UsageHourly.hour)).all()
        for hour, *values in rows:
            sums = daily[hour.replace(hour=0)]
            for index, value in enumerate(values):
                sums[index] += int(value or 0)
        return [_cost_row(day.date().isoformat(), tuple(sums)) for day, sums in sorted(daily.items())]
    column = _COLUMNS[dimension]
    columns = _cost_row_columns()
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


def customers_page(session: Session, scope: Scope, search: str = "", sort: str = "cost", descending: bool = True,
                   page: int = 0, page_size: int = 25) -> CustomerPage:
    """One page of the customers table, searched and sorted in the database (10k customers stay cheap)."""
    if sort not in CUSTOMER_SORTS:
        raise ValueError(f"sort must be one of {', '.join(CUSTOMER_SORTS)}")
    conditions = [*_hourly_where(scope), UsageHourly.customer_id != ""]
    if search.strip():
        escaped = search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(UsageHourly.customer_id.ilike(f"%{escaped}%", escape="\\"))
    cost = sa.func.sum(UsageHourly.cost_nanos).label("cost")
    calls = sa.func.sum(UsageHourly.calls).label("calls")
    latency = sa.func.sum(UsageHourly.latency_ms_sum).label("latency")
    first_seen, last_seen = sa.func.min(UsageHourly.hour), sa.func.max(UsageHourly.hour)
    order = {"cost": cost, "calls": calls, "customer": UsageHourly.customer_id, "last_seen": last_seen,
             "avg_latency": latency / sa.func.nullif(calls, 0)}[sort]
    query = (
        sa.select(UsageHourly.customer_id, cost, calls, latency, _distinct_list(session, UsageHourly.provider),
                  first_seen, last_seen)
        .where(*conditions).group_by(UsageHourly.customer_id)
        .order_by(order.desc() if descending else order.asc(), UsageHourly.customer_id)
        .limit(page_size).offset(max(page, 0) * page_size)
    )
    rows = [CustomerRow(customer, int(c or 0), int(n or 0), int(lat or 0),
                        tuple(sorted(set((providers or "").split(",")) - {""})), first, last)
            for customer, c, n, lat, providers, first, last in session.execute(query).all()]
    summary = sa.select(sa.func.count(sa.distinct(UsageHourly.customer_id)), sa.func.sum(UsageHourly.cost_nanos),
                        sa.func.sum(UsageHourly.calls)).where(*conditions)
    count, total_cost, total_calls = session.execute(summary).one()
    return CustomerPage(rows, int(count or 0), int(total_cost or 0), int(total_calls or 0))


def customer_ids(session: Session, tenant_id: int, search: str = "", limit: int = 20) -> list[str]:
    """Customer ids for the global filter's search box (most recently active first)."""
    conditions = [UsageHourly.tenant_id == tenant_id, UsageHourly.customer_id != ""]
    if search.strip():
        escaped = search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(UsageHourly.customer_id.ilike(f"%{escaped}%", escape="\\"))
    query = (sa.select(UsageHourly.customer_id).where(*conditions).group_by(UsageHourly.customer_id)
             .order_by(sa.func.max(UsageHourly.hour).desc(), UsageHourly.customer_id).limit(limit))
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


def agents(session: Session, scope: Scope) -> list[AgentRow]:
    """Per top-level agent (calls outside any agent form the 'untracked' row), most expensive first."""
    query = (sa.select(UsageHourly.agent, UsageHourly.section_path, sa.func.sum(UsageHourly.cost_nanos),
                       sa.func.sum(UsageHourly.calls), sa.func.sum(UsageHourly.latency_ms_sum), _unpriced_calls())
             .where(*_hourly_where(scope)).group_by(UsageHourly.agent, UsageHourly.section_path))
    by_agent: dict[str, AgentRow] = {}
    for agent, section_path, cost, calls, latency, unpriced in session.execute(query).all():
        name = agent or UNTRACKED
        row = by_agent.setdefault(name, AgentRow(name))
        row.cost_nanos += int(cost or 0)
        row.calls += int(calls or 0)
        row.latency_ms_sum += int(latency or 0)
        row.unpriced_calls += int(unpriced or 0)
        row.tools.update(_tools_in(section_path or ""))
    return sorted(by_agent.values(), key=lambda row: (-row.cost_nanos, row.agent))


def agent_trend(session: Session, scope: Scope, names: list[str]) -> dict[str, list[tuple[datetime, int]]]:
    """Daily cost of the named agents over the window ('untracked' for calls outside agents)."""
    wanted = {"" if name == UNTRACKED else name for name in names}
    query = (sa.select(UsageHourly.agent, UsageHourly.hour, sa.func.sum(UsageHourly.cost_nanos))
             .where(*_hourly_where(scope), UsageHourly.agent.in_(wanted))
             .group_by(UsageHourly.agent, UsageHourly.hour))
    days = [day for day, _ in cost_over_time(session, Scope(scope.tenant_id, scope.start, scope.end, None), False)]
    series: dict[str, dict[datetime, int]] = {name: dict.fromkeys(days, 0) for name in names}
    for agent, hour, cost in session.execute(query).all():
        day = hour.replace(hour=0)
        bucket = series[agent or UNTRACKED]
        bucket[day] = bucket.get(day, 0) + int(cost or 0)
    return {name: sorted(values.items()) for name, values in series.items()}


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
    columns = [sa.func.sum(UsageHourly.cost_nanos), sa.func.sum(UsageHourly.calls), _unpriced_calls(),
               sa.func.sum(UsageHourly.input_tokens), sa.func.sum(UsageHourly.cached_input_tokens),
               sa.func.sum(UsageHourly.output_tokens), sa.func.sum(UsageHourly.reasoning_tokens)]
    query = (sa.select(UsageHourly.provider, UsageHourly.model, *columns)
             .where(*_hourly_where(scope), UsageHourly.provider.not_in(INFRA_PROVIDERS))
             .group_by(UsageHourly.provider, UsageHourly.model).order_by(columns[0].desc(), UsageHourly.model))
    return [ModelRow(provider, model or "(unknown)", *(int(v or 0) for v in values))
            for provider, model, *values in session.execute(query).all()]


def infrastructure(session: Session, scope: Scope) -> list[CostRow]:
    """Non-LLM services (vector databases, search, speech) by provider, most expensive first."""
    columns = _cost_row_columns()
    query = (sa.select(UsageHourly.provider, *columns)
             .where(*_hourly_where(scope), UsageHourly.provider.in_(INFRA_PROVIDERS))
             .group_by(UsageHourly.provider).order_by(columns[0].desc(), UsageHourly.provider))
    return [_cost_row(name, tuple(values)) for name, *values in session.execute(query).all()]


# --- runs ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunsPage:
    rows: list[Run]
    total: int


def _runs_query_conditions(scope: Scope, agent: str | None, search: str) -> list[sa.ColumnElement[bool]]:
    conditions = _runs_where(scope)
    if agent:
        conditions.append(Run.agent.is_(None) if agent == UNTRACKED else Run.agent == agent)
    if search.strip():
        escaped = search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Run.run_id.like(f"{escaped}%", escape="\\"))
    return conditions


def runs_page(session: Session, scope: Scope, agent: str | None = None, search: str = "", page: int = 0,
              page_size: int = 25) -> RunsPage:
    conditions = _runs_query_conditions(scope, agent, search)
    rows = session.exec(select(Run).where(*conditions).order_by(Run.last_seen.desc(), Run.id.desc())
                        .limit(page_size).offset(max(page, 0) * page_size)).all()
    total = session.execute(sa.select(sa.func.count()).select_from(Run).where(*conditions)).scalar_one()
    return RunsPage(list(rows), int(total))


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


def insights(session: Session, tenant_id: int, now: datetime | None = None, customer_id: str | None = None,
             limit: int = 5) -> Insights:
    """Week-over-week movers, the most expensive customers and agents, untracked share, unpriced models."""
    now = now or utcnow()
    end = hour_floor(now) + timedelta(hours=1)
    week = Scope(tenant_id, window_start(now, 24 * 7), end, customer_id)
    previous = Scope(tenant_id, week.start - timedelta(days=7), week.start, customer_id)
    movers: list[Mover] = []
    for dimension in ("customer", "model", "agent"):
        this_week = {row.name: row.cost_nanos for row in cost_by(session, week, dimension, limit=None)}
        last_week = {row.name: row.cost_nanos for row in cost_by(session, previous, dimension, limit=None)}
        for name in (this_week.keys() | last_week.keys()) - {""}:
            mover = Mover(dimension, name, this_week.get(name, 0), last_week.get(name, 0))
            if mover.change_nanos:
                movers.append(mover)
    movers.sort(key=lambda mover: (-abs(mover.change_nanos), mover.dimension, mover.name))
    agent_rows = cost_by(session, week, "agent", limit=None)
    unpriced_query = (sa.select(UsageHourly.provider, UsageHourly.model, sa.func.sum(UsageHourly.calls))
                      .where(*_hourly_where(week), UsageHourly.priced.is_(False))
                      .group_by(UsageHourly.provider, UsageHourly.model)
                      .order_by(sa.func.sum(UsageHourly.calls).desc()))
    return Insights(
        movers=movers[:limit * 2],
        top_customers=[row for row in cost_by(session, week, "customer", limit=limit + 1) if row.name][:limit],
        top_agents=[row for row in agent_rows if row.name != UNTRACKED][:limit],
        untracked_cost_nanos=sum(row.cost_nanos for row in agent_rows if row.name == UNTRACKED),
        total_cost_nanos=sum(row.cost_nanos for row in agent_rows),
        unpriced_models=[(p, m or "(unknown)", int(n)) for p, m, n in session.execute(unpriced_query).all()],
    )
