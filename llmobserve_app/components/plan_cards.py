"""Free and Pro side by side (the pricing page and the subscribe prompt), from what ``plans.py`` says."""

from __future__ import annotations

import reflex as rx

from llmobserve_app import routes
from llmobserve_app.components.html_form import post_form
from llmobserve_app.services.billing.plans import FREE, PRO, Plan


def upgrade_button(label: str = "Upgrade to Pro", button_id: str = "upgrade") -> rx.Component:
    """A form post to Stripe Checkout for the signed-in account (``ingest_api/billing_forms.py``)."""
    return post_form(routes.BILLING_CHECKOUT,
                     rx.button(rx.icon("sparkles", size=14), label, type="submit", id=button_id))


def _range(plan: Plan) -> str:
    return f"Date range: the last {plan.max_range_days} days" if plan.max_range_days else "Date range: unlimited"


def _features(plan: Plan) -> list[str]:
    return ["Every feature: costs per customer, agent, run, model", "Unlimited events: nothing is ever dropped",
            _range(plan), f"History kept {plan.history_days} days"]


def plan_card(plan: Plan, price: str, action: rx.Component | None = None, highlight: bool = False) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(plan.label, size="5"),
            rx.hstack(rx.text(price, size="7", weight="bold"), rx.text("/ month", color_scheme="gray"),
                      align="baseline", spacing="1"),
            rx.vstack(*[rx.hstack(rx.icon("check", size=14, color=rx.color("grass", 9)), rx.text(item, size="2"),
                                  align="center") for item in _features(plan)], spacing="2"),
            action or rx.fragment(),
            spacing="3", align="start",
        ),
        id=f"plan-{plan.key}", width="100%", max_width="340px",
        border=f"2px solid {rx.color('accent', 8)}" if highlight else None,
    )


def plan_comparison(pro_action: rx.Component | None = None, free_action: rx.Component | None = None
                    ) -> rx.Component:
    return rx.flex(
        plan_card(FREE, "$0", free_action),
        plan_card(PRO, f"${PRO.monthly_price_usd}", pro_action, highlight=True),
        spacing="4", wrap="wrap", width="100%",
    )
