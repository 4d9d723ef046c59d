"""The Stripe customer of an account, created on its first Upgrade and remembered in ``billing_accounts``."""

from __future__ import annotations

import sqlalchemy as sa
import stripe

from llmobserve_app.db import session_scope
from llmobserve_app.models import User
from llmobserve_app.services.billing.subscriptions import billing_row, ensure_row


def stored_customer(engine: sa.Engine, user_id: int) -> str | None:
    with session_scope(engine) as session:
        row = billing_row(session, user_id)
        return row.stripe_customer_id if row else None


def ensure_customer(engine: sa.Engine, client: stripe.StripeClient, user_id: int) -> str:
    """The account's Stripe customer id, creating the customer on first use.

    The idempotency key makes two simultaneous first Upgrades create one customer (Stripe answers the second
    request with the first one's result); the row keeps whichever id was stored first.
    """
    existing = stored_customer(engine, user_id)
    if existing:
        return existing
    with session_scope(engine) as session:
        email = session.get(User, user_id).email
    customer = client.v1.customers.create(
        {"email": email, "metadata": {"llmobserve_account_id": str(user_id)}},
        {"idempotency_key": f"llmobserve-customer-{user_id}"},
    )
    with session_scope(engine) as session:
        row = ensure_row(session, user_id)
        if not row.stripe_customer_id:
            row.stripe_customer_id = customer.id
            session.add(row)
        return row.stripe_customer_id
