"""Delivery of the outbox: Slack and webhook bodies, retry until 24 h, permanent failures, timeouts, and
deliverers racing over the same rows (threads sharing one engine, and two engines)."""

from __future__ import annotations

import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa

from llmobserve_app.db import get_engine, session_scope
from llmobserve_app.models import Notification, utcnow
from llmobserve_app.services.notifications import DeliveryConfig, deliver_due
from llmobserve_app.services.notifications.delivery import MAX_AGE, NO_SIGNING_SECRET, retry_delay
from llmobserve_app.services.notifications.signing_secrets import rotate_signing_secret
from llmobserve_app.services.notifications.webhook import verify_signature
from tests.services.notifications.fakes import FakeReceiver
from tests.services.notifications.helpers import add, row


def test_slack_gets_a_text_message_with_slack_escaping(engine, config, receiver: FakeReceiver, tenant: int) -> None:
    now = utcnow()
    source = add(engine, tenant, "slack", f"{receiver.url}/services/T0/B0/x", now=now,
                 payload={"text": "Cap <!channel> & co exceeded: $0.11 of $0.10"})
    assert deliver_due(engine, config, now).sent == 1
    [request] = receiver.requests
    assert request.path == "/services/T0/B0/x"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {"text": "Cap &lt;!channel&gt; &amp; co exceeded: $0.11 of $0.10"}
    assert row(engine, source, "slack").status == "sent"


def test_a_payload_without_text_is_written_out_under_the_subject(engine, config, receiver: FakeReceiver,
                                                                 tenant: int) -> None:
    now = utcnow()
    add(engine, tenant, "slack", receiver.url, now=now, subject="Cap reached",
        payload={"spend_usd": "0.11", "limit_usd": "0.10", "scope": {"customer": "acme"}})
    deliver_due(engine, config, now)
    assert receiver.requests[0].json()["text"] == \
        'Cap reached\nspend_usd: 0.11\nlimit_usd: 0.10\nscope: {"customer": "acme"}'


def test_retryable_failures_stop_24_hours_after_enqueueing(engine, config, receiver: FakeReceiver,
                                                           tenant: int) -> None:
    receiver.default_status = 503
    start = utcnow()
    source = add(engine, tenant, "webhook", receiver.url, now=start)
    moment, attempts = start, 0
    while True:
        report = deliver_due(engine, config, moment)
        attempts += 1
        current = row(engine, source, "webhook")
        if current.status != "pending":
            break
        assert report.retrying == 1 and current.next_attempt_at <= start + MAX_AGE
        moment = current.next_attempt_at
        assert attempts < 80, "backoff does not grow"
    assert current.status == "failed" and current.last_status_code == 503
    assert current.last_error.startswith("gave up after 24 h of retries: HTTP 503")
    assert moment >= start + MAX_AGE  # the last attempt was the one at the 24 h mark
    assert current.attempts == attempts == len(receiver.requests)
    assert 25 <= attempts <= 55  # 30 s doubling to 1 h, jittered to 50-100 %: 30 to 55 attempts a day, not thousands
    assert deliver_due(engine, config, moment + timedelta(days=1)).handled == 0


def test_a_row_first_attempted_after_24_hours_gets_one_try(engine, config, receiver: FakeReceiver,
                                                          tenant: int) -> None:
    start = utcnow()
    receiver.answer(500)
    source = add(engine, tenant, "slack", receiver.url, now=start)
    assert deliver_due(engine, config, start + MAX_AGE + timedelta(hours=1)).failed == 1
    assert row(engine, source, "slack").status == "failed"
    assert len(receiver.requests) == 1


@pytest.mark.parametrize(("status", "retried"), [(429, True), (500, True), (502, True), (503, True), (504, True),
                                                 (400, False), (401, False), (403, False), (404, False),
                                                 (410, False), (301, False)])
def test_429_and_5xx_are_retried_other_answers_fail_at_once(engine, config, receiver: FakeReceiver, tenant: int,
                                                            status: int, retried: bool) -> None:
    now = utcnow()
    receiver.answer(status)
    source = add(engine, tenant, "webhook", receiver.url, now=now)
    report = deliver_due(engine, config, now)
    assert (report.retrying, report.failed) == ((1, 0) if retried else (0, 1))
    after = row(engine, source, "webhook")
    assert (after.status, after.last_status_code, after.attempts) == ("pending" if retried else "failed", status, 1)
    later = deliver_due(engine, config, after.next_attempt_at + timedelta(hours=1))
    assert later.sent == (1 if retried else 0)
    assert len(receiver.requests) == (2 if retried else 1)


