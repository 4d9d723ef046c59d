"""/settings/subscription (plan, status, renewal, Upgrade, Manage billing, promo code) and the subscribe prompt
after onboarding. Upgrade, Manage billing and promo codes are plain form posts (``ingest_api/billing_forms.py``):
the server resolves the account from the session cookie and answers with a redirect to Stripe or back here."""

from __future__ import annotations

import reflex as rx

from llmobserve_app import routes
from llmobserve_app.components.html_form import post_form
from llmobserve_app.components.layout import app_frame, error_callout
from llmobserve_app.components.plan_cards import plan_comparison, upgrade_button
from llmobserve_app.state.subscription import SubscriptionState


def _manage_button() -> rx.Component:
    return post_form(routes.BILLING_PORTAL, rx.button("Manage billing", type="submit", variant="soft",
                                                      id="manage-billing"))


def _promo_form() -> rx.Component:
    return post_form(
        routes.BILLING_PROMO,
        rx.hstack(
            rx.input(name="code", id="promo-code", placeholder="Promo code", max_length=100, required=True),
            rx.button("Apply", type="submit", variant="soft", id="apply-promo"),
            spacing="2",
        ),
    )


def _row(label: str, value: rx.Var, test_id: str) -> rx.Component:
    return rx.data_list.item(rx.data_list.label(label), rx.data_list.value(rx.text(value, id=test_id)))


def _hosted() -> rx.Component:
    state = SubscriptionState
    return rx.vstack(
        rx.card(
            rx.data_list.root(
                _row("Plan", state.plan_label, "subscription-plan"),
                rx.cond(state.status != "", _row("Status", state.status, "subscription-status")),
                rx.cond(state.period_label != "", _row("Period", state.period_label, "subscription-period")),
                rx.cond(state.promo_code != "", _row("Promo code", state.promo_code, "subscription-promo")),
            ),
            rx.cond(state.waiting_for_stripe,
                    rx.hstack(rx.spinner(size="1"), rx.text("Waiting for Stripe to confirm…", size="2"),
                              id="waiting-for-stripe", margin_top="0.75em")),
            rx.hstack(
                rx.cond(state.plan_key != "pro", upgrade_button()),
                rx.cond(state.has_customer, _manage_button()),
                spacing="3", margin_top="1em",
            ),
            width="100%",
        ),
        rx.cond(state.plan_key != "pro", plan_comparison()),
        rx.card(
            rx.heading("Promo code", size="3", margin_bottom="0.5em"),
            rx.text("Have a code from us? It gives your account Pro without payment. Stripe promotion codes are "
                    "entered on the Checkout page instead.", size="2", color_scheme="gray", margin_bottom="0.5em"),
            _promo_form(),
            width="100%",
        ),
        spacing="4", width="100%",
    )


def _self_hosted() -> rx.Component:
    return rx.callout(
        "This installation is self-hosted: every account has every feature, and there is no billing.",
        icon="server", id="self-hosted-notice", width="100%",
    )


def subscription_page() -> rx.Component:
    state = SubscriptionState
    return app_frame(
        rx.vstack(
            rx.heading("Subscription", size="7"),
            rx.cond(state.notice != "", rx.callout(state.notice, icon="info", id="subscription-notice")),
            error_callout(state.error),
            rx.cond(state.loading, rx.skeleton(rx.card(height="160px"), width="100%"),
                    rx.cond(state.hosted, _hosted(), _self_hosted())),
            spacing="4", width="100%", max_width="800px",
        )
    )


def subscribe_prompt_page() -> rx.Component:
    return app_frame(
        rx.vstack(
            rx.heading("Choose your plan", size="7"),
            rx.text("Free has every feature, for the last 7 days. Pro keeps 400 days of history and shows any range."),
            plan_comparison(
                pro_action=upgrade_button("Subscribe to Pro", "subscribe-pro"),
                free_action=rx.link(rx.button("Skip for now", variant="soft", id="skip-subscribe"),
                                    href=routes.DASHBOARD),
            ),
            rx.link("Compare plans and read the FAQ", href=routes.PRICING, size="2"),
            spacing="5", width="100%", max_width="800px",
        )
    )
