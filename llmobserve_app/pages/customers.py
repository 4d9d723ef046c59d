"""/customers and /customers/[customer]."""

from __future__ import annotations

import reflex as rx

from llmobserve_app import routes
from llmobserve_app.components.blocks import data_table, kpi_card, kpi_grid, page_body, pager, table_card
from llmobserve_app.components.columns import COST_COLUMNS, RUN_COLUMNS
from llmobserve_app.components.layout import app_frame
from llmobserve_app.state.customers import CustomerDetailState as D
from llmobserve_app.state.customers import CustomersState as S
from llmobserve_app.state.filters import FilterState

CUSTOMER_COLUMNS = [("Customer", "customer"), ("Total cost", "cost"), ("Calls", "calls"),
                    ("Avg cost / call", "avg_cost"), ("Avg latency", "avg_latency"), ("Providers", "providers"),
                    ("First seen", "first_seen"), ("Last seen", "last_seen")]


def customers_page() -> rx.Component:
    table = data_table(
        CUSTOMER_COLUMNS, S.rows, "customers-table", link=("customer", "href"),
        sortable={"cost": S.sort_by("cost"), "calls": S.sort_by("calls"), "customer": S.sort_by("customer"),
                  "avg_latency": S.sort_by("avg_latency"), "last_seen": S.sort_by("last_seen")},
    )
    content = rx.vstack(
        kpi_grid(
            kpi_card("Customers", S.kpi_customers, "kpi-customers", S.loading),
            kpi_card("Total cost", S.kpi_cost, "kpi-customers-cost", S.loading),
            kpi_card("Calls", S.kpi_calls, "kpi-customers-calls", S.loading),
            kpi_card("Average cost per customer", S.kpi_average, "kpi-customers-average", S.loading),
        ),
        rx.card(
            rx.input(placeholder="Search customers…", value=S.search, on_change=S.set_search.debounce(300),
                     id="customer-search", width="320px", margin_bottom="0.75em"),
            rx.cond(S.rows.length() > 0, table, rx.text("No customer matches.", color_scheme="gray")),
            pager(S.page_label, S.page > 0, S.has_next, S.turn_page),
            width="100%", overflow_x="auto",
        ),
        spacing="4", width="100%",
    )
    return app_frame(
        rx.heading("Customers", size="7", margin_bottom="0.5em"),
        page_body(S.loading, S.error, (S.total > 0) | (S.search != ""), content,
                  "No customer-tagged calls in this range"),
        with_filter=True,
    )


def customer_detail_page() -> rx.Component:
    content = rx.vstack(
        kpi_grid(
            kpi_card("Cost", D.cost, "kpi-customer-cost", D.loading, FilterState.range_label),
            kpi_card("Calls", D.calls, "kpi-customer-calls", D.loading),
            kpi_card("Average latency", D.average_latency, "kpi-customer-latency", D.loading),
        ),
        rx.card(rx.heading("Cost over time", size="4"), rx.plotly.basic(data=D.cost_figure, width="100%"),
                width="100%"),
        rx.grid(
            table_card("Models", data_table(COST_COLUMNS, D.models, "customer-models"), D.models),
            table_card("Agents", data_table(COST_COLUMNS, D.agents, "customer-agents"), D.agents),
            columns=rx.breakpoints(initial="1", md="2"), spacing="4", width="100%",
        ),
        table_card("Runs", data_table(RUN_COLUMNS, D.runs, "customer-runs"), D.runs),
        spacing="4", width="100%",
    )
    return app_frame(
        rx.hstack(rx.link("Customers", href=routes.CUSTOMERS + FilterState.query_string), rx.text("/"),
                  rx.heading(D.customer_id, size="6", id="customer-title"), align="center", margin_bottom="0.5em"),
        page_body(D.loading, D.error, D.found, content, "No calls from this customer in this range"),
        with_filter=True,
    )
