"""/ — the dashboard for a signed-in user, the landing page for a visitor."""

from __future__ import annotations

import reflex as rx

from llmobserve_app import routes
from llmobserve_app.components.blocks import data_table, empty_state, kpi_card, kpi_grid, page_skeleton, table_card
from llmobserve_app.components.cap_status import status_badge
from llmobserve_app.components.columns import COST_COLUMNS, RUN_COLUMNS
from llmobserve_app.components.layout import app_frame, error_callout
from llmobserve_app.pages.landing import landing
from llmobserve_app.state.dashboard import DashboardState as S


def _with_data() -> rx.Component:
    return rx.vstack(
        kpi_grid(
            kpi_card("Cost, last 24 hours", S.cost_24h, "kpi-cost-24h", S.loading),
            kpi_card("Cost, last 7 days", S.cost_7d, "kpi-cost-7d", S.loading, S.week_over_week),
            kpi_card("Calls, last 7 days", S.calls_7d, "kpi-calls-7d", S.loading,
                     rx.Var.create("failed: ") + S.failed_7d + " · unpriced: " + S.unpriced_7d),
            kpi_card("Runs, last 7 days", S.runs_7d, "kpi-runs-7d", S.loading),
        ),
        rx.card(rx.heading("Cost over time · ", S.range_label, size="4"),
                rx.plotly.basic(data=S.cost_figure, width="100%"), width="100%"),
        rx.grid(
            table_card("Cost by provider", data_table(COST_COLUMNS, S.by_provider, "by-provider"), S.by_provider),
            table_card("Cost by model", data_table(COST_COLUMNS, S.by_model, "by-model"), S.by_model),
            table_card("Top agents", data_table(COST_COLUMNS, S.top_agents, "top-agents"), S.top_agents),
            table_card("Top customers", data_table(COST_COLUMNS, S.top_customers, "top-customers"), S.top_customers),
            columns=rx.breakpoints(initial="1", md="2"), spacing="4", width="100%",
        ),
        table_card("Recent runs", data_table(RUN_COLUMNS, S.recent_runs, "recent-runs"), S.recent_runs,
                   "No runs yet: calls inside @agent or run() are grouped into runs."),
        spacing="4", width="100%",
    )


def _caps_callout() -> rx.Component:
    """The caps at warning or beyond, each a line of text, with a link to the caps page."""
    return rx.cond(S.caps_alerting.length() > 0, rx.callout(
        rx.vstack(
            rx.text("Spending caps need attention:", weight="medium"),
            rx.foreach(S.caps_alerting, lambda cap: rx.hstack(
                status_badge(cap["status"]), rx.text(cap["name"], weight="medium"),
                rx.text(cap["spend"], " of ", cap["limit"], " (", cap["percent"], ") · ", cap["scope"], " · per ",
                        cap["period"], color_scheme="gray"),
                align="center", spacing="2", wrap="wrap", class_name="dashboard-cap")),
            rx.link("Manage spending caps", href=routes.CAPS, id="dashboard-caps-link"),
            spacing="1",
        ),
        icon="gauge", color_scheme="amber", size="1", id="dashboard-caps", width="100%",
    ))


def _dashboard() -> rx.Component:
    return app_frame(
        rx.vstack(
            rx.heading("Dashboard", size="7"),
            error_callout(S.error),
            _caps_callout(),
            rx.cond(S.loading, page_skeleton(), rx.cond(S.has_data, _with_data(), empty_state(
                "No calls recorded yet",
                "Add the SDK to your app with your API key (Settings) and your costs appear here."))),
            spacing="4", width="100%",
        ),
        with_filter=True,
    )


def dashboard_page() -> rx.Component:
    return rx.cond(S.visitor, landing(),
                   rx.cond(S.checked, _dashboard(), rx.center(rx.spinner(size="3"), height="60vh")))
