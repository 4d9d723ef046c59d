"""/runs and /runs/[run]."""

from __future__ import annotations

import reflex as rx

from llmobserve_app import routes
from llmobserve_app.components.blocks import data_table, page_body, pager
from llmobserve_app.components.columns import RUN_COLUMNS
from llmobserve_app.components.layout import app_frame
from llmobserve_app.state.filters import FilterState
from llmobserve_app.state.runs import RunDetailState as D
from llmobserve_app.state.runs import RunsState as S


def _export_buttons() -> rx.Component:
    return rx.hstack(
        rx.link(rx.button(rx.icon("download", size=14), "CSV", size="1", variant="soft"),
                href="/api/export/runs.csv" + S.export_query, id="export-runs-csv", is_external=True),
        rx.link(rx.button(rx.icon("download", size=14), "JSON", size="1", variant="soft"),
                href="/api/export/runs.json" + S.export_query, id="export-runs-json", is_external=True),
    )


def runs_page() -> rx.Component:
    content = rx.card(
        rx.hstack(
            rx.input(placeholder="Run id starts with…", value=S.search, on_change=S.set_search.debounce(300),
                     id="run-search", width="280px"),
            rx.cond(S.agent != "", rx.badge("agent: ", S.agent, size="2")),
            rx.spacer(), _export_buttons(), align="center", margin_bottom="0.75em", width="100%",
        ),
        rx.cond(S.rows.length() > 0, data_table(RUN_COLUMNS, S.rows, "runs-table", link=("run_id", "href")),
                rx.text("No run matches.", color_scheme="gray")),
        pager(S.page_label, S.page > 0, S.has_next, S.turn_page),
        width="100%", overflow_x="auto",
    )
    return app_frame(
        rx.heading("Runs", size="7", margin_bottom="0.5em"),
        page_body(S.loading, S.error, (S.total > 0) | (S.search != ""), content, "No runs in this range"),
        with_filter=True,
    )


def _tree_row(node: rx.Var) -> rx.Component:
    icon = rx.match(node["kind"], ("run", "play"), ("agent", "bot"), ("tool", "wrench"), ("call", "zap"), "folder")
    return rx.table.row(
        rx.table.cell(rx.hstack(rx.box(width=node["indent"]), rx.icon(icon, size=14), rx.text(node["label"]),
                                align="center", spacing="2")),
        rx.table.cell(node["cost"]), rx.table.cell(node["latency"]), rx.table.cell(node["calls"]),
        class_name="run-node",
    )


def _timeline_row(call: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.text(call["label"], size="1", width="260px", white_space="nowrap", overflow="hidden",
                text_overflow="ellipsis"),
        rx.box(
            rx.box(position="absolute", left=call["left"], width=call["width"], height="100%", border_radius="3px",
                   background=rx.color("accent", 9), title=call["latency"] + " · " + call["cost"]),
            position="relative", height="14px", flex="1", background=rx.color("gray", 3), border_radius="3px",
        ),
        rx.text(call["latency"], size="1", width="70px", text_align="right"),
        width="100%", align="center", class_name="timeline-call",
    )


def run_detail_page() -> rx.Component:
    fields = (("Cost", "cost"), ("Calls", "calls"), ("Failed", "failed"), ("Agent", "agent"),
              ("Customer", "customer"), ("Started", "started"), ("Duration", "duration"))
    summary = rx.hstack(
        *[rx.vstack(rx.text(label, size="1", color_scheme="gray"), rx.text(D.summary[key], weight="bold"),
                    spacing="0") for label, key in fields],
        spacing="6", wrap="wrap", id="run-summary",
    )
    content = rx.vstack(
        rx.card(summary, width="100%"),
        rx.card(
            rx.heading("Hierarchy", size="4", margin_bottom="0.5em"),
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h)
                                               for h in ("Agent / tool / call", "Cost", "Latency", "Calls")])),
                rx.table.body(rx.foreach(D.tree, _tree_row)), width="100%", size="1", id="run-tree",
            ),
            width="100%",
        ),
        rx.card(rx.heading("Timeline", size="4", margin_bottom="0.5em"),
                rx.vstack(rx.foreach(D.timeline, _timeline_row), width="100%", spacing="1", id="run-timeline"),
                width="100%"),
        spacing="4", width="100%",
    )
    return app_frame(
        rx.hstack(rx.link("Runs", href=routes.RUNS + FilterState.query_string), rx.text("/"),
                  rx.code(D.run_id, size="4", id="run-title"), align="center", margin_bottom="0.5em"),
        page_body(D.loading, D.error, D.found, content, "This run does not exist (or is not yours)"),
    )
