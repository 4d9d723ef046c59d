"""The frame of the public pages (landing, docs, pricing): a header with Docs, Log in and Sign up, and a footer."""

from __future__ import annotations

import reflex as rx

from llmobserve_app import routes
from llmobserve_app.components.layout import logo


def public_header() -> rx.Component:
    return rx.hstack(
        rx.link(logo(), href=routes.DASHBOARD, underline="none", color="inherit"),
        rx.link("Docs", href=routes.DOCS, size="2", weight="medium"),
        rx.link("API", href=routes.API_DOCS, size="2", weight="medium"),
        rx.link("Pricing", href=routes.PRICING, size="2", weight="medium", id="nav-pricing"),
        rx.spacer(),
        rx.link(rx.button("Log in", variant="ghost", size="2"), href=routes.LOGIN, id="nav-login"),
        rx.link(rx.button("Sign up", size="2"), href=routes.SIGNUP, id="nav-signup"),
        align="center", spacing="5", width="100%", padding_x="1.5em", padding_y="0.75em",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
    )


def public_footer() -> rx.Component:
    return rx.hstack(
        rx.text("LLM Observe — open-source LLM cost observability.", size="1", color_scheme="gray"),
        rx.spacer(),
        rx.link("Docs", href=routes.DOCS, size="1"),
        rx.link("API reference", href=routes.API_DOCS, size="1"),
        rx.link("Log in", href=routes.LOGIN, size="1"),
        width="100%", padding="1.5em", border_top=f"1px solid {rx.color('gray', 4)}", spacing="4",
    )


def public_frame(*children: rx.Component, max_width: str = "1100px") -> rx.Component:
    return rx.box(
        public_header(),
        rx.box(*children, padding="1.5em", max_width=max_width, margin_x="auto", width="100%"),
        public_footer(),
        width="100%",
    )
