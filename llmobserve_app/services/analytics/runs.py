"""/runs: runs in scope (paged, counted up to a limit, exported) and one run's tree of agents, tools and
calls with cost and latency at every node."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from llmobserve_app.models import Event, Run, utcnow
from llmobserve_app.services.analytics.scope import UNTRACKED, Scope, escape_like, runs_where

RUNS_COUNT_LIMIT = 10_000


@dataclass(frozen=True)
class RunsPage:
    rows: list[Run]
    total: int
    more: bool = False  # the count stopped at its limit: there are more than ``total`` runs


def _runs_query_conditions(scope: Scope, now: datetime, agent: str | None,
                           search: str) -> list[sa.ColumnElement[bool]]:
    conditions = runs_where(scope, now)
    if agent:
        conditions.append(Run.agent.is_(None) if agent == UNTRACKED else Run.agent == agent)
    if search.strip():
        conditions.append(Run.run_id.like(f"{escape_like(search)}%", escape="\\"))
    return conditions


def runs_page(session: Session, scope: Scope, agent: str | None = None, search: str = "", page: int = 0,
              page_size: int = 25, count_limit: int = RUNS_COUNT_LIMIT, now: datetime | None = None) -> RunsPage:
    """One page of runs, newest first. The total is counted up to ``count_limit`` (or a little past the
    page asked for): 30 days at 10M events hold ~2.5M runs, and counting them all took seconds for a pager
    label that then reads "of 10,000+"."""
    conditions = _runs_query_conditions(scope, now or utcnow(), agent, search)
    page = max(page, 0)
    rows = session.exec(select(Run).where(*conditions).order_by(Run.last_seen.desc(), Run.id.desc())
                        .limit(page_size).offset(page * page_size)).all()
    limit = max(count_limit, (page + 1) * page_size + 1)
    bounded = sa.select(Run.id).where(*conditions).limit(limit + 1).subquery()
    counted = int(session.execute(sa.select(sa.func.count()).select_from(bounded)).scalar_one())
    return RunsPage(list(rows), min(counted, limit), more=counted > limit)


def iter_runs(session: Session, scope: Scope, agent: str | None = None, search: str = "",
              now: datetime | None = None) -> Iterator[Run]:
    """Every run in scope, newest first, fetched in chunks (for exports)."""
    query = (select(Run).where(*_runs_query_conditions(scope, now or utcnow(), agent, search))
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


def run_tree(run_id: str, calls: Sequence[Event]) -> list[RunNode]:
    """A run's calls (in start order) as its hierarchy, depth first: the run, then each section of
    ``section_path`` ('agent:x/tool:y') nested in first-call order, each followed by its own calls."""
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
    return root.flatten()


def run_detail(session: Session, tenant_id: int, run_id: str) -> RunDetail | None:
    """One run's hierarchy (agents → tools → calls) with cost and latency at every node."""
    run = session.exec(select(Run).where(Run.tenant_id == tenant_id, Run.run_id == run_id)).first()
    if run is None:
        return None
    calls = list(session.exec(select(Event).where(Event.tenant_id == tenant_id, Event.run_id == run_id)
                              .order_by(Event.started_at, Event.id)))
    return RunDetail(run, run_tree(run_id, calls), calls)
