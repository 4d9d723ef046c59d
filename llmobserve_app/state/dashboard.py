"""Dashboard page: KPI cards, cost over time, cost by provider and model, recent runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import plotly.graph_objects as go
import reflex as rx
from sqlmodel import Session

from llmobserve_app import routes
from llmobserve_app.models import utcnow
from llmobserve_app.services import analytics
from llmobserve_app.services.money import format_usd, nanos_to_usd
from llmobserve_app.state.session import SessionState, run_db


@dataclass
class _DashboardData:
    summary: analytics.DashboardSummary
    days: list
    providers: list[analytics.CostRow]
    models: list[analytics.CostRow]
    runs: list


def _load(session: Session, tenant_id: int) -> _DashboardData:
    now = utcnow()
    end = analytics.hour_floor(now) + timedelta(hours=1)
    start = analytics.window_start(now, 24 * 7)
    return _DashboardData(
        summary=analytics.dashboard_summary(session, tenant_id, now),
        days=analytics.cost_over_time(session, tenant_id, start, end),
        providers=analytics.cost_by(session, tenant_id, "provider", start, end),
        models=analytics.cost_by(session, tenant_id, "model", start, end),
        runs=analytics.recent_runs(session, tenant_id),
    )


def _cost_rows(rows: list[analytics.CostRow]) -> list[dict[str, str]]:
    """Rows for a cost table. A row whose calls all lack a price says so instead of showing $0."""
    return [{
        "name": row.name or "(unknown)",
        "cost": "unpriced" if row.unpriced_calls == row.calls and row.calls else format_usd(row.cost_nanos),
        "calls": f"{row.calls:,}",
        "unpriced": f"{row.unpriced_calls:,}" if row.unpriced_calls else "",
    } for row in rows]


def _figure(days: list) -> go.Figure:
    figure = go.Figure(go.Bar(
        x=[day.strftime("%b %d") for day, _ in days],
        y=[float(nanos_to_usd(cost)) for _, cost in days],
        marker_color="#6e56cf",
        hovertemplate="%{x}: $%{y:.4f}<extra></extra>",
    ))
    figure.update_layout(margin={"l": 40, "r": 10, "t": 10, "b": 30}, height=260, yaxis_tickprefix="$",
                         paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)")
    return figure


class DashboardState(SessionState):
    loading: bool = True
    error: str = ""
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
    recent_runs: list[dict[str, str]] = []

    @rx.event
    async def load(self):  # noqa: ANN201
        self.loading, self.error = True, ""
        user = await self._require_user()
        if user is None:
            return rx.redirect(routes.LOGIN, replace=True)
        try:
            data = await run_db(_load, user.id)
        except Exception:  # noqa: BLE001 — show a message, keep the page usable
            self.error, self.loading = "Could not load the dashboard. Try reloading the page.", False
            return None
        summary = data.summary
        self.has_data = summary.has_any_data
        self.cost_24h = format_usd(summary.last_24h.cost_nanos)
        self.cost_7d = format_usd(summary.last_7d.cost_nanos)
        wow = summary.week_over_week
        self.week_over_week = "" if wow is None else f"{wow:+.0%} vs previous 7 days"
        self.calls_7d = f"{summary.last_7d.calls:,}"
        self.failed_7d = f"{summary.last_7d.failed_calls:,}"
        self.unpriced_7d = f"{summary.last_7d.unpriced_calls:,}"
        self.runs_7d = f"{summary.runs_7d:,}"
        self.cost_figure = _figure(data.days)
        self.by_provider = _cost_rows(data.providers)
        self.by_model = _cost_rows(data.models)
        self.recent_runs = [{
            "run_id": run.run_id, "agent": run.agent or "untracked", "customer": run.customer_id or "",
            "calls": f"{run.calls:,}", "cost": format_usd(run.cost_nanos),
            "last_seen": run.last_seen.strftime("%Y-%m-%d %H:%M UTC"),
        } for run in data.runs]
        self.loading = False
        return None
