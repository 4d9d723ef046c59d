"""Manage billing: a Stripe customer portal session for the signed-in account's own customer."""

from __future__ import annotations

import sqlalchemy as sa
import stripe

from llmobserve_app.services.billing.checkout import SUBSCRIPTION_PAGE
from llmobserve_app.services.billing.customers import stored_customer
from llmobserve_app.services.billing.messages import billing_error
from llmobserve_app.services.billing.stripe_client import StripeConfig


def portal_url(engine: sa.Engine, client: stripe.StripeClient, config: StripeConfig, user_id: int) -> str:
    customer_id = stored_customer(engine, user_id)
    if not customer_id:
        raise billing_error("no_customer")
    session = client.v1.billing_portal.sessions.create(
        {"customer": customer_id, "return_url": config.public_url.rstrip("/") + SUBSCRIPTION_PAGE})
    return str(session.url)
