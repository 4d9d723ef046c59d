"""The outbox: one row per source and channel whoever enqueues, written in the caller's transaction, and the
alert history's per-channel view of it (one tenant never sees another's)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa

from llmobserve_app.db import session_scope
from llmobserve_app.models import Notification, utcnow
from llmobserve_app.services.notifications import deliver_due, deliveries_for, enqueue
from tests.services.notifications.fakes import FakeReceiver, FakeSendGrid
from tests.services.notifications.helpers import add, next_source_id


def _count(engine: sa.Engine, source_id: int) -> int:
    table = Notification.__table__
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(table)
                                  .where(table.c.source_id == source_id)).scalar_one()


def test_enqueueing_the_same_source_and_channel_again_adds_nothing(engine, tenant: int) -> None:
    now = utcnow()
    source = add(engine, tenant, "email", "a@example.com", now=now)
    add(engine, tenant, "email", "someone-else@example.com", now=now, source_id=source)  # ignored, no error
    with session_scope(engine) as session:  # twice in one transaction as well
        for _ in range(2):
            enqueue(session, tenant_id=tenant, source_kind="cap_alert", source_id=source, channel="slack",
                    target="https://hooks.slack.com/services/x", subject="s", payload={})
    assert _count(engine, source) == 2  # one email, one slack
    add(engine, tenant, "email", "a@example.com", now=now, source_id=source, source_kind="other_kind")
    assert _count(engine, source) == 3


def test_concurrent_enqueues_of_one_source_add_one_row(engine, tenant: int) -> None:
    source, workers = next_source_id(), 6
    barrier = threading.Barrier(workers)

    def attempt(_: int) -> None:
        barrier.wait(timeout=10)
        add(engine, tenant, "webhook", "https://example.com/hook", now=utcnow(), source_id=source)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(attempt, range(workers)))
    assert _count(engine, source) == 1


def test_enqueue_is_part_of_the_callers_transaction(engine, tenant: int) -> None:
    source = next_source_id()
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        enqueue(session, tenant_id=tenant, source_kind="cap_alert", source_id=source, channel="email",
                target="a@example.com", subject="s", payload={})
        raise RuntimeError("the alert's transaction fails")
    assert _count(engine, source) == 0


@pytest.mark.parametrize(("channel", "target", "message"), [
    ("sms", "+15550100", "channel must be one of email, slack, webhook"),
    ("email", "not an address", "is not an e-mail address"),
    ("slack", "ftp://example.com/x", r"must be an http\(s\) URL"),
    ("webhook", "https://example.com/" + "x" * 3000, "too long"),
])
def test_bad_channels_and_targets_are_refused(engine, tenant: int, channel: str, target: str, message: str) -> None:
    with pytest.raises(ValueError, match=message), session_scope(engine) as session:
        enqueue(session, tenant_id=tenant, source_kind="cap_alert", source_id=next_source_id(), channel=channel,
                target=target, subject="s", payload={})


def test_deliveries_for_shows_each_channel_and_only_the_tenants_own(engine, config, make_tenant,
                                                                    sendgrid_fake: FakeSendGrid) -> None:
    tenant, other = make_tenant(), make_tenant()
    now = utcnow()
    with FakeReceiver() as slack:
        slack.answer(500)
        first = add(engine, tenant, "email", "a@example.com", now=now)
        add(engine, tenant, "slack", slack.url, now=now, source_id=first)
        second = add(engine, tenant, "email", "a@example.com", now=now)
        foreign = add(engine, other, "email", "b@example.com", now=now)
        deliver_due(engine, config, now)

    with session_scope(engine) as session:
        mine = deliveries_for(session, tenant, "cap_alert", [first, second, foreign, 999_999_999])
        theirs = deliveries_for(session, other, "cap_alert", [first, second, foreign])
        assert deliveries_for(session, tenant, "other_kind", [first]) == {}
        assert deliveries_for(session, tenant, "cap_alert", []) == {}

    assert set(mine) == {first, second}  # the other tenant's alert is not reported, even asked for by id
    email, slack_delivery = mine[first]
    assert (email.channel, email.status, email.attempts, email.last_error) == ("email", "sent", 1, None)
    assert now <= email.sent_at < now + timedelta(seconds=30)
    assert (slack_delivery.channel, slack_delivery.status, slack_delivery.attempts) == ("slack", "pending", 1)
    assert slack_delivery.last_error.startswith("HTTP 500") and slack_delivery.sent_at is None
    assert [d.channel for d in mine[second]] == ["email"]
    assert set(theirs) == {foreign} and theirs[foreign][0].status == "sent"
    channel, status, attempts, last_error, sent_at = theirs[foreign][0]  # the contract's tuple shape
    assert (channel, status, attempts, last_error) == ("email", "sent", 1, None)
