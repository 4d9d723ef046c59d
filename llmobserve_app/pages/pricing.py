"""/pricing (public): Free vs Pro, self-hosting is free, a short FAQ. Static: it holds no State."""

from __future__ import annotations

import reflex as rx

from llmobserve_app import routes
from llmobserve_app.components.plan_cards import plan_comparison
from llmobserve_app.components.public_frame import public_frame
from llmobserve_app.services.billing.plans import FREE, PRO

FAQ = [
    ("Is self-hosting really free?",
     "Yes. LLM Observe is open source: run it on your own server and every account has every feature, with no "
     "limits and no billing. Set RETENTION_DAYS if you want old data deleted."),
    ("Is any of my data dropped because of my plan?",
     "Never at ingest: every event your SDK sends is stored whatever your plan. A plan only decides how far back "
     f"the pages show ({FREE.max_range_days} days on Free) and how long history is kept ({FREE.history_days} days "
     f"on Free, {PRO.history_days} on Pro)."),
    ("How do I pay and cancel?",
     f"Pro is ${PRO.monthly_price_usd} a month through Stripe. Manage billing opens Stripe's customer portal, "
     "where you can change your card, see invoices or cancel: Pro stays until the end of the period you paid for."),
    ("Do you take promo codes?",
     "Yes: Stripe promotion codes on the Checkout page, and our own codes on the Subscription page."),
]


def _faq() -> rx.Component:
    return rx.vstack(
        rx.heading("FAQ", size="5"),
        *[rx.vstack(rx.text(question, weight="bold"), rx.text(answer, size="2", color_scheme="gray"), spacing="1")
          for question, answer in FAQ],
        spacing="3", width="100%", id="pricing-faq",
    )


def pricing_page() -> rx.Component:
    return public_frame(
        rx.vstack(
            rx.heading("Pricing", size="8"),
            rx.text("Every feature on every plan. Pay only for a longer view of your history.", size="4"),
            plan_comparison(free_action=rx.link(rx.button("Sign up free", variant="soft"), href=routes.SIGNUP)),
            rx.callout(rx.text("Self-hosting is free: run LLM Observe on your own server with every feature and no "
                               "billing (", rx.link("self-hosting guide", href=routes.DOCS + "#self-hosting"), ")."),
                       icon="server", id="self-hosting-free"),
            _faq(),
            spacing="5", width="100%",
        ),
        max_width="900px",
    )
