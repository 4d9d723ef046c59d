"""The hourly billing sync: every account with a Stripe customer gets Stripe's current subscription state, so a
missed webhook is healed within the hour. One customer failing (Stripe error) is logged and the rest go on."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
import stripe
from sqlmodel import select

from llmobserve_app.db import session_scope
from llmobserve_app.models import BillingAccount
from llmobserve_app.services.billing.stripe_subscriptions import current_subscription
from llmobserve_app.services.billing.subscriptions import account_for_customer, store_snapshot

logger = logging.getLogger(__name__)


@dataclass
class SyncResult:
    checked: int = 0
    changed: int = 0
    failed: int = 0


def sync_customer(engine: sa.Engine, client: stripe.StripeClient, customer_id: str) -> bool:
    """Store Stripe's current state for one customer; True when it changed."""
    snapshot = current_subscription(client, customer_id)
    with session_scope(engine) as session:
        row = account_for_customer(session, customer_id)
        return row is not None and store_snapshot(session, row, snapshot)


def sync_all(engine: sa.Engine, client: stripe.StripeClient) -> SyncResult:
    with session_scope(engine) as session:
        customers = list(session.exec(select(BillingAccount.stripe_customer_id)
                                      .where(BillingAccount.stripe_customer_id.is_not(None))
                                      .order_by(BillingAccount.user_id)))
    result = SyncResult()
    for customer_id in customers:
        result.checked += 1
        try:
            result.changed += sync_customer(engine, client, customer_id)
        except (stripe.StripeError, sa.exc.SQLAlchemyError):
            result.failed += 1
            logger.exception("billing sync failed for customer %s", customer_id)
    return result
