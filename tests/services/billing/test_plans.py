"""What each plan allows, and which of a customer's subscriptions decides access."""

from __future__ import annotations

from datetime import UTC, datetime

from llmobserve_app.db import session_scope
from llmobserve_app.services import time_range
from llmobserve_app.services.billing import plans, subscriptions
from llmobserve_app.services.billing.stripe_subscriptions import SubscriptionSnapshot, pick_current, snapshot_of


def test_plans() -> None:
    assert (plans.FREE.max_range_days, plans.FREE.history_days) == (7, 30)
    assert (plans.PRO.max_range_days, plans.PRO.history_days, plans.PRO.monthly_price_usd) == (None, 400, 8)
    now = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)
    seven_days = time_range.parse_range("7d", now=now)
    thirty_days = time_range.parse_range("30d", now=now)
    assert plans.range_allowed(plans.FREE, seven_days.start, now)
    assert plans.range_allowed(plans.FREE, time_range.parse_range("24h", now=now).start, now)
    assert not plans.range_allowed(plans.FREE, thirty_days.start, now)
    old_week = time_range.parse_range("custom", "2026-11-01", "2026-11-03", now=now)  # short, but too old
    assert not plans.range_allowed(plans.FREE, old_week.start, now)
    assert plans.range_allowed(plans.PRO, old_week.start, now) and plans.range_allowed(plans.SELF_HOSTED,
                                                                                       old_week.start, now)
    assert plans.self_hosted_plan(None).history_days is None and plans.self_hosted_plan(90).history_days == 90
    assert plans.self_hosted_plan(90).max_range_days is None


def _snapshot(subscription_id: str, status: str, created: int) -> SubscriptionSnapshot:
    return SubscriptionSnapshot(subscription_id, status, None, False, created)


def test_the_newest_live_subscription_decides() -> None:
    old_live, new_canceled = _snapshot("sub_a", "active", 1), _snapshot("sub_b", "canceled", 2)
    assert pick_current([old_live, new_canceled]) == old_live
    assert pick_current([new_canceled, _snapshot("sub_c", "incomplete_expired", 3)]).subscription_id == "sub_c"
    assert pick_current([_snapshot("sub_d", "past_due", 1), _snapshot("sub_e", "trialing", 5)]).subscription_id \
        == "sub_e"
    assert pick_current([]) is None


def test_snapshot_reads_the_period_end_from_items_or_the_subscription() -> None:
    new_api = {"id": "sub_1", "status": "active", "cancel_at_period_end": True, "created": 5,
               "items": {"data": [{"current_period_end": 1_800_000_000}]}}
    assert snapshot_of(new_api).current_period_end == datetime.fromtimestamp(1_800_000_000, UTC)
    assert snapshot_of(new_api).cancel_at_period_end is True
    old_api = {"id": "sub_1", "status": "active", "current_period_end": 1_700_000_000}
    assert snapshot_of(old_api).current_period_end == datetime.fromtimestamp(1_700_000_000, UTC)


def test_self_hosted_accounts_have_everything(engine, make_account) -> None:
    user_id, _, _ = make_account()
    with session_scope(engine) as session:
        view = subscriptions.view(session, user_id, hosted=False)
        assert view.plan == plans.SELF_HOSTED and view.status is None
        assert subscriptions.plan_for(session, user_id, hosted=True) == plans.FREE
