"""Upgrade: a Stripe Checkout session (subscription mode) for the signed-in account.

Coming back to ``success_url`` grants nothing: access follows Stripe's state only (webhooks, sync).
"""

from __future__ import annotations

import sqlalchemy as sa
import stripe

from llmobserve_app.db import session_scope
from llmobserve_app.services.billing.customers import ensure_customer
from llmobserve_app.services.billing.messages import billing_error
from llmobserve_app.services.billing.stripe_client import StripeConfig
from llmobserve_app.services.billing.subscriptions import billing_row, gives_pro

SUBSCRIPTION_PAGE = "/settings/subscription"


def checkout_url(engine: sa.Engine, client: stripe.StripeClient, config: StripeConfig, user_id: int) -> str:
    """Where to send the browser to subscribe; UserFacingError when the account already has Pro."""
    with session_scope(engine) as session:
        if gives_pro(billing_row(session, user_id)):
            raise billing_error("already_pro")
    customer_id = ensure_customer(engine, client, user_id)
    back = config.public_url.rstrip("/") + SUBSCRIPTION_PAGE
    session = client.v1.checkout.sessions.create({
        "mode": "subscription",
        "customer": customer_id,
        "client_reference_id": str(user_id),
        "line_items": [{"price": config.price_id, "quantity": 1}],
        "allow_promotion_codes": True,
        "success_url": back + "?checkout=success",
        "cancel_url": back + "?checkout=canceled",
    })
    return str(session.url)