def test_a_refused_connection_is_retried(engine, config, tenant: int) -> None:
    with FakeReceiver() as gone:
        closed_url = gone.url
    now = utcnow()
    source = add(engine, tenant, "slack", closed_url, now=now)
    assert deliver_due(engine, config, now).retrying == 1
    pending = row(engine, source, "slack")
    assert pending.status == "pending" and pending.last_error.startswith("ConnectError")


def test_a_receiver_slower_than_the_timeout_is_retried(engine, tenant: int) -> None:
    now = utcnow()
    with FakeReceiver(delay_seconds=1.0) as slow:
        source = add(engine, tenant, "slack", slow.url, now=now)
        report = deliver_due(engine, DeliveryConfig(timeout_seconds=0.2), now)
    assert report.retrying == 1
    pending = row(engine, source, "slack")
    assert pending.status == "pending" and "Timeout" in pending.last_error


def test_webhook_signature_verifies_with_the_accounts_secret_only(engine, config, receiver: FakeReceiver,
                                                                  tenant: int) -> None:
    with session_scope(engine) as session:
        secret = rotate_signing_secret(session, tenant)
    now = utcnow()
    source = add(engine, tenant, "webhook", f"{receiver.url}/hooks/llmo", now=now, subject="Cap exceeded",
                 payload={"cap_id": 7, "level": "exceeded", "spend_usd": "0.11"})
    assert deliver_due(engine, config, now).sent == 1

    [request] = receiver.requests
    header = request.headers["x-llmobserve-signature"]
    timestamp = int(header.split(",")[0].removeprefix("t="))
    assert abs(timestamp - now.timestamp()) < 5
    assert verify_signature(secret, header, request.body, now=timestamp)
    assert not verify_signature("whsec_another", header, request.body, now=timestamp)
    assert not verify_signature(secret, header, request.body + b" ", now=timestamp)  # body altered
    assert not verify_signature(secret, header, request.body, now=timestamp + 3600)  # an old delivery replayed
    document = json.loads(request.body)
    assert document["data"] == {"cap_id": 7, "level": "exceeded", "spend_usd": "0.11"}
    assert (document["type"], document["source_id"], document["subject"]) == ("cap_alert", source, "Cap exceeded")
    assert request.headers["x-llmobserve-delivery"] == document["id"]


def test_the_signature_follows_a_rotation(engine, config, receiver: FakeReceiver, tenant: int) -> None:
    with session_scope(engine) as session:
        old = rotate_signing_secret(session, tenant)
    with session_scope(engine) as session:
        new = rotate_signing_secret(session, tenant)
    assert old != new and new.startswith("whsec_")
    now = utcnow()
    add(engine, tenant, "webhook", receiver.url, now=now)
    deliver_due(engine, config, now)
    [request] = receiver.requests
    stamp = int(now.timestamp())
    assert verify_signature(new, request.headers["x-llmobserve-signature"], request.body, now=stamp)
    assert not verify_signature(old, request.headers["x-llmobserve-signature"], request.body, now=stamp)


def _stored_secrets(engine, tenants: list[int]) -> dict[int, str]:
    table = sa.table("webhook_signing_secrets", sa.column("tenant_id"), sa.column("secret"))
    with engine.connect() as connection:
        return dict(connection.execute(sa.select(table.c.tenant_id, table.c.secret)
                                       .where(table.c.tenant_id.in_(tenants))).all())


