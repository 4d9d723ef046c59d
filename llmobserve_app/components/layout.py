"""The global nav (logo, page links, filter, user menu) and the frame every signed-in page sits in."""

from __future__ import annotations

import reflex as rx

from llmobserve_app import routes
from llmobserve_app.components.html_form import post_form
from llmobserve_app.components.plan_cards import upgrade_button
from llmobserve_app.state.filters import RANGE_OPTIONS, FilterState
from llmobserve_app.state.session import SessionState
from llmobserve_app.state.subscription import BillingModeState

NAV_LINKS = [
    ("Dashboard", routes.DASHBOARD), ("Customers", routes.CUSTOMERS), ("Agents", routes.AGENTS),
    ("Runs", routes.RUNS), ("LLMs", routes.LLMS), ("Infrastructure", routes.INFRASTRUCTURE),
    ("Costs", routes.COSTS), ("Insights", routes.INSIGHTS),
]


def logo() -> rx.Component:
    return rx.hstack(
        rx.image(src="/logo.svg", width="22px", height="22px", alt=""),  # assets/logo.svg
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
            rx.menu.item("Spending caps", on_click=rx.redirect(routes.CAPS)),
            rx.cond(BillingModeState.billing_enabled,
                    rx.menu.item("Subscription", on_click=rx.redirect(routes.SUBSCRIPTION), id="menu-subscription")),
            rx.menu.separator(),
            # A real form post: only the server can clear the HttpOnly session cookie.
            rx.menu.item(rx.el.button("Log out", type="submit", form=LOGOUT_FORM_ID, id="logout"),
                         as_child=True, color="red"),
        ),
    )


LOGOUT_FORM_ID = "logout-form"


def logout_form() -> rx.Component:
    return post_form(routes.AUTH_LOGOUT, id=LOGOUT_FORM_ID, display="none")


def navbar() -> rx.Component:
    return rx.hstack(
        rx.link(logo(), href=routes.DASHBOARD, underline="none", color="inherit"),
        rx.hstack(*[rx.link(label, href=href + FilterState.query_string, weight="medium", size="2")
                    for label, href in NAV_LINKS], spacing="4", wrap="wrap"),
        rx.spacer(),
        rx.link("Caps", href=routes.CAPS, size="2", weight="medium", id="nav-caps"),
        rx.link("Settings", href=routes.SETTINGS, size="2", weight="medium"),
        user_menu(),
        align="center", spacing="5", width="100%", padding_x="1.5em", padding_y="0.75em",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
    )


def filter_bar() -> rx.Component:
    """Customer (All, or one, searchable) and date range; both live in the URL."""
    customer_picker = rx.form(
        rx.hstack(
            rx.el.input(
                name="customer", id="customer-filter", list="customer-options", placeholder="All customers",
                default_value=FilterState.customer, key=FilterState.customer,
                on_change=FilterState.search_customers.debounce(250), auto_complete="off",
                style={"padding": "4px 8px", "border": f"1px solid {rx.color('gray', 7)}", "border_radius": "6px",
                       "min_width": "200px", "font_size": "14px", "background": "transparent"},
            ),
            rx.el.datalist(rx.foreach(FilterState.customer_options, lambda option: rx.el.option(value=option)),
                           id="customer-options"),
            rx.button("Apply", type="submit", size="1", variant="soft"),
            rx.cond(FilterState.customer != "",
                    rx.button(rx.icon("x", size=12), "All customers", size="1", variant="ghost",
                              on_click=FilterState.clear_customer, type="button", id="clear-customer")),
            align="center", spacing="2",
        ),
        on_submit=FilterState.submit_customer_search, reset_on_submit=False, width="auto",
    )
    custom_dates = rx.cond(
        FilterState.range_key == "custom",
        rx.form(
            rx.hstack(
                rx.input(type="date", name="from", default_value=FilterState.date_from, size="1", id="date-from"),
                rx.text("to", size="1"),
                rx.input(type="date", name="to", default_value=FilterState.date_to, size="1", id="date-to"),
                rx.button("Apply", type="submit", size="1", variant="soft"),
                align="center", spacing="2",
            ),
            on_submit=FilterState.apply_custom_range, reset_on_submit=False, width="auto",
        ),
    )
    return rx.vstack(
        rx.hstack(
            rx.icon("filter", size=14, color=rx.color("gray", 10)),
            customer_picker,
            rx.select.root(
                rx.select.trigger(id="range-filter"),
                rx.select.content(*[rx.select.item(label, value=key) for key, label in RANGE_OPTIONS]),
                value=FilterState.range_key, on_change=FilterState.set_range, size="1",
            ),
            custom_dates,
            align="center", spacing="3", wrap="wrap",
        ),
        rx.cond(FilterState.filter_error != "",
                rx.text(FilterState.filter_error, id="filter-error", color_scheme="amber", size="1")),
        rx.cond(FilterState.upgrade_reason != "",
                rx.callout(rx.hstack(rx.text(FilterState.upgrade_reason, size="2"),
                                     upgrade_button("Upgrade to Pro", "range-upgrade"), align="center", spacing="3",
                                     wrap="wrap"),
                           icon="lock", color_scheme="amber", id="range-upgrade-notice", size="1")),
        padding_x="1.5em", padding_y="0.5em", width="100%", background=rx.color("gray", 2),
        border_bottom=f"1px solid {rx.color('gray', 4)}", spacing="1",
    )


def app_frame(*children: rx.Component, with_filter: bool = False) -> rx.Component:
    return rx.box(
        navbar(),
        logout_form(),
        filter_bar() if with_filter else rx.fragment(),
        rx.box(*children, padding="1.5em", max_width="1280px", margin_x="auto", width="100%"),
        width="100%",
    )


def error_callout(message: rx.Var) -> rx.Component:
    return rx.cond(message != "", rx.callout(message, icon="triangle-alert", color_scheme="red", role="alert"))
