"""/agents: cost, calls, latency and tools per top-level agent, and the daily trend of the top ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.models import UTCDateTime, utcnow
from llmobserve_app.services import rollups
from llmobserve_app.services.analytics import closed_days
from llmobserve_app.services.analytics.scope import (
    UNTRACKED,
    Scope,
    buckets,
    hourly_where,
    unpriced_calls_sum,
    usage_of,
)


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


def _agent_day_rows(session: Session, scope: Scope, now: datetime | None) -> list[tuple]:
    """Cost, calls, latency and unpriced calls per agent, section path and UTC day: one pass that serves both
    the agents table and their trend; the closed days' part kept between requests (``closed_days``)."""
    t = usage_of(scope)
    day_of = sa.type_coerce(rollups.truncated(session.get_bind().dialect.name, "day", t.hour), UTCDateTime)

    def read(part: Scope) -> list[tuple]:
        query = (sa.select(t.agent, t.section_path, day_of, sa.func.sum(t.cost_nanos), sa.func.sum(t.calls),
                           sa.func.sum(t.latency_ms_sum), unpriced_calls_sum(t))
                 .where(*hourly_where(part)).group_by(t.agent, t.section_path, day_of))
        return [tuple(row) for row in session.execute(query).all()]

    return closed_days.summed(session, scope, now or utcnow(), "agent_days", 3, read)


def _agents_from(rows: list[tuple]) -> list[AgentRow]:
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


def agents(session: Session, scope: Scope, now: datetime | None = None) -> list[AgentRow]:
    """Per top-level agent (calls outside any agent form the 'untracked' row), most expensive first."""
    return _agents_from(_agent_day_rows(session, scope, now))


def agents_with_trend(session: Session, scope: Scope, top: int = 5, now: datetime | None = None
                      ) -> tuple[list[AgentRow], dict[str, list[tuple[datetime, int]]]]:
    """The agents table and the daily cost of its ``top`` most expensive agents over the window, every day
    of the window included (``now``, default the clock, decides which days are closed)."""
    rows = _agent_day_rows(session, scope, now)
    table = _agents_from(rows)
    names = [row.agent for row in table[:top]]
    series: dict[str, dict[datetime, int]] = {name: dict.fromkeys(buckets(scope, False), 0) for name in names}
    for agent, _section_path, day, cost, *_ in rows:
        bucket = series.get(agent or UNTRACKED)
        if bucket is not None:
            bucket[day] = bucket.get(day, 0) + int(cost or 0)
    return table, {name: sorted(values.items()) for name, values in series.items()}
