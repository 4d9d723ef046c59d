"""The global nav (logo, page links, user menu) and the frame every signed-in page sits in."""

from __future__ import annotations

import reflex as rx

from llmobserve_app import routes
from llmobserve_app.state.session import SessionState

NAV_LINKS = [("Dashboard", routes.DASHBOARD), ("Settings", routes.SETTINGS)]


def logo() -> rx.Component:
    return rx.hstack(
        rx.icon("activity", size=22, color=rx.color("accent", 9)),
        rx.heading("LLM Observe", size="5", weight="bold"),
        align="center", spacing="2",
    )


def user_menu() -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.button(rx.icon("circle-user", size=16), rx.text(SessionState.user_email, id="nav-user-email"),
                      variant="ghost", id="user-menu"),
        ),
        rx.menu.content(
            rx.menu.item("Settings", on_click=rx.redirect(routes.SETTINGS)),
            rx.menu.separator(),
            rx.menu.item("Log out", on_click=SessionState.logout, id="logout", color="red"),
        ),
    )


def navbar() -> rx.Component:
    return rx.hstack(
        rx.link(logo(), href=routes.DASHBOARD, underline="none", color="inherit"),
        rx.hstack(*[rx.link(label, href=href, weight="medium") for label, href in NAV_LINKS], spacing="5"),
        rx.spacer(),
        user_menu(),
        align="center", spacing="6", width="100%", padding_x="1.5em", padding_y="0.75em",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
    )


def app_frame(*children: rx.Component) -> rx.Component:
    return rx.box(
        navbar(),
        rx.box(*children, padding="1.5em", max_width="1200px", margin_x="auto", width="100%"),
        width="100%",
    )


def error_callout(message: rx.Var) -> rx.Component:
    return rx.cond(message != "", rx.callout(message, icon="triangle-alert", color_scheme="red", role="alert"))
