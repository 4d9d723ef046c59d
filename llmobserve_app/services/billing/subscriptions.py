"""Each account's stored subscription state, and the plan it gives.

The stored state is only ever written from Stripe's own state (``store_snapshot``) or a redeemed promo code,
both through ``save_plan_state``: the one writer of ``users.subscription_tier`` as well, the copy of the plan
kept for reports and support (the app itself never reads it: ``plan_for`` reads ``billing_accounts``).
Every function takes the account id the caller resolved from the session itself: no account reads or changes
another's row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from llmobserve_app.db import insert_for
from llmobserve_app.models import BillingAccount, User, utcnow
from llmobserve_app.services.billing.plans import FREE, PRO, Plan, self_hosted_plan
from llmobserve_app.services.billing.stripe_subscriptions import PRO_STATUSES, SubscriptionSnapshot

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubscriptionView:
    """What the subscription page shows."""

    plan: Plan
    status: str | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    promo_code: str | None
    has_stripe_customer: bool


def billing_row(session: Session, user_id: int) -> BillingAccount | None:
    return session.get(BillingAccount, user_id)


def account_for_customer(session: Session, customer_id: str) -> BillingAccount | None:
    return session.exec(select(BillingAccount).where(BillingAccount.stripe_customer_id == customer_id)).first()


def gives_pro(row: BillingAccount | None) -> bool:
    return row is not None and (row.promo_code is not None or (row.status or "") in PRO_STATUSES)


def plan_for(session: Session, user_id: int, hosted: bool, retention_days: int | None = None) -> Plan:
    """The plan of an account: self-hosted installations have no plans (everything, ``RETENTION_DAYS``)."""
    if not hosted:
        return self_hosted_plan(retention_days)
    return PRO if gives_pro(billing_row(session, user_id)) else FREE


def view(session: Session, user_id: int, hosted: bool, retention_days: int | None = None) -> SubscriptionView:
    row = billing_row(session, user_id) if hosted else None
    return SubscriptionView(
        plan=plan_for(session, user_id, hosted, retention_days),
        status=row.status if row else None,
        current_period_end=row.current_period_end if row else None,
        cancel_at_period_end=bool(row and row.cancel_at_period_end),
        promo_code=row.promo_code if row else None,
        has_stripe_customer=bool(row and row.stripe_customer_id),
    )


def ensure_row(session: Session, user_id: int) -> BillingAccount:
    """The account's row, created (Free, no customer) if missing; a concurrent creator's row is kept."""
    row = billing_row(session, user_id)
    if row is not None:
        return row
    insert = insert_for(session.get_bind().dialect.name)
    session.execute(insert(BillingAccount.__table__).values(
        user_id=user_id, cancel_at_period_end=False, updated_at=utcnow()).on_conflict_do_nothing())
    row = session.get(BillingAccount, user_id, populate_existing=True)
    assert row is not None
    return row


def store_snapshot(session: Session, row: BillingAccount, snapshot: SubscriptionSnapshot | None) -> bool:
    """Store Stripe's current state of the account's subscription; True when something changed.

    A canceled subscription is final in Stripe, so a snapshot claiming it is live again can only be a stale read
    that lost a race with a newer one: it is ignored (the hourly sync would correct any other staleness).
    """
    if (snapshot is not None and row.status == "canceled" and row.stripe_subscription_id == snapshot.subscription_id
            and snapshot.status != "canceled"):
        logger.warning("ignored a stale state %r of canceled subscription %s", snapshot.status,
                       snapshot.subscription_id)
        return False
    new = (snapshot.subscription_id, snapshot.status, snapshot.current_period_end, snapshot.cancel_at_period_end) \
        if snapshot else (None, None, None, False)
    old = (row.stripe_subscription_id, row.status, row.current_period_end, row.cancel_at_period_end)
    if new == old:
        return False
    row.stripe_subscription_id, row.status, row.current_period_end, row.cancel_at_period_end = new
    save_plan_state(session, row)
    return True


def save_plan_state(session: Session, row: BillingAccount) -> None:
    """Save a change to what decides the account's plan (status, promo code), with ``users.subscription_tier``
    naming the hosted plan it now gives, in the caller's transaction: the tier has no other writer."""
    row.updated_at = utcnow()
    session.add(row)
    tier = PRO.key if gives_pro(row) else FREE.key
    session.execute(sa.update(User).where(User.id == row.user_id).values(subscription_tier=tier))
