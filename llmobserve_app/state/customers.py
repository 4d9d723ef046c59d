"""/customers (searchable, sortable, paginated in the database) and /customers/[customer] drill-down."""

from __future__ import annotations

from urllib.parse import quote, unquote

import plotly.graph_objects as go
import reflex as rx

from llmobserve_app.services import analytics
from llmobserve_app.state import formatting as fmt
from llmobserve_app.state.filters import FilterState
from llmobserve_app.state.formatting import cost_rows, run_rows
from llmobserve_app.state.page import AnalyticsPageState
from llmobserve_app.state.session import CurrentUser, run_db

PAGE_SIZE = 25


class CustomersState(AnalyticsPageState, FilterState):
    search: str = ""
    sort: str = "cost"
    descending: bool = True
    page: int = 0
    total: int = 0
    kpi_customers: str = "0"
    kpi_cost: str = "$0.00"
    kpi_calls: str = "0"
    kpi_average: str = "$0.00"
    rows: list[dict[str, str]] = []

    @rx.var
    def page_label(self) -> str:
        return fmt.page_label(self.page, PAGE_SIZE, self.total, "customers")

    @rx.var
    def has_next(self) -> bool:
        return (self.page + 1) * PAGE_SIZE < self.total

    async def _fetch(self, _user: CurrentUser, scope: analytics.Scope) -> None:
        search, sort, descending, page = self.search, self.sort, self.descending, self.page
        result = await run_db(lambda s: analytics.customers_page(s, scope, search, sort, descending, page, PAGE_SIZE))
        self.total = result.total_customers
        self.kpi_customers = fmt.count(result.total_customers)
        self.kpi_cost = fmt.usd(result.total_cost_nanos)
        self.kpi_calls = fmt.count(result.total_calls)
        self.kpi_average = fmt.usd(result.average_cost_per_customer_nanos)
        self.rows = [{
            "customer": row.customer_id,
            "href": "/customers/" + quote(row.customer_id, safe=""),
            "cost": fmt.usd(row.cost_nanos),
            "calls": fmt.count(row.calls),
            "avg_cost": fmt.usd(row.average_cost_nanos),
            "avg_latency": fmt.milliseconds(row.average_latency_ms),
            "providers": ", ".join(row.providers),
            "first_seen": fmt.moment(row.first_seen),
            "last_seen": fmt.moment(row.last_seen),
        } for row in result.rows]

    @rx.event
    async def set_search(self, text: str):
        self.search, self.page = text[:200], 0
        return await self._reload()

    @rx.event
    async def sort_by(self, column: str):
        if column not in analytics.CUSTOMER_SORTS:
            return None
        self.descending = not self.descending if column == self.sort else column != "customer"
        self.sort, self.page = column, 0
        return await self._reload()

    @rx.event
    async def turn_page(self, step: int):
        self.page = max(0, self.page + step)
        return await self._reload()


class CustomerDetailState(AnalyticsPageState, FilterState):
    customer_id: str = ""
    cost: str = "$0.00"
    calls: str = "0"
    average_latency: str = ""
    found: bool = True
    cost_figure: go.Figure = go.Figure()
    models: list[dict[str, str]] = []
    agents: list[dict[str, str]] = []
    runs: list[dict[str, str]] = []

    async def _fetch(self, _user: CurrentUser, scope: analytics.Scope) -> None:
        self.customer_id = unquote(self.router.url.path.rstrip("/").rsplit("/", 1)[-1])
        scope = analytics.Scope(scope.tenant_id, scope.start, scope.end, self.customer_id)

        def fetch(session):
            return (analytics.totals(session, scope), analytics.cost_over_time(session, scope),
                    analytics.cost_by(session, scope, "model"), analytics.cost_by(session, scope, "agent"),
                    analytics.runs_page(session, scope, page_size=10).rows)

        totals, days, models, agents, runs = await run_db(fetch)
        self.found = totals.calls > 0
        self.cost, self.calls = fmt.usd(totals.cost_nanos), fmt.count(totals.calls)
        self.average_latency = fmt.milliseconds(totals.average_latency_ms)
        self.cost_figure = fmt.cost_bars(days)
        self.models, self.agents, self.runs = cost_rows(models), cost_rows(agents), run_rows(runs)
