"""Dashboard: KPI cards, cost over time, cost by provider and model, top agents and customers, recent runs."""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go
import reflex as rx
from sqlmodel import Session

from llmobserve_app.clock import app_clock
from llmobserve_app.services import analytics
from llmobserve_app.services.caps.overview import alerting
from llmobserve_app.state import formatting as fmt
from llmobserve_app.state.filters import FilterState
from llmobserve_app.state.formatting import cost_rows, run_rows
from llmobserve_app.state.page import AnalyticsPageState
from llmobserve_app.state.session import CurrentUser, run_db


@dataclass
class _DashboardData:
    summary: analytics.DashboardSummary
    days: list
    providers: list[analytics.CostRow]
    models: list[analytics.CostRow]
    agents: list[analytics.CostRow]
    customers: list[analytics.CostRow]
    runs: list
    caps: list[dict[str, str]]


def _load(session: Session, scope: analytics.Scope) -> _DashboardData:
    return _DashboardData(
        summary=analytics.dashboard_summary(session, scope.tenant_id, customer_id=scope.customer_id),
        days=analytics.cost_over_time(session, scope),
        providers=analytics.cost_by(session, scope, "provider"),
        models=analytics.cost_by(session, scope, "model"),
        agents=analytics.cost_by(session, scope, "agent", limit=6),
        customers=[row for row in analytics.cost_by(session, scope, "customer", limit=6) if row.name][:5],
        runs=analytics.recent_runs(session, scope.tenant_id, customer_id=scope.customer_id),
        caps=[fmt.cap_row(view) for view in alerting(session, scope.tenant_id, app_clock()())],
    )


class DashboardState(AnalyticsPageState, FilterState):
    """The dashboard for a signed-in user; for a visitor, ``visitor`` is set and / shows the landing page."""

    visitor: bool = False
    checked: bool = False  # the session was checked: nothing (neither landing nor dashboard) is shown before
    has_data: bool = False
    cost_24h: str = "$0.00"
    cost_7d: str = "$0.00"
    week_over_week: str = ""
    calls_7d: str = "0"
    failed_7d: str = "0"
    unpriced_7d: str = "0"
    runs_7d: str = "0"
    cost_figure: go.Figure = go.Figure()
    by_provider: list[dict[str, str]] = []
    by_model: list[dict[str, str]] = []
    top_agents: list[dict[str, str]] = []
    top_customers: list[dict[str, str]] = []
    recent_runs: list[dict[str, str]] = []
    caps_alerting: list[dict[str, str]] = []  # caps at warning or beyond, whatever the filter

    async def _fetch(self, _user: CurrentUser, scope: analytics.Scope) -> None:
        data = await run_db(_load, scope)
        summary = data.summary
        self.has_data = summary.has_any_data
        self.cost_24h = fmt.usd(summary.last_24h.cost_nanos)
        self.cost_7d = fmt.usd(summary.last_7d.cost_nanos)
        wow = summary.week_over_week
        self.week_over_week = "no spend the week before" if wow is None else f"{wow:+.0%} vs previous 7 days"
        self.calls_7d = fmt.count(summary.last_7d.calls)
        self.failed_7d = fmt.count(summary.last_7d.failed_calls)
        self.unpriced_7d = fmt.count(summary.last_7d.unpriced_calls)
        self.runs_7d = fmt.count(summary.runs_7d)
        self.cost_figure = fmt.cost_bars(data.days)
        self.by_provider = cost_rows(data.providers)
        self.by_model = cost_rows(data.models)
        self.top_agents = cost_rows(data.agents)
        self.top_customers = cost_rows(data.customers)
        self.recent_runs = run_rows(data.runs)
        self.caps_alerting = data.caps

    @rx.event
    async def load(self):
        """Like every page's ``load``, except that a visitor stays on / (the landing page) instead of being sent
        to /login."""
        to_login = await self._reload()
        self.visitor, self.checked = to_login is not None, True
        if self.visitor:
            self.loading = False