def test_enqueueing_a_webhook_before_any_secret_exists_creates_one(engine, config, receiver: FakeReceiver,
                                                                  make_tenant) -> None:
    tenant, other = make_tenant(), make_tenant()
    now = utcnow()
    owners = {}
    for account in (tenant, other, tenant, other):  # an account's second webhook keeps its secret
        source = add(engine, account, "webhook", receiver.url, now=now)
        owners[f"ntf_{row(engine, source, 'webhook').id}"] = account
    stored = _stored_secrets(engine, [tenant, other])
    assert len(set(stored.values())) == 2  # one secret per account, made with the outbox row, not by sending
    assert deliver_due(engine, config, now).sent == 4
    assert _stored_secrets(engine, [tenant, other]) == stored
    for request in receiver.requests:
        owner = owners[request.headers["x-llmobserve-delivery"]]
        header = request.headers["x-llmobserve-signature"]
        assert verify_signature(stored[owner], header, request.body, now=int(now.timestamp()))
        assert not verify_signature(stored[other if owner == tenant else tenant], header, request.body,
                                    now=int(now.timestamp()))


def test_sending_never_creates_a_secret(engine, config, receiver: FakeReceiver, tenant: int) -> None:
    now = utcnow()
    source = add(engine, tenant, "webhook", receiver.url, now=now)
    with engine.begin() as connection:  # deleted by hand after the webhook was enqueued
        connection.execute(sa.text("DELETE FROM webhook_signing_secrets WHERE tenant_id = :t"), {"t": tenant})
    assert deliver_due(engine, config, now).failed == 1
    assert receiver.requests == [] and _stored_secrets(engine, [tenant]) == {}
    assert row(engine, source, "webhook").last_error == NO_SIGNING_SECRET


def test_retry_delay_grows_with_jitter_and_respects_retry_after() -> None:
    rng = random.Random(7)
    ceilings = [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    for attempt, ceiling in enumerate(ceilings, start=1):
        delays = {retry_delay(attempt, None, rng).total_seconds() for _ in range(50)}
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(delays) > 1  # jittered
    assert retry_delay(1, 900, rng) == timedelta(seconds=900)
    assert retry_delay(1, 10 ** 9, rng) == timedelta(hours=1)


def _deliver_concurrently(engines: list[sa.Engine], config: DeliveryConfig, now, workers: int) -> int:
    barrier = threading.Barrier(workers)

    def work(index: int) -> int:
        barrier.wait(timeout=10)
        return deliver_due(engines[index % len(engines)], config, now, max_rows=1000, budget_seconds=60).sent

    with ThreadPoolExecutor(workers) as pool:
        per_worker = list(pool.map(work, range(workers)))
    assert sum(1 for sent in per_worker if sent) >= 2, f"no race happened: {per_worker}"
    return sum(per_worker)


def _assert_each_sent_once(engine: sa.Engine, receiver: FakeReceiver, sources: list[int], sent: int) -> None:
    table = Notification.__table__
    with engine.connect() as connection:
        rows = connection.execute(sa.select(table.c.status, table.c.attempts, table.c.last_error)
                                  .where(table.c.source_id.in_(sources))).all()
    assert sorted(rows) == [("sent", 1, None)] * len(sources), [r for r in rows if r.status != "sent"]
    ids = [request.headers["x-llmobserve-delivery"] for request in receiver.requests]
    assert len(ids) == len(set(ids)) == len(sources) == sent


def _fill(engine: sa.Engine, tenant: int, receiver: FakeReceiver, now, count: int) -> list[int]:
    return [add(engine, tenant, "webhook", f"{receiver.url}/{n}", now=now) for n in range(count)]


def test_concurrent_deliverers_send_each_row_exactly_once(engine, config, tenant: int) -> None:
    now = utcnow()
    with FakeReceiver(delay_seconds=0.005) as receiver:
        sources = _fill(engine, tenant, receiver, now, 60)
        sent = _deliver_concurrently([engine], config, now, workers=4)
        _assert_each_sent_once(engine, receiver, sources, sent)


def test_two_engines_send_each_row_exactly_once(engine, database_url: str, config, tenant: int) -> None:
    """Two engines: two connection pools, as two server processes have."""
    second = get_engine.__wrapped__(database_url)  # a new engine with the app's settings (SQLite pragmas)
    try:
        now = utcnow()
        with FakeReceiver(delay_seconds=0.005) as receiver:
            sources = _fill(engine, tenant, receiver, now, 60)
            sent = _deliver_concurrently([engine, second], config, now, workers=4)
            _assert_each_sent_once(engine, receiver, sources, sent)
    finally:
        second.dispose()
