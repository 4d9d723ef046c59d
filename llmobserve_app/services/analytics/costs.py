"""/costs (cost by any dimension: the rows of the dashboard's and insights' breakdowns too) and
/infrastructure (non-LLM services and the units they metered)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.models import TenantUnitUsageHourly, UnitUsageHourly, utcnow
from llmobserve_app.services.analytics import closed_days, customer_view
from llmobserve_app.services.analytics.per_customer import Source, by_customer, ranked
from llmobserve_app.services.analytics.scope import (
    INFRA_PROVIDERS,
    UNTRACKED,
    Scope,
    Usage,
    hourly_where,
    unpriced_calls_sum,
    usage_of,
)


@dataclass(frozen=True)
class CostRow:
    name: str
    cost_nanos: int
    calls: int
    unpriced_calls: int
    failed_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


def cost_row_columns(t: Usage) -> list[sa.ColumnElement]:
    return [sa.func.sum(t.cost_nanos), sa.func.sum(t.calls), unpriced_calls_sum(t), sa.func.sum(t.failed_calls),
            sa.func.sum(t.input_tokens), sa.func.sum(t.output_tokens)]


def cost_row(name: str, values: tuple) -> CostRow:
    return CostRow(name, *(int(value or 0) for value in values))


GROUP_BY = ("provider", "model", "customer", "agent", "day")


def _cost_by_customer(session: Session, scope: Scope, now: datetime, limit: int | None) -> list[CostRow]:
    """Cost per named customer, most expensive first (``limit`` of them, or all)."""
    def compute(source: Source) -> list:
        c = source.rows.c
        cost = sa.func.sum(c.cost_nanos)
        columns = [cost, sa.func.sum(c.calls), sa.func.sum(c.unpriced_calls), sa.func.sum(c.failed_calls),
                   sa.func.sum(c.input_tokens), sa.func.sum(c.output_tokens)]
        view = None if limit is None else source.view(session)
        if view is not None:  # ranked in memory from the range base and the open part
            customers = view.page("cost_nanos", True, limit)
            values = view.values_of(customers)
            return [(customer, *(values[customer][index] for index in customer_view.COST_ROW_VALUES))
                    for customer in customers]
        return ranked(session, source.rows, columns, cost, True, limit)

    return [cost_row(name or "", tuple(values)) for name, *values in by_customer(session, [scope], now, compute)]


def cost_by(session: Session, scope: Scope, dimension: str, limit: int | None = 10,
            now: datetime | None = None) -> list[CostRow]:
    """Cost per provider, model, customer, agent or day, most expensive first (days in date order).

    Calls without a customer are not part of the customer dimension; ``now`` (default: the clock) decides
    which part of the window is closed for it.
    """
    if dimension not in GROUP_BY:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BY)}")
    if dimension == "customer":
        return _cost_by_customer(session, scope, now or utcnow(), limit)
    t = usage_of(scope)
    column = {"provider": t.provider, "model": t.model, "agent": t.agent, "day": t.hour}[dimension]

    def read(part: Scope) -> list[tuple]:
        query = sa.select(column, *cost_row_columns(t)).where(*hourly_where(part)).group_by(column)
        return [tuple(row) for row in session.execute(query).all()]

    # The closed days' part is kept between requests (closed_days); sorted here, ties by code point.
    rows = closed_days.summed(session, scope, now or utcnow(), f"cost_by_{dimension}", 1, read)
    if dimension == "day":
        daily: dict[datetime, list[int]] = defaultdict(lambda: [0] * 6)
        for hour, *values in rows:
            sums = daily[hour.replace(hour=0)]
            for index, value in enumerate(values):
                sums[index] += value
        return [cost_row(day.date().isoformat(), tuple(sums)) for day, sums in sorted(daily.items())]
    rows.sort(key=lambda row: (-row[1], row[0] or ""))
    empty = UNTRACKED if dimension == "agent" else ""
    return [cost_row(name or empty, tuple(values)) for name, *values in rows[:limit]]


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
    t = usage_of(scope)
    columns = cost_row_columns(t)
    query = (sa.select(t.provider, *columns[:3])
             .where(*hourly_where(scope), t.provider.in_(INFRA_PROVIDERS))
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
