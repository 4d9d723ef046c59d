"""/agents, /llms, /infrastructure, /costs and /insights: tables over the rollups."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import plotly.graph_objects as go
import reflex as rx

from llmobserve_app import routes
from llmobserve_app.services import analytics
from llmobserve_app.state import formatting as fmt
from llmobserve_app.state.filters import FilterState
from llmobserve_app.state.formatting import cost_rows
from llmobserve_app.state.page import AnalyticsPageState
from llmobserve_app.state.session import CurrentUser, run_db


class AgentsState(AnalyticsPageState, FilterState):
    rows: list[dict[str, str]] = []
    trend_figure: go.Figure = go.Figure()

    async def _fetch(self, _user: CurrentUser, scope: analytics.Scope) -> None:
        def fetch(session):
            return analytics.agents_with_trend(session, scope)

        rows, trend = await run_db(fetch)
        query = self._params()
        self.rows = [{
            "agent": row.agent,
            "href": "/runs?" + urlencode({**query, "agent": row.agent}),
            "cost": fmt.cost_or_unpriced(row.cost_nanos, row.calls, row.unpriced_calls),
            "calls": fmt.count(row.calls), "avg_latency": fmt.milliseconds(row.average_latency_ms),
            "tools": ", ".join(sorted(row.tools)) or "—",
        } for row in rows]
        self.trend_figure = fmt.cost_lines(trend)


class LlmsState(AnalyticsPageState, FilterState):
    rows: list[dict[str, str]] = []

    async def _fetch(self, _user: CurrentUser, scope: analytics.Scope) -> None:
        rows = await run_db(lambda s: analytics.models(s, scope))
        self.rows = [{
            "model": row.model, "provider": row.provider,
            "cost": fmt.cost_or_unpriced(row.cost_nanos, row.calls, row.unpriced_calls),
            "calls": fmt.count(row.calls), "input_tokens": fmt.count(row.input_tokens),
            "output_tokens": fmt.count(row.output_tokens), "cached_share": fmt.share(row.cached_share),
            "reasoning_share": fmt.share(row.reasoning_share),
            "avg_cost": "unpriced" if row.unpriced_calls == row.calls else fmt.usd(row.average_cost_nanos),
        } for row in rows]


class InfrastructureState(AnalyticsPageState, FilterState):
    rows: list[dict[str, str]] = []

    async def _fetch(self, _user: CurrentUser, scope: analytics.Scope) -> None:
        services = await run_db(lambda s: analytics.infrastructure(s, scope))
        self.rows = [{
            "name": row.provider,
            "cost": fmt.cost_or_unpriced(row.cost_nanos, row.calls, row.unpriced_calls),
            "calls": fmt.count(row.calls),
            "units": ", ".join(f"{unit.replace('_', ' ')}: {amount:,.0f}" for unit, amount in sorted(row.units.items()))
            or "—",
        } for row in services]


DIMENSION_LABELS = {"provider": "Provider", "model": "Model", "customer": "Customer", "agent": "Agent",
                    "day": "Day (UTC)"}


class CostsState(AnalyticsPageState, FilterState):
    group_by: str = "provider"
    rows: list[dict[str, str]] = []
    total: str = "$0.00"

    @rx.var
    def export_query(self) -> str:
        return "?" + urlencode({**self._params(), "group_by": self.group_by})

    async def _fetch(self, _user: CurrentUser, scope: analytics.Scope) -> None:
        group_by = self.group_by
        rows = await run_db(lambda s: analytics.cost_by(s, scope, group_by, limit=500))
        self.rows = [{**row, "input_tokens": fmt.count(source.input_tokens),
                      "output_tokens": fmt.count(source.output_tokens), "failed": fmt.count(source.failed_calls)}
                     for row, source in zip(cost_rows(rows), rows, strict=True)]
        self.total = fmt.usd(sum(row.cost_nanos for row in rows))

    @rx.event
    async def load(self):
        by = self.router.url.query_parameters.get("group_by", "provider")
        self.group_by = by if by in analytics.GROUP_BY else "provider"
        return await self._reload()

    @rx.event
    async def set_group_by(self, value: str):
        self.group_by = value if value in analytics.GROUP_BY else "provider"
        return await self._reload()


def add_price_href(provider: str, model: str) -> str:
    """/settings/prices with its "add a price" form pre-filled for this provider and model."""
    return f"{routes.SETTINGS_PRICES}?{urlencode({'provider': provider, 'model': model})}"


class InsightsState(AnalyticsPageState, FilterState):
    movers: list[dict[str, str]] = []
    top_customers: list[dict[str, str]] = []
    top_agents: list[dict[str, str]] = []
    untracked_share: str = "0%"
    untracked_cost: str = "$0.00"
    unpriced_models: list[dict[str, str]] = []

    async def _fetch(self, user: CurrentUser, scope: analytics.Scope) -> None:
        found = await run_db(lambda s: analytics.insights(s, user.id, customer_id=scope.customer_id))
        self.movers = [{
            "dimension": mover.dimension, "name": mover.name, "this_week": fmt.usd(mover.this_week_nanos),
            "last_week": fmt.usd(mover.last_week_nanos),
            "change": ("+" if mover.change_nanos > 0 else "−") + fmt.usd(abs(mover.change_nanos)),
            "direction": "up" if mover.change_nanos > 0 else "down",
        } for mover in found.movers]
        self.top_customers = [{**row, "href": "/customers/" + quote(row["name"], safe="")}
                              for row in cost_rows(found.top_customers)]
        self.top_agents = cost_rows(found.top_agents)
        self.untracked_share = fmt.share(found.untracked_share)
        self.untracked_cost = fmt.usd(found.untracked_cost_nanos)
        self.unpriced_models = [{"provider": p, "model": m, "calls": fmt.count(n), "href": add_price_href(p, m)}
                                for p, m, n in found.unpriced_models]
