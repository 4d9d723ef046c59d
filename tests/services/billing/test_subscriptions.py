"""``users.subscription_tier``, the stored copy of the plan, follows every change of ``billing_accounts``
(Stripe's state, promo codes), and nothing but ``subscriptions.save_plan_state`` writes it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from llmobserve_app.db import session_scope
from llmobserve_app.models import User
from llmobserve_app.services.billing import subscriptions
from llmobserve_app.services.billing.promo_code_list import PromoCode
from llmobserve_app.services.billing.promo_codes import redeem
from llmobserve_app.services.billing.stripe_subscriptions import SubscriptionSnapshot

ROOT = Path(__file__).resolve().parents[3]
END = datetime(2027, 1, 1, tzinfo=UTC)


def _snapshot(status: str) -> SubscriptionSnapshot:
    return SubscriptionSnapshot("sub_tier", status, END, cancel_at_period_end=False)


def test_the_stored_tier_is_the_plan_after_every_change(engine, make_account) -> None:
    user_id, _, _ = make_account("tier")
    steps = [
        ("active", lambda session, row: subscriptions.store_snapshot(session, row, _snapshot("active")), "pro"),
        ("canceled", lambda session, row: subscriptions.store_snapshot(session, row, _snapshot("canceled")),
         "free"),
        ("promo", lambda session, row: redeem(session, {"TIER": PromoCode("TIER")}, user_id, "tier"), "pro"),
        ("no subscription", lambda session, row: subscriptions.store_snapshot(session, row, None), "pro"),
    ]
    for label, change, expected in steps:
        with session_scope(engine) as session:
            change(session, subscriptions.ensure_row(session, user_id))
        with session_scope(engine) as session:
            stored = session.get(User, user_id).subscription_tier
            assert stored == subscriptions.plan_for(session, user_id, hosted=True).key == expected, label


def test_nothing_else_writes_the_tier() -> None:
    writes = re.compile(r"subscription_tier\s*=[^=]")
    writers = {path.relative_to(ROOT).as_posix()
               for folder in ("llmobserve_app", "ingest_api")
               for path in (ROOT / folder).rglob("*.py")
               if "migrations" not in path.parts and writes.search(path.read_text())}
    assert writers == {"llmobserve_app/services/billing/subscriptions.py"}
