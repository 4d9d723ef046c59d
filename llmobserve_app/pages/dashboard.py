"""/ — the dashboard."""

from __future__ import annotations

import reflex as rx

from llmobserve_app.components.layout import app_frame, error_callout
from llmobserve_app.components.setup_guide import setup_guide
from llmobserve_app.state.dashboard import DashboardState


def kpi_card(label: str, value: rx.Var, test_id: str, note: rx.Var | str = "") -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="2", color_scheme="gray"),
            rx.skeleton(rx.heading(value, size="7", id=test_id), loading=DashboardState.loading),
            rx.text(note, size="1", color_scheme="gray"),
            spacing="1",
        ),
        width="100%",
    )


def cost_table(title: str, rows: rx.Var, test_id: str) -> rx.Component:
    return rx.card(
        rx.heading(title, size="4", margin_bottom="0.5em"),
        rx.table.root(
            rx.table.header(rx.table.row(
                rx.table.column_header_cell("Name"), rx.table.column_header_cell("Cost"),
                rx.table.column_header_cell("Calls"))),
            rx.table.body(rx.foreach(rows, lambda row: rx.table.row(
                rx.table.cell(row["name"]),
                rx.table.cell(rx.hstack(rx.text(row["cost"]), rx.cond(
                    row["unpriced"] != "", rx.badge(row["unpriced"], " unpriced", color_scheme="amber")))),
                rx.table.cell(row["calls"]),
            ))),
            width="100%", id=test_id,
        ),
        width="100%",
    )


def runs_table() -> rx.Component:
    return rx.card(
        rx.heading("Recent runs", size="4", margin_bottom="0.5em"),
        rx.cond(
            DashboardState.recent_runs.length() > 0,
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                               ("Run", "Agent", "Customer", "Calls", "Cost", "Last call")])),
                rx.table.body(rx.foreach(DashboardState.recent_runs, lambda run: rx.table.row(
                    rx.table.cell(rx.code(run["run_id"])), rx.table.cell(run["agent"]),
                    rx.table.cell(run["customer"]), rx.table.cell(run["calls"]), rx.table.cell(run["cost"]),
                    rx.table.cell(run["last_seen"])))),
                width="100%", id="recent-runs",
            ),
            rx.text("No runs yet: calls inside @agent or run() are grouped into runs.", color_scheme="gray"),
        ),
        width="100%",
    )


def _with_data() -> rx.Component:
    return rx.vstack(
        rx.grid(
            kpi_card("Cost, last 24 hours", DashboardState.cost_24h, "kpi-cost-24h"),
            kpi_card("Cost, last 7 days", DashboardState.cost_7d, "kpi-cost-7d", DashboardState.week_over_week),
            kpi_card("Calls, last 7 days", DashboardState.calls_7d, "kpi-calls-7d",
                     rx.Var.create("failed: ") + DashboardState.failed_7d + " · unpriced: "
                     + DashboardState.unpriced_7d),
            kpi_card("Runs, last 7 days", DashboardState.runs_7d, "kpi-runs-7d"),
            columns=rx.breakpoints(initial="1", sm="2", lg="4"), spacing="4", width="100%",
        ),
        rx.card(rx.heading("Cost per day (UTC)", size="4"), rx.plotly(data=DashboardState.cost_figure,
                                                                      width="100%"), width="100%"),
        rx.grid(cost_table("Cost by provider (7 days)", DashboardState.by_provider, "by-provider"),
                cost_table("Cost by model (7 days)", DashboardState.by_model, "by-model"),
                columns=rx.breakpoints(initial="1", md="2"), spacing="4", width="100%"),
        runs_table(),
        spacing="4", width="100%",
    )


def _empty() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("No calls recorded yet", size="5"),
            rx.text("Add the SDK to your app with your API key (Settings) and your costs appear here."),
            setup_guide(),
            spacing="3",
        ),
        width="100%", id="empty-state",
    )


def dashboard_page() -> rx.Component:
    return app_frame(
        rx.vstack(
            rx.heading("Dashboard", size="7"),
            error_callout(DashboardState.error),
            rx.cond(
                DashboardState.loading,
                rx.grid(*[rx.skeleton(rx.card(height="96px")) for _ in range(4)], columns="4", spacing="4",
                        width="100%"),
                rx.cond(DashboardState.has_data, _with_data(), _empty()),
            ),
            spacing="4", width="100%",
        )
    )
