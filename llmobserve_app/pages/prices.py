"""/settings/prices — custom prices: the account's list, and a form to add one."""

from __future__ import annotations

import reflex as rx

from llmobserve_app.components.layout import app_frame, error_callout
from llmobserve_app.state.prices_page import PricesState

_COLUMNS = [("Provider", "provider"), ("Model", "model"), ("Input / 1M", "input"), ("Output / 1M", "output"),
            ("Cached / 1M", "cached"), ("Reasoning / 1M", "reasoning"), ("Per call", "per_request"),
            ("From", "from"), ("Price id", "price_id")]


def _price_row(price: rx.Var) -> rx.Component:
    return rx.table.row(
        *[rx.table.cell(price[key]) for _, key in _COLUMNS],
        rx.table.cell(rx.button("Delete", color_scheme="red", variant="soft", size="1",
                                on_click=PricesState.delete(price["id"]), class_name="delete-price")),
        class_name="custom-price-row",
    )


def prices_card() -> rx.Component:
    return rx.card(
        rx.heading("Your prices", size="4", margin_bottom="0.5em"),
        rx.cond(
            PricesState.prices.length() > 0,
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(t) for t, _ in _COLUMNS],
                                             rx.table.column_header_cell(""))),
                rx.table.body(rx.foreach(PricesState.prices, _price_row)),
                width="100%", id="custom-prices", variant="surface", size="1",
            ),
            rx.text("No custom prices: every call is priced with the bundled prices.", color_scheme="gray",
                    size="2", id="no-custom-prices"),
        ),
        width="100%", overflow_x="auto",
    )


def _field(name: str, label: str, placeholder: str, hint: str = "") -> rx.Component:
    error = PricesState.field_errors.get(name, "")
    return rx.vstack(
        rx.text(label, size="2", weight="medium", as_="label", html_for=f"price-{name}"),
        rx.input(value=PricesState.form[name], on_change=lambda value: PricesState.set_field(name, value),
                 placeholder=placeholder, id=f"price-{name}", max_length=200, width="100%"),
        rx.cond(error != "", rx.text(error, color_scheme="red", size="1", id=f"price-{name}-error"),
                rx.text(hint, color_scheme="gray", size="1")),
        spacing="1", width="100%",
    )


def add_price_card() -> rx.Component:
    return rx.card(
        rx.heading("Add a price", size="4"),
        rx.text("USD per million tokens (per call for the last one), as decimal strings; 0 is a price (a "
                "self-hosted model). A price replaces the one with the same provider, model and start.",
                size="2", color_scheme="gray", margin_bottom="0.5em"),
        rx.grid(
            _field("provider", "Provider", "any provider", "as the SDK reports it: openai, ollama, "
                   "openai-compatible…"),
            _field("model", "Model", "gpt-4o", "as your calls name it"),
            _field("input_per_mtok", "Input / 1M tokens", "2.5"),
            _field("output_per_mtok", "Output / 1M tokens", "10"),
            _field("cached_input_per_mtok", "Cached input / 1M", "the input price"),
            _field("reasoning_per_mtok", "Reasoning / 1M", "the output price"),
            _field("per_request", "Per call", "none"),
            _field("effective_from", "From (UTC)", "always", "a date (2026-12-01) or date and time"),
            columns=rx.breakpoints(initial="1", sm="2", lg="4"), spacing="3", width="100%",
        ),
        rx.hstack(
            rx.button(rx.icon("plus", size=14), "Save price", on_click=PricesState.save, id="save-price"),
            rx.button("Clear", variant="soft", color_scheme="gray", on_click=PricesState.clear_form,
                      id="clear-price-form"),
            margin_top="1em",
        ),
        width="100%", id="add-price",
    )


def recalculate_card() -> rx.Component:
    """Offered once a price is saved: re-price the calls already recorded since then."""
    return rx.cond(
        PricesState.recalc_since != "",
        rx.card(
            rx.heading("Re-price past calls", size="4"),
            rx.text("Calls already recorded keep their price until re-priced. Rollups and per-customer totals are "
                    "kept exact; running it twice changes nothing.", size="2", color_scheme="gray"),
            rx.hstack(
                rx.text("Since (UTC)", size="2"),
                rx.input(value=PricesState.recalc_since, on_change=PricesState.set_recalc_since,
                         id="recalc-since", max_length=40),
                rx.button(rx.icon("refresh-cw", size=14), "Re-price calls", on_click=PricesState.recalculate,
                          id="recalculate"),
                rx.cond(PricesState.recalc_job > 0,
                        rx.button("Refresh", variant="soft", on_click=PricesState.refresh_recalculation,
                                  id="refresh-recalculation")),
                align="center", margin_top="0.5em", wrap="wrap",
            ),
            rx.text(PricesState.recalc_status, size="2", id="recalc-status", margin_top="0.5em"),
            width="100%", id="recalculate-card",
        ),
    )


def prices_page() -> rx.Component:
    return app_frame(
        rx.vstack(
            rx.heading("Custom prices", size="7"),
            rx.text("Your own prices win over the bundled ones for your account only, for calls that start on or "
                    "after their date. Calls already recorded keep the price they were stored with until you "
                    "re-price them.",
                    color_scheme="gray"),
            error_callout(PricesState.error),
            rx.cond(PricesState.loading, rx.skeleton(rx.card(height="200px"), width="100%"),
                    rx.vstack(add_price_card(), recalculate_card(), prices_card(), spacing="4", width="100%")),
            spacing="4", width="100%",
        )
    )
