"""Status, alerts fired at most once per cap and period (threads and separate engines racing), blocks that
lift by themselves, and tenants that never see each other's caps. ``now`` is passed in: no clock patched."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from llmobserve_app.db import session_scope
from llmobserve_app.models import CapAlert
from llmobserve_app.services.caps import checks, crud
from llmobserve_app.services.caps.evaluation import evaluate, projected_at
from llmobserve_app.services.caps.registry import enabled_caps
from tests.services.caps.helpers import make_cap, spend_event, store

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday noon
TOMORROW = NOW + timedelta(days=1)


def _alerts(engine, tenant) -> list[tuple]:
    with session_scope(engine) as session:
        return sorted((a.cap_id, a.level, a.scope_value, a.period_start) for a in crud.alert_history(session, tenant))


def test_threshold_then_exceeded_each_fire_once_per_period(engine, make_account) -> None:
    tenant, _, _ = make_account()
    cap = make_cap(engine, tenant, scope="global", period="day", limit_usd="1.00", threshold_pct=50)
    store(engine, tenant, [spend_event(NOW - timedelta(hours=1)) for _ in range(3)])  # $0.45
    assert [s.status for s in checks.check(engine, [cap], NOW, memo=None).statuses] == ["ok"]
    store(engine, tenant, [spend_event(NOW - timedelta(hours=1))])  # $0.60
    first = checks.check(engine, [cap], NOW, memo=None)
    assert [s.status for s in first.statuses] == ["warning"]
    assert [(a.level, a.spend_nanos, a.limit_nanos) for a in first.fired] == [("threshold", 600_000_000,
                                                                              1_000_000_000)]
    assert checks.check(engine, [cap], NOW, memo=None).fired == []  # the next batch: nothing again
    store(engine, tenant, [spend_event(NOW - timedelta(minutes=5)) for _ in range(3)])  # $1.05
    over = checks.check(engine, [cap], NOW, memo=None)
    assert [s.status for s in over.statuses] == ["exceeded"]
    assert [a.level for a in over.fired] == ["exceeded"]
    assert checks.check(engine, [cap], NOW + timedelta(hours=5), memo=None).fired == []
    # A new day starts from zero by itself: no reset, no alert until it is spent again.
    tomorrow = checks.check(engine, [cap], TOMORROW, memo=None)
    assert ([s.status for s in tomorrow.statuses], tomorrow.fired) == (["ok"], [])
    store(engine, tenant, [spend_event(TOMORROW) for _ in range(8)])
    assert [a.level for a in checks.check(engine, [cap], TOMORROW, memo=None).fired] == ["threshold", "exceeded"]
    assert len(_alerts(engine, tenant)) == 4


@pytest.mark.parametrize("separate_engines", [False, True])
def test_racing_evaluators_fire_each_alert_once(engine, database_url, make_account, separate_engines) -> None:
    """Eight evaluators at the same crossing, as threads on one engine or spread over separate engines
    (separate connection pools, as separate processes would have): each level is inserted and returned once."""
    tenant, _, _ = make_account()
    caps = [make_cap(engine, tenant, scope="customer", value="*", period="day", limit_usd="0.20"),
            make_cap(engine, tenant, scope="provider", value="openai", period="month", limit_usd="0.20")]
    store(engine, tenant, [spend_event(NOW, customer_id=c) for c in ("a", "a", "b", "b")])
    engines = [sa.create_engine(database_url) if separate_engines else engine for _ in range(8)]
    barrier = threading.Barrier(8)
    results: list[list[CapAlert]] = []
    errors: list[BaseException] = []

    def evaluate_once(engine_: sa.Engine) -> None:
        try:
            barrier.wait()
            results.append(checks.check(engine_, caps, NOW, memo=None).fired)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=evaluate_once, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for other in engines:
        if other is not engine:
            other.dispose()
    assert errors == []
    fired = sorted((a.cap_id, a.level, a.scope_value) for batch in results for a in batch)
    expected = sorted([(caps[0].id, level, c) for c in ("a", "b") for level in ("threshold", "exceeded")]
                      + [(caps[1].id, level, "") for level in ("threshold", "exceeded")])
    assert fired == expected
    assert [key[:3] for key in _alerts(engine, tenant)] == expected


def test_customer_block_lifts_next_day_when_raised_disabled_or_deleted(engine, make_account) -> None:
    tenant, _, _ = make_account()
    cap = make_cap(engine, tenant, scope="customer", value="acme", period="day", limit_usd="0.10", action="block")
    rows = store(engine, tenant, [spend_event(NOW, customer_id="acme")])  # $0.15
    reply = checks.after_batch(engine, tenant, rows, NOW)
    assert reply.blocked == [{"scope": "customer", "value": "acme", "until": "2026-11-26T00:00:00Z"}]
    assert checks.current_blocks(engine, tenant, NOW) == reply.blocked
    assert checks.current_blocks(engine, tenant, TOMORROW) == []
    with session_scope(engine) as session:
        crud.update_cap(session, tenant, cap.id, limit_usd="1")
    assert checks.current_blocks(engine, tenant, NOW) == []
    with session_scope(engine) as session:
        crud.update_cap(session, tenant, cap.id, limit_usd="0.10", enabled=False)
    assert checks.current_blocks(engine, tenant, NOW) == []
    with session_scope(engine) as session:
        crud.update_cap(session, tenant, cap.id, enabled=True)
    assert checks.current_blocks(engine, tenant, NOW) == reply.blocked
    with session_scope(engine) as session:
        crud.delete_cap(session, tenant, cap.id)
    assert checks.current_blocks(engine, tenant, NOW) == []
    assert _alerts(engine, tenant) == []


def test_every_customer_block_stays_in_replies_for_batches_of_other_customers(engine, make_account) -> None:
    tenant, _, _ = make_account()
    make_cap(engine, tenant, scope="customer", value="*", period="week", limit_usd="0.20", action="block")
    acme = store(engine, tenant, [spend_event(NOW, customer_id="acme") for _ in range(2)])
    assert checks.after_batch(engine, tenant, acme, NOW).blocked == [
        {"scope": "customer", "value": "acme", "until": "2026-11-30T00:00:00Z"}]
    beta = store(engine, tenant, [spend_event(NOW, customer_id="beta")])  # $0.15: beta under its own limit
    assert [b["value"] for b in checks.after_batch(engine, tenant, beta, NOW).blocked] == ["acme"]
    assert [b["value"] for b in checks.current_blocks(engine, tenant, NOW)] == ["acme"]
    more = store(engine, tenant, [spend_event(NOW, customer_id="beta")])
    assert [b["value"] for b in checks.after_batch(engine, tenant, more, NOW).blocked] == ["acme", "beta"]
    assert [b["value"] for b in checks.current_blocks(engine, tenant, NOW + timedelta(days=5))] == []


def test_tenants_are_isolated(engine, make_account) -> None:
    tenant, _, _ = make_account()
    other, _, _ = make_account()
    make_cap(engine, tenant, scope="global", period="month", limit_usd="0.01", action="block")
    mine = make_cap(engine, other, scope="global", period="month", limit_usd="5", action="block")
    rows = store(engine, tenant, [spend_event(NOW)])
    assert checks.after_batch(engine, tenant, rows, NOW).blocked[0]["scope"] == "global"
    assert checks.after_batch(engine, other, [], NOW).blocked == []
    assert checks.current_blocks(engine, other, NOW) == []
    with session_scope(engine) as session:
        assert [s.spend_nanos for s in evaluate(session, [mine], NOW)] == [0]
        assert crud.alert_history(session, other) == []
    assert len(_alerts(engine, tenant)) == 2


def test_catch_up_fires_what_a_lowered_limit_crossed(engine, make_account) -> None:
    tenant, _, _ = make_account()
    cap = make_cap(engine, tenant, scope="model", value="gpt-4o-mini", period="week", limit_usd="10")
    store(engine, tenant, [spend_event(NOW)])
    assert [a for a in checks.catch_up(engine, NOW) if a.tenant_id == tenant] == []
    with session_scope(engine) as session:
        crud.update_cap(session, tenant, cap.id, limit_usd="0.10")
    fired = [a for a in checks.catch_up(engine, NOW) if a.tenant_id == tenant]
    assert sorted(a.level for a in fired) == ["exceeded", "threshold"]
    assert [a for a in checks.catch_up(engine, NOW) if a.tenant_id == tenant] == []


def test_disabled_caps_are_not_cached_as_enabled(engine, make_account) -> None:
    tenant, _, _ = make_account()
    cap = make_cap(engine, tenant, scope="global", period="day", limit_usd="1")
    assert [r.id for r in enabled_caps.rules(engine, tenant)] == [cap.id]
    with session_scope(engine) as session:
        crud.update_cap(session, tenant, cap.id, enabled=False)
    assert enabled_caps.rules(engine, tenant) == ()


def test_projected_date_from_the_run_rate() -> None:
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    ten_days = start + timedelta(days=10)
    assert projected_at(500, 1000, start, end, ten_days) == start + timedelta(days=20)  # half in 10 days
    assert projected_at(250, 1000, start, end, ten_days) is None  # day 40: after the month ends
    assert projected_at(0, 1000, start, end, ten_days) is None
    assert projected_at(1000, 1000, start, end, ten_days) is None  # already reached
    assert projected_at(1, 10**18, start, end, ten_days) is None  # no overflow on huge ratios


def test_a_late_event_in_a_closed_hour_counts_despite_the_cache(engine, make_account) -> None:
    """Closed hours are cached per tenant and late version: an event for a closed hour bumps the version."""
    tenant, _, _ = make_account()
    now = datetime.now(UTC)
    cap = make_cap(engine, tenant, scope="provider", value="openai", period="month", limit_usd="100")
    started = max(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0), now - timedelta(hours=3))
    store(engine, tenant, [spend_event(started)])
    with session_scope(engine) as session:
        assert [s.spend_nanos for s in evaluate(session, [cap], now)] == [150_000_000]
    store(engine, tenant, [spend_event(started)])  # late: its hour is closed (and cached)
    with session_scope(engine) as session:
        assert [s.spend_nanos for s in evaluate(session, [cap], now)] == [300_000_000]


def test_each_new_alert_has_one_outbox_message_per_channel(engine, make_account) -> None:
    tenant, email, _ = make_account()
    cap = make_cap(engine, tenant, name="acme daily", scope="customer", value="*", period="day", limit_usd="0.20",
               action="block", slack_webhook_url="https://hooks.slack.com/services/T/B/x",
               webhook_url="http://127.0.0.1:9/hook")
    store(engine, tenant, [spend_event(NOW, customer_id="acme") for _ in range(2)])  # $0.30
    result = checks.check(engine, [cap], NOW, memo=None)
    assert sorted((m["channel"], m["target"], m["payload"]["level"]) for m in result.messages) == sorted(
        (channel, target, level) for level in ("threshold", "exceeded") for channel, target in (
            ("email", email), ("slack", cap.slack_webhook_url), ("webhook", cap.webhook_url)))
    exceeded = next(m for m in result.messages if m["payload"]["level"] == "exceeded")
    assert exceeded["source_kind"] == "cap_alert" and exceeded["tenant_id"] == tenant
    assert exceeded["source_id"] in {alert.id for alert in result.fired}
    assert exceeded["subject"] == ("Cap 'acme daily' (customer acme) exceeded its limit: $0.30 of $0.20 this day: "
                                   "calls are blocked until the period ends")
    assert {key: exceeded["payload"][key] for key in ("scope", "value", "spend_usd", "limit_usd", "period_end",
                                                       "blocked", "percent")} == {
        "scope": "customer", "value": "acme", "spend_usd": "0.3", "limit_usd": "0.2",
        "period_end": "2026-11-26T00:00:00Z", "blocked": True, "percent": 150.0}
    assert checks.check(engine, [cap], NOW, memo=None).messages == []  # fired once: said once


def test_late_events_in_closed_days_and_in_todays_closed_hours_are_counted(engine, make_account) -> None:
    """The closed part of a period is cached in two segments (earlier days; today's closed hours): a late
    event in either is summed at the next evaluation."""
    tenant, _, _ = make_account()
    cap = make_cap(engine, tenant, scope="global", period="month", limit_usd="100")

    def spend() -> int:
        with session_scope(engine) as session:
            return evaluate(session, [cap], NOW)[0].spend_nanos

    store(engine, tenant, [spend_event(NOW - timedelta(days=5)), spend_event(NOW - timedelta(hours=3)),
                           spend_event(NOW - timedelta(minutes=10))])
    assert spend() == 450_000_000
    store(engine, tenant, [spend_event(NOW - timedelta(days=5, hours=2))])  # an earlier day, cached
    assert spend() == 600_000_000
    store(engine, tenant, [spend_event(NOW - timedelta(hours=4))])  # today, an hour already closed
    assert spend() == 750_000_000
    store(engine, tenant, [spend_event(NOW - timedelta(minutes=1))])
    assert spend() == 900_000_000
