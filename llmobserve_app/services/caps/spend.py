"""A scope's spend in a period, DERIVED from the rollups each time (never a counter): priced cost since the
period started, and the number of unpriced calls (not spend, but shown next to it).

Global, provider, model and agent spend come from ``tenant_usage_hourly`` (a few rows per hour; periods start
on whole hours, so it is exact), grouped by only the columns the caps need, in ONE query per period. Customer
spend comes from ``customer_usage_daily`` (periods start on whole UTC days) through its (tenant, customer, day)
key, and ``customer:*`` finds every customer at or over a threshold in the same grouped query (HAVING).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.models import CustomerUsageDaily, TenantUsageHourly
from llmobserve_app.services.caps.touched import agents_in

HOURLY = TenantUsageHourly.__table__
DAILY = CustomerUsageDaily.__table__


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

    def of(self, scope: str, value: str) -> Spend:
        if scope == "global":
            return self.total
        return {"provider": self.providers, "model": self.models, "agent": self.agents}[scope].get(value, Spend())


def scope_spends(session: Session, tenant_id: int, start: datetime, end: datetime, *, providers: bool = False,
                 models: bool = False, agents: bool = False) -> ScopeSpends:
    """One grouped query on ``tenant_usage_hourly`` for ``[start, end)``."""
    keys = [column for column, wanted in ((HOURLY.c.provider, providers), (HOURLY.c.model, models),
                                          (HOURLY.c.section_path, agents)) if wanted]
    query = (sa.select(*keys, HOURLY.c.priced, sa.func.sum(HOURLY.c.cost_nanos), sa.func.sum(HOURLY.c.calls))
             .where(HOURLY.c.tenant_id == tenant_id, HOURLY.c.hour >= start, HOURLY.c.hour < end)
             .group_by(*keys, HOURLY.c.priced))
    spends = ScopeSpends()
    for row in session.execute(query):
        *key_values, priced, cost, calls = row
        cost, unpriced = (int(cost or 0), 0) if priced else (0, int(calls or 0))
        spends.total.add(cost, unpriced)
        named = dict(zip((column.name for column in keys), key_values, strict=True))
        if providers:
            spends.providers.setdefault(named["provider"], Spend()).add(cost, unpriced)
        if models:
            spends.models.setdefault(named["model"], Spend()).add(cost, unpriced)
        if agents:
            for agent in agents_in(named["section_path"]):
                spends.agents.setdefault(agent, Spend()).add(cost, unpriced)
    return spends


def customer_spends(session: Session, tenant_id: int, start: datetime, end: datetime, *,
                    customers: Collection[str] = (), at_least: int | None = None) -> dict[str, Spend]:
    """Spend per customer in ``[start, end)``: of ``customers``, plus every customer whose spend is at least
    ``at_least`` nano-dollars when given (the ``customer:*`` caps), in one grouped query."""
    cost = sa.func.sum(DAILY.c.cost_nanos)
    wanted = []
    if customers:
        wanted.append(DAILY.c.customer_id.in_(sorted(customers)))
    query = (sa.select(DAILY.c.customer_id, cost, sa.func.sum(DAILY.c.unpriced_calls))
             .where(DAILY.c.tenant_id == tenant_id, DAILY.c.day >= start, DAILY.c.day < end)
             .group_by(DAILY.c.customer_id))
    if at_least is not None:
        query = query.having(sa.or_(cost >= at_least, *wanted))
    elif wanted:
        query = query.where(*wanted)
    else:
        return {}
    rows = session.execute(query)
    return {customer: Spend(int(total or 0), int(unpriced or 0)) for customer, total, unpriced in rows}


def top_customer(session: Session, tenant_id: int, start: datetime, end: datetime) -> tuple[str, Spend] | None:
    """The customer who spent the most in ``[start, end)`` (what a ``customer:*`` cap shows when none is near)."""
    cost = sa.func.sum(DAILY.c.cost_nanos)
    row = session.execute(
        sa.select(DAILY.c.customer_id, cost, sa.func.sum(DAILY.c.unpriced_calls))
        .where(DAILY.c.tenant_id == tenant_id, DAILY.c.day >= start, DAILY.c.day < end)
        .group_by(DAILY.c.customer_id).order_by(cost.desc(), DAILY.c.customer_id).limit(1)).first()
    return None if row is None else (row[0], Spend(int(row[1] or 0), int(row[2] or 0)))
