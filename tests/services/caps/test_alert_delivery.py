"""The wiring from a crossing to the receivers: the alerts ``check`` fires enqueue exactly the messages of the
cap's channels, and ``deliver_due`` sends them through the real ``sendgrid`` client and httpx to local fakes;
SendGrid failing twice still ends in one e-mail. ``now`` is passed in and moved on: nothing sleeps."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from llmobserve_app.db import session_scope
from llmobserve_app.models import Notification, utcnow
from llmobserve_app.services.caps import checks
from llmobserve_app.services.notifications import deliver_due
from llmobserve_app.services.notifications.signing_secrets import rotate_signing_secret
from llmobserve_app.services.notifications.webhook import verify_signature
from tests.services.caps.helpers import make_cap, spend_event, store
from tests.services.notifications.fakes import FakeReceiver, FakeSendGrid

NOTIFICATIONS = Notification.__table__


@pytest.fixture
def slack() -> Iterator[FakeReceiver]:
    """A second receiver beside the shared ``receiver`` (the generic webhook's)."""
    with FakeReceiver() as fake:
        yield fake


@pytest.fixture
def account(make_account, empty_outbox: None) -> tuple[int, str]:
    """A new account, in an empty outbox (``deliver_due`` sends every due row of the database)."""
    tenant, email, _ = make_account("capdelivery")
    return tenant, email


def _outbox(engine: sa.Engine, tenant: int) -> list[tuple[str, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(NOTIFICATIONS.c.channel, NOTIFICATIONS.c.target,
                                            NOTIFICATIONS.c.status, NOTIFICATIONS.c.payload)
                                  .where(NOTIFICATIONS.c.tenant_id == tenant))
        return sorted((channel, target, f"{payload['level']}:{status}") for channel, target, status, payload in rows)


@pytest.mark.parametrize("channels", ["email+slack+webhook", "slack only", "email only"])
def test_a_crossing_enqueues_one_message_per_channel_and_each_is_delivered(
        engine, account, config, sendgrid_fake: FakeSendGrid, slack: FakeReceiver, receiver: FakeReceiver,
        channels: str) -> None:
    tenant, email = account
    notify = {"email+slack+webhook": {"slack_webhook_url": f"{slack.url}/services/T/B/x",
                                      "webhook_url": f"{receiver.url}/caps"},
              "slack only": {"notify_email": False, "slack_webhook_url": f"{slack.url}/services/T/B/x"},
              "email only": {}}[channels]
    cap = make_cap(engine, tenant, name="acme daily", scope="customer", value="acme", period="day", limit_usd="0.40",
               threshold_pct=50, action="block", **notify)
    now = utcnow()
    store(engine, tenant, [spend_event(now - timedelta(minutes=2), customer_id="acme") for _ in range(2)])  # $0.30
    first = checks.check(engine, [cap], now, memo=None)
    assert [alert.level for alert in first.fired] == ["threshold"]
    store(engine, tenant, [spend_event(now - timedelta(minutes=1), customer_id="acme") for _ in range(2)])  # $0.60
    second = checks.check(engine, [cap], now, memo=None)
    assert [alert.level for alert in second.fired] == ["exceeded"]
    assert checks.check(engine, [cap], now, memo=None).fired == []  # evaluated again: nothing more enqueued

    targets = {"email": email if cap.notify_email else None, "slack": cap.slack_webhook_url,
               "webhook": cap.webhook_url}
    expected = sorted((channel, target, f"{level}:pending") for level in ("threshold", "exceeded")
                      for channel, target in targets.items() if target)
    assert _outbox(engine, tenant) == expected

    with session_scope(engine) as session:
        secret = rotate_signing_secret(session, tenant)
    now = utcnow()  # the outbox rows were enqueued at the real time of the checks
    report = deliver_due(engine, config, now)
    assert (report.sent, report.handled) == (len(expected), len(expected))
    assert _outbox(engine, tenant) == [(c, t, state.replace("pending", "sent")) for c, t, state in expected]
    assert deliver_due(engine, config, now + timedelta(hours=1)).handled == 0  # sent once, never again

    mails = sendgrid_fake.mails
    if cap.notify_email:
        assert sorted(mail["subject"] for mail in mails) == sorted([
            "Cap 'acme daily' (customer acme) reached 50% of its limit: $0.30 of $0.40 this day",
            "Cap 'acme daily' (customer acme) exceeded its limit: $0.60 of $0.40 this day: "
            "calls are blocked until the period ends"])
        assert {mail["personalizations"][0]["to"][0]["email"] for mail in mails} == {email}
        assert {request.headers["authorization"] for request in sendgrid_fake.requests} == {"Bearer SG.test-key"}
    else:
        assert mails == []
    assert len(slack.requests) == (2 if cap.slack_webhook_url else 0)
    assert {request.path for request in slack.requests} <= {"/services/T/B/x"}
    if cap.webhook_url:
        bodies = sorted((request.json()["data"]["level"], request.json()["data"]["spend_usd"])
                        for request in receiver.requests)
        assert bodies == [("exceeded", "0.6"), ("threshold", "0.3")]
        assert all(verify_signature(secret, request.headers["x-llmobserve-signature"], request.body,
                                    int(time.time())) for request in receiver.requests)
    else:
        assert receiver.requests == []


def test_sendgrid_failing_twice_then_accepting_gets_the_email_delivered_once(
        engine, account, config, sendgrid_fake: FakeSendGrid) -> None:
    tenant, email = account
    cap = make_cap(engine, tenant, scope="global", period="month", limit_usd="0.10")
    now = utcnow()
    store(engine, tenant, [spend_event(now - timedelta(minutes=1))])  # $0.15: threshold and exceeded at once
    assert sorted(alert.level for alert in checks.check(engine, [cap], now, memo=None).fired) == [
        "exceeded", "threshold"]
    sendgrid_fake.answer(500, 500)  # the first two requests fail, then 202 again

    moment, rounds = utcnow(), 0  # the rows are due from when the check enqueued them
    while any(state.endswith(":pending") for _, _, state in _outbox(engine, tenant)):
        report = deliver_due(engine, config, moment)
        rounds += 1
        assert report.failed == 0 and rounds <= 6
        with engine.connect() as connection:
            due = connection.execute(sa.select(sa.func.min(NOTIFICATIONS.c.next_attempt_at)).where(
                NOTIFICATIONS.c.tenant_id == tenant, NOTIFICATIONS.c.status == "pending")).scalar()
        if due is not None:
            assert due > moment  # retried later with backoff, not at once
            moment = due
    assert _outbox(engine, tenant) == [("email", email, "exceeded:sent"), ("email", email, "threshold:sent")]
    assert len(sendgrid_fake.requests) == 4  # 2 answered 500, then one accepted request per alert
    delivered = sorted(mail["subject"] for mail in sendgrid_fake.mails[2:])
    assert len(delivered) == 2 and len(set(delivered)) == 2  # each alert's e-mail accepted exactly once
    with engine.connect() as connection:
        attempts = dict(connection.execute(sa.select(NOTIFICATIONS.c.source_id, NOTIFICATIONS.c.attempts)
                                           .where(NOTIFICATIONS.c.tenant_id == tenant)).all())
    assert sum(attempts.values()) == 4
    assert deliver_due(engine, config, moment + timedelta(days=1)).handled == 0
