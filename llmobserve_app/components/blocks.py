"""Building blocks of analytics pages: KPI cards, tables of string rows, loading and empty states."""

from __future__ import annotations

import reflex as rx

from llmobserve_app.components.setup_guide import setup_guide
from llmobserve_app.state.filters import FilterState


def kpi_card(label: str, value: rx.Var, test_id: str, loading: rx.Var, note: rx.Var | str = "") -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="2", color_scheme="gray"),
            rx.skeleton(rx.heading(value, size="7", id=test_id), loading=loading),
            rx.text(note, size="1", color_scheme="gray"),
            spacing="1",
        ),
        width="100%",
    )


def kpi_grid(*cards: rx.Component) -> rx.Component:
    return rx.grid(*cards, columns=rx.breakpoints(initial="1", sm="2", lg=str(len(cards))), spacing="4",
                   width="100%")


def _cell(row: rx.Var, key: str, link_key: str | None, keep_filter: bool) -> rx.Component:
    if link_key is None:
        return rx.table.cell(row[key])
    href = row[link_key] + FilterState.query_string if keep_filter else row[link_key]
    return rx.table.cell(rx.link(row[key], href=href))


def data_table(columns: list[tuple[str, str]], rows: rx.Var, test_id: str, link: tuple[str, str] | None = None,
               keep_filter: bool = True, sortable: dict[str, rx.EventHandler] | None = None) -> rx.Component:
    """A table of ``list[dict[str, str]]``; ``link=(column_key, href_key)`` makes that column a link."""
    sortable = sortable or {}

    def header(title: str, key: str) -> rx.Component:
        if key in sortable:
            return rx.table.column_header_cell(rx.button(title, rx.icon("arrow-up-down", size=12), variant="ghost",
                                                         size="1", on_click=sortable[key], id=f"sort-{key}"))
        return rx.table.column_header_cell(title)

    return rx.table.root(
        rx.table.header(rx.table.row(*[header(title, key) for title, key in columns])),
        rx.table.body(rx.foreach(rows, lambda row: rx.table.row(
            *[_cell(row, key, link[1] if link and key == link[0] else None, keep_filter) for _, key in columns]))),
        width="100%", id=test_id, variant="surface", size="1",
    )


def table_card(title: str, table: rx.Component, rows: rx.Var, empty_text: str = "Nothing in this range.",
               actions: rx.Component | None = None) -> rx.Component:
    return rx.card(
        rx.hstack(rx.heading(title, size="4"), rx.spacer(), actions or rx.fragment(), align="center",
                  margin_bottom="0.5em"),
        rx.cond(rows.length() > 0, table, rx.text(empty_text, color_scheme="gray", size="2")),
        width="100%", overflow_x="auto",
    )


def page_skeleton() -> rx.Component:
    return rx.vstack(
        rx.grid(*[rx.skeleton(rx.card(height="90px")) for _ in range(4)], columns="4", spacing="4", width="100%"),
        rx.skeleton(rx.card(height="280px"), width="100%"),
        spacing="4", width="100%", id="page-loading",
    )


FILTER_HINT = "Calls show up here once your app sends them. Change the filter above, or set up the SDK:"


def empty_state(message: str, hint: str = FILTER_HINT) -> rx.Component:
    """A heading, a hint and the SDK set-up guide."""
    return rx.card(
        rx.vstack(
            rx.heading(message, size="5"),
            rx.text(hint, color_scheme="gray"),
            setup_guide(),
            spacing="3",
        ),
        width="100%", id="empty-state",
    )


def page_body(loading: rx.Var, error: rx.Var, has_rows: rx.Var, content: rx.Component,
              empty_message: str = "No calls in this range") -> rx.Component:
    """Skeleton while loading, the error if any, the empty state when there is nothing, else the content."""
    return rx.vstack(
        rx.cond(error != "", rx.callout(error, icon="triangle-alert", color_scheme="red", role="alert")),
        rx.cond(loading, page_skeleton(), rx.cond(has_rows, content, empty_state(empty_message))),
        spacing="4", width="100%",
    )


def pager(label: rx.Var, has_previous: rx.Var, has_next: rx.Var, turn: rx.EventHandler) -> rx.Component:
    return rx.hstack(
        rx.text(label, size="2", color_scheme="gray", id="pager-label"),
        rx.spacer(),
        rx.button("Previous", size="1", variant="soft", disabled=~has_previous, on_click=turn(-1), id="previous-page"),
        rx.button("Next", size="1", variant="soft", disabled=~has_next, on_click=turn(1), id="next-page"),
        width="100%", align="center",
    )
