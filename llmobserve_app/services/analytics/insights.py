"""/insights: week-over-week movers, the most expensive customers and agents, untracked share and models
without a price."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.models import utcnow
from llmobserve_app.services.analytics import closed_days, customer_view
from llmobserve_app.services.analytics.costs import CostRow, cost_row, cost_row_columns
from llmobserve_app.services.analytics.per_customer import Source, binary_order, by_customer, in_order, sums_of
from llmobserve_app.services.analytics.scope import UNTRACKED, Scope, hourly_where, usage_of
from llmobserve_app.services.time_range import day_floor, hour_floor


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


def _movers_of(this: customer_view.View, last: customer_view.View, count: int) -> list[Mover]:
    """The ``count`` named customers whose cost changed most between two weeks' views: the bases' customers
    ranked once per pair of builds (kept in the week view's decoded base), the open part's merged in."""
    ranked = this.base.movers_against(last.base)
    moved = [(name, this.cost_of(name), last.cost_of(name)) for name in this.opened if name]
    moved = [row for row in moved if row[1] != row[2]]
    untouched = 0
    for row in ranked:  # the others' changes are their bases': the first ``count`` of them can make the cut
        if untouched == count:
            break
        if row[0] not in this.opened:
            moved.append(row)
            untouched += 1
    moved.sort(key=lambda row: (-abs(row[1] - row[2]), row[0]))
    return [Mover("customer", name, current, before) for name, current, before in moved[:count]]


def _customer_weeks(session: Session, week: Scope, previous: Scope, now: datetime,
                    limit: int) -> tuple[list[CostRow], list[Mover]]:
    """The ``limit`` most expensive customers of ``week`` and the ``2 * limit`` whose cost changed most against
    ``previous``: ranked in memory from the weeks' range bases (customer_view), or without bases one GROUP BY
    over both windows (there can be 10k customers), ranked twice in SQL."""
    def compute(this_source: Source, last_source: Source) -> tuple[list[CostRow], list[Mover]]:
        this_view, last_view = this_source.view(session), last_source.view(session)
        if this_view is not None and last_view is not None and not last_view.opened:
            names = this_view.page("cost_nanos", True, limit)
            values = this_view.values_of(names)
            top = [cost_row(name, tuple(values[name][index] for index in customer_view.COST_ROW_VALUES))
                   for name in names]
            return top, _movers_of(this_view, last_view, 2 * limit)
        this, last = this_source.rows, last_source.rows
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
               .order_by(w.this_week.desc(), binary_order(session, w.customer_id)).limit(limit).subquery("top_rows"))
        top_ranked = in_order(top, top.c.this_week.desc(), binary_order(session, top.c.customer_id)).subquery()
        moved = (sa.select(w.customer_id, this_week.label("this_week"), w.last_week)
                 .where(this_week != w.last_week)
                 .order_by(sa.func.abs(this_week - w.last_week).desc(), binary_order(session, w.customer_id))
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
        return [cost_row(name, tuple(values)) for name, *values in sums_of(session, this, details, top_names)], movers

    return by_customer(session, [week, previous], now, compute, named_only=True)


def insights(session: Session, tenant_id: int, now: datetime | None = None, customer_id: str | None = None,
             limit: int = 5) -> Insights:
    """Week-over-week movers, the most expensive customers and agents, untracked share, unpriced models."""
    now = now or utcnow()
    end = hour_floor(now) + timedelta(hours=1)
    week = Scope(tenant_id, day_floor(now) - timedelta(days=6), end, customer_id)
    previous = Scope(tenant_id, week.start - timedelta(days=7), week.start, customer_id)
    top_customers, movers = _customer_weeks(session, week, previous, now, limit)  # every customer that can make the cut
    t = usage_of(week)
    costs: dict[tuple[str, bool], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    week_agents: dict[str, list[int]] = defaultdict(lambda: [0] * 6)  # raw agent → the sums of a CostRow
    # Models and agents: the week with every sum of a CostRow, the week before with its cost only. Two GROUP BYs
    # sort less than one over both weeks keyed by week as well (docs/BENCHMARKS.md, "Insights at 1M").
    # The closed days' part of each is kept between requests (closed_days).
    for of_week, scope, sums in ((True, week, cost_row_columns(t)), (False, previous, [sa.func.sum(t.cost_nanos)])):
        def read(part: Scope, sums: list = sums) -> list[tuple]:
            query = sa.select(t.model, t.agent, *sums).where(*hourly_where(part)).group_by(t.model, t.agent)
            return [tuple(row) for row in session.execute(query).all()]

        for model, agent, *values in closed_days.summed(session, scope, now, f"insights_models_agents_{of_week}",
                                                        2, read):
            costs["model", of_week][model or ""] += int(values[0] or 0)
            costs["agent", of_week][agent or UNTRACKED] += int(values[0] or 0)
            if of_week:
                for index, value in enumerate(values):
                    week_agents[agent or ""][index] += int(value or 0)
    # As cost_by(week, "agent") orders them: cost, then the stored agent name ('' for untracked).
    agent_rows = [cost_row(agent or UNTRACKED, tuple(values))
                  for agent, values in sorted(week_agents.items(), key=lambda item: (-item[1][0], item[0]))]
    for dimension in ("model", "agent"):
        this_week, last_week = costs[dimension, True], costs[dimension, False]
        for name in (this_week.keys() | last_week.keys()) - {""}:
            mover = Mover(dimension, name, this_week.get(name, 0), last_week.get(name, 0))
            if mover.change_nanos:
                movers.append(mover)
    movers.sort(key=lambda mover: (-abs(mover.change_nanos), mover.dimension, mover.name))
    unpriced_query = (sa.select(t.provider, t.model, sa.func.sum(t.calls))
                      .where(*hourly_where(week), t.priced.is_(False))
                      .group_by(t.provider, t.model).order_by(sa.func.sum(t.calls).desc()))
    return Insights(
        movers=movers[:limit * 2],
        top_customers=top_customers,
        top_agents=[row for row in agent_rows if row.name != UNTRACKED][:limit],
        untracked_cost_nanos=sum(row.cost_nanos for row in agent_rows if row.name == UNTRACKED),
        total_cost_nanos=sum(row.cost_nanos for row in agent_rows),
        unpriced_models=[(p, m or "(unknown)", int(n)) for p, m, n in session.execute(unpriced_query).all()],
    )
