"""/agents, /llms, /infrastructure, /costs and /insights."""

from __future__ import annotations

import reflex as rx

from llmobserve_app.components.blocks import data_table, page_body, table_card
from llmobserve_app.components.columns import COST_COLUMNS
from llmobserve_app.components.layout import app_frame
from llmobserve_app.state.breakdowns import (
    DIMENSION_LABELS,
    AgentsState,
    CostsState,
    InfrastructureState,
    InsightsState,
)
from llmobserve_app.state.breakdowns import LlmsState as L


def agents_page() -> rx.Component:
    S = AgentsState
    columns = [("Agent", "agent"), ("Cost", "cost"), ("Calls", "calls"), ("Avg latency", "avg_latency"),
               ("Tools used", "tools")]
    content = rx.vstack(
        rx.card(rx.heading("Cost per day, top agents", size="4"), rx.plotly.basic(data=S.trend_figure, width="100%"),
                width="100%"),
        table_card("Agents", data_table(columns, S.rows, "agents-table", link=("agent", "href"), keep_filter=False),
                   S.rows),
        spacing="4", width="100%",
    )
    return app_frame(rx.heading("Agents", size="7", margin_bottom="0.5em"),
                     page_body(S.loading, S.error, S.rows.length() > 0, content), with_filter=True)


def llms_page() -> rx.Component:
    columns = [("Model", "model"), ("Provider", "provider"), ("Cost", "cost"), ("Calls", "calls"),
               ("Tokens in", "input_tokens"), ("Tokens out", "output_tokens"), ("Cached share", "cached_share"),
               ("Reasoning share", "reasoning_share"), ("Avg cost / call", "avg_cost")]
    content = table_card("Models", data_table(columns, L.rows, "llms-table"), L.rows)
    return app_frame(rx.heading("LLMs", size="7", margin_bottom="0.5em"),
                     page_body(L.loading, L.error, L.rows.length() > 0, content), with_filter=True)


def infrastructure_page() -> rx.Component:
    S = InfrastructureState
    columns = [("Service", "name"), ("Cost", "cost"), ("Calls", "calls"), ("Units", "units")]
    content = table_card("Services", data_table(columns, S.rows, "infrastructure-table"), S.rows)
    return app_frame(
        rx.heading("Infrastructure", size="7"),
        rx.text("Vector databases, search and speech APIs your app pays for besides LLMs.", color_scheme="gray",
                margin_bottom="0.5em"),
        page_body(S.loading, S.error, S.rows.length() > 0, content, "No infrastructure calls in this range"),
        with_filter=True,
    )


def costs_page() -> rx.Component:
    S = CostsState
    columns = [("Name", "name"), ("Cost", "cost"), ("Calls", "calls"), ("Failed", "failed"),
               ("Unpriced", "unpriced"), ("Tokens in", "input_tokens"), ("Tokens out", "output_tokens")]
    actions = rx.hstack(
        rx.select.root(
            rx.select.trigger(id="group-by"),
            rx.select.content(*[rx.select.item(label, value=key) for key, label in DIMENSION_LABELS.items()]),
            value=S.group_by, on_change=S.set_group_by, size="1",
        ),
        rx.link(rx.button(rx.icon("download", size=14), "CSV", size="1", variant="soft"),
                href="/api/export/costs.csv" + S.export_query, id="export-costs-csv", is_external=True),
        rx.link(rx.button(rx.icon("download", size=14), "JSON", size="1", variant="soft"),
                href="/api/export/costs.json" + S.export_query, id="export-costs-json", is_external=True),
        align="center",
    )
    content = table_card(rx.Var.create("Total ") + S.total, data_table(columns, S.rows, "costs-table"), S.rows,
                         actions=actions)
    return app_frame(rx.heading("Costs", size="7", margin_bottom="0.5em"),
                     page_body(S.loading, S.error, S.rows.length() > 0, content), with_filter=True)


def insights_page() -> rx.Component:
    S = InsightsState
    mover_columns = [("Kind", "dimension"), ("Name", "name"), ("This week", "this_week"),
                     ("Week before", "last_week"), ("Change", "change")]
    content = rx.vstack(
        rx.card(rx.hstack(
            rx.vstack(rx.text("Untracked share of spend (no @agent)", size="2", color_scheme="gray"),
                      rx.heading(S.untracked_share, size="7", id="untracked-share"),
                      rx.text(S.untracked_cost, " outside any agent", size="1", color_scheme="gray"), spacing="1"),
        ), width="100%"),
        table_card("Week-over-week movers", data_table(mover_columns, S.movers, "movers"), S.movers,
                   "No change between the last two weeks."),
        rx.grid(
            table_card("Most expensive customers",
                       data_table(COST_COLUMNS, S.top_customers, "insight-customers", link=("name", "href")),
                       S.top_customers),
            table_card("Most expensive agents", data_table(COST_COLUMNS, S.top_agents, "insight-agents"),
                       S.top_agents),
            columns=rx.breakpoints(initial="1", md="2"), spacing="4", width="100%",
        ),
        table_card("Unpriced models to fix",
                   data_table([("Provider", "provider"), ("Model", "model"), ("Calls", "calls")], S.unpriced_models,
                              "unpriced-models", link=("model", "href"), keep_filter=False),
                   S.unpriced_models, "Every call of the last 7 days had a price."),
        spacing="4", width="100%",
    )
    return app_frame(rx.heading("Insights (last 7 days)", size="7", margin_bottom="0.5em"),
                     page_body(S.loading, S.error, True, content), with_filter=True)
