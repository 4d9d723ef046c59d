"""Stripe webhooks: verify the signature, then store Stripe's current state of the customer's subscription.

- The signature is checked on the raw body with stripe's own ``Webhook.construct_event``.
- The event id is stored in the same transaction as its effect: a replay (or a concurrent duplicate) does nothing.
- Handled events carry no state we trust: the subscription is re-fetched from Stripe, so arrival order never
  matters and a late "active" event cannot resurrect a canceled subscription.
- An event for a customer that is not one of our accounts is logged and acknowledged (Stripe stops retrying).
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
import stripe

from llmobserve_app.db import session_scope
from llmobserve_app.models import StripeWebhookEvent
from llmobserve_app.services.billing.stripe_subscriptions import current_subscription
from llmobserve_app.services.billing.subscriptions import account_for_customer, store_snapshot

logger = logging.getLogger(__name__)

HANDLED_TYPES = frozenset({
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
})


class InvalidWebhook(Exception):
    """The body is not a Stripe event signed with our webhook secret."""


class Outcome(StrEnum):
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"  # a type we do not handle
    UNKNOWN_ACCOUNT = "unknown_account"


def verified_event(payload: bytes, signature_header: str | None, webhook_secret: str) -> dict[str, Any]:
    """The event of a signed body (as a plain dict), or InvalidWebhook (missing or bad signature, too old,
    not JSON)."""
    if not signature_header:
        raise InvalidWebhook("missing Stripe-Signature header")
    try:
        return stripe.Webhook.construct_event(payload, signature_header, webhook_secret).to_dict()
    except stripe.SignatureVerificationError as error:
        raise InvalidWebhook(f"bad signature: {error.user_message or error}") from None
    except ValueError:
        raise InvalidWebhook("the body is not a JSON Stripe event") from None


def _customer_of(event: dict[str, Any]) -> str | None:
    customer = event["data"]["object"].get("customer")
    if isinstance(customer, dict):  # expanded
        customer = customer.get("id")
    return customer if isinstance(customer, str) and customer else None


def _already_handled(engine: sa.Engine, event_id: str) -> bool:
    with session_scope(engine) as session:
        return session.get(StripeWebhookEvent, event_id) is not None


def handle_event(engine: sa.Engine, client: stripe.StripeClient, event: dict[str, Any]) -> Outcome:
    """Apply a verified event. Raises on a Stripe or database failure: the caller answers 500 and Stripe retries."""
    event_id, event_type = str(event["id"]), str(event["type"])
    if _already_handled(engine, event_id):
        return Outcome.DUPLICATE
    if event_type not in HANDLED_TYPES:
        return _record(engine, event_id, event_type, None, Outcome.IGNORED)
    customer_id = _customer_of(event)
    with session_scope(engine) as session:
        row = account_for_customer(session, customer_id) if customer_id else None
        user_id = row.user_id if row else None
    if user_id is None:
        logger.warning("Stripe event %s (%s) for customer %r, which is no account of ours: ignored", event_id,
                       event_type, customer_id)
        return Outcome.UNKNOWN_ACCOUNT
    snapshot = current_subscription(client, customer_id)  # network: outside any transaction
    return _record(engine, event_id, event_type, lambda session: store_snapshot(
        session, account_for_customer(session, customer_id), snapshot), Outcome.UPDATED)


def _record(engine: sa.Engine, event_id: str, event_type: str, effect: Any, outcome: Outcome) -> Outcome:
    """Store the event id and apply ``effect`` in one transaction; a concurrent twin's commit wins."""
    try:
        with session_scope(engine) as session:
            session.add(StripeWebhookEvent(id=event_id, type=event_type[:100]))
            session.flush()
            if effect is not None and not effect(session):
                outcome = Outcome.UNCHANGED
    except sa.exc.IntegrityError:
        return Outcome.DUPLICATE
    return outcome
