"""Read a customer's subscription from Stripe itself: the only source of truth for access.

Webhooks and the hourly sync both call ``current_subscription`` rather than trusting an event's payload, so the
order in which events arrive never matters: whatever arrives, we store what Stripe says now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe

# Stripe statuses that give Pro. past_due too: Stripe is retrying the payment (Smart Retries), and the
# subscription moves on to canceled or unpaid, which do not, if the retries fail.
PRO_STATUSES = frozenset({"active", "trialing", "past_due"})
_LIST_LIMIT = 100


@dataclass(frozen=True)
class SubscriptionSnapshot:
    subscription_id: str
    status: str
    current_period_end: datetime | None
    cancel_at_period_end: bool
    created: int = 0


def _period_end(subscription: dict[str, Any]) -> datetime | None:
    """The end of the current period: on the subscription's items since Stripe API 2025-03-31, on the
    subscription itself before."""
    ends = [item.get("current_period_end") for item in (subscription.get("items") or {}).get("data", [])]
    ends = [end for end in ends if end] or [subscription.get("current_period_end")]
    end = ends[0] if ends[0] is not None else None
    return datetime.fromtimestamp(int(end), UTC) if end is not None else None


def snapshot_of(subscription: dict[str, Any]) -> SubscriptionSnapshot:
    """Our snapshot of a Stripe Subscription object in its dict form (``to_dict()``)."""
    return SubscriptionSnapshot(
        subscription_id=str(subscription["id"]),
        status=str(subscription["status"]),
        current_period_end=_period_end(subscription),
        cancel_at_period_end=bool(subscription.get("cancel_at_period_end")),
        created=int(subscription.get("created") or 0),
    )


def pick_current(snapshots: list[SubscriptionSnapshot]) -> SubscriptionSnapshot | None:
    """The subscription that decides access: the newest one giving Pro, else the newest one of any status."""
    if not snapshots:
        return None
    giving_pro = [snapshot for snapshot in snapshots if snapshot.status in PRO_STATUSES]
    return max(giving_pro or snapshots, key=lambda snapshot: (snapshot.created, snapshot.subscription_id))


def current_subscription(client: stripe.StripeClient, customer_id: str) -> SubscriptionSnapshot | None:
    """The customer's deciding subscription as Stripe has it now (None: the customer has none)."""
    found = client.v1.subscriptions.list({"customer": customer_id, "status": "all", "limit": _LIST_LIMIT})
    return pick_current([snapshot_of(subscription.to_dict()) for subscription in found.auto_paging_iter()])
