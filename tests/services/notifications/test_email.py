"""E-mail through the real ``sendgrid`` client to a fake SendGrid server on loopback."""

from __future__ import annotations

from datetime import timedelta

from llmobserve_app.models import utcnow
from llmobserve_app.services.notifications import DeliveryConfig, deliver_due, email_configured
from tests.services.notifications.fakes import FakeSendGrid
from tests.services.notifications.helpers import add, row


def test_the_real_sendgrid_client_delivers_the_mail_once(engine, config, sendgrid_fake: FakeSendGrid,
                                                         tenant: int) -> None:
    now = utcnow()
    source = add(engine, tenant, "email", "founder@example.com", now=now, subject="Cap 'acme daily' exceeded",
                 payload={"text": "Spend $0.11 of $0.10 <b>today</b>"})

    report = deliver_due(engine, config, now)
    assert (report.sent, report.handled) == (1, 1)
    assert deliver_due(engine, config, now + timedelta(hours=1)).handled == 0  # sent rows are done

    [request] = sendgrid_fake.requests
    assert request.path == "/v3/mail/send"
    assert request.headers["authorization"] == "Bearer SG.test-key"
    mail = request.json()
    assert mail["from"] == {"email": "alerts@llmobserve.test"}
    assert mail["personalizations"][0]["to"] == [{"email": "founder@example.com"}]
    assert mail["subject"] == "Cap 'acme daily' exceeded"
    assert mail["content"] == [{"type": "text/plain", "value": "Spend $0.11 of $0.10 <b>today</b>"}]
    sent = row(engine, source, "email")
    assert (sent.status, sent.attempts, sent.last_status_code) == ("sent", 1, 202)
    assert now <= sent.sent_at < now + timedelta(seconds=5)  # ``now`` moved on by the run's own duration


def test_500_twice_then_202_delivers_once_after_backoff(engine, config, sendgrid_fake: FakeSendGrid,
                                                        tenant: int) -> None:
    now = utcnow()
    source = add(engine, tenant, "email", "founder@example.com", now=now)
    sendgrid_fake.answer(500, 500)

    assert deliver_due(engine, config, now).retrying == 1
    first_retry = row(engine, source, "email")
    assert (first_retry.status, first_retry.attempts, first_retry.last_status_code) == ("pending", 1, 500)
    assert timedelta(seconds=15) <= first_retry.next_attempt_at - now <= timedelta(seconds=35)
    assert deliver_due(engine, config, now + timedelta(seconds=10)).handled == 0  # not due yet: no request

    assert deliver_due(engine, config, first_retry.next_attempt_at).retrying == 1
    second_retry = row(engine, source, "email")
    assert second_retry.next_attempt_at - first_retry.next_attempt_at >= timedelta(seconds=30)  # 2nd: 30-60 s
    assert deliver_due(engine, config, second_retry.next_attempt_at).sent == 1

    assert len(sendgrid_fake.requests) == 3
    delivered = row(engine, source, "email")
    assert (delivered.status, delivered.attempts, delivered.last_status_code) == ("sent", 3, 202)
    assert delivered.last_error is None
    assert deliver_due(engine, config, now + timedelta(days=1)).handled == 0
    assert len(sendgrid_fake.requests) == 3


def test_a_400_fails_at_once_with_its_status_and_is_not_retried(engine, config, sendgrid_fake: FakeSendGrid,
                                                                tenant: int) -> None:
    now = utcnow()
    source = add(engine, tenant, "email", "founder@example.com", now=now)
    sendgrid_fake.answer(400)
    assert deliver_due(engine, config, now).failed == 1
    failed = row(engine, source, "email")
    assert (failed.status, failed.attempts, failed.last_status_code) == ("failed", 1, 400)
    assert failed.last_error.startswith("HTTP 400")
    assert deliver_due(engine, config, now + timedelta(hours=2)).handled == 0
    assert len(sendgrid_fake.requests) == 1


def test_429_honours_retry_after(engine, config, sendgrid_fake: FakeSendGrid, tenant: int) -> None:
    now = utcnow()
    source = add(engine, tenant, "email", "founder@example.com", now=now)
    sendgrid_fake.retry_after = "600"
    sendgrid_fake.answer(429)
    assert deliver_due(engine, config, now).retrying == 1
    waiting = row(engine, source, "email")
    assert waiting.last_status_code == 429
    assert timedelta(seconds=600) <= waiting.next_attempt_at - now < timedelta(seconds=605)


def test_sendgrid_unreachable_is_retried(engine, config, tenant: int) -> None:
    now = utcnow()
    with FakeSendGrid() as gone:  # a port that was just free: connection refused once the fake is closed
        closed_url = gone.url
    source = add(engine, tenant, "email", "founder@example.com", now=now)
    unreachable = DeliveryConfig(sendgrid_api_key="SG.k", sendgrid_from="a@b.test", sendgrid_api_url=closed_url,
                                 timeout_seconds=2.0)
    assert deliver_due(engine, unreachable, now).retrying == 1
    pending = row(engine, source, "email")
    assert pending.status == "pending" and pending.last_status_code is None
    assert "refused" in pending.last_error.lower()


def test_without_an_api_key_email_is_skipped_and_said_so(engine, sendgrid_fake: FakeSendGrid, tenant: int) -> None:
    unconfigured = DeliveryConfig(sendgrid_api_url=sendgrid_fake.url)
    assert not email_configured(unconfigured)
    now = utcnow()
    source = add(engine, tenant, "email", "founder@example.com", now=now)
    assert deliver_due(engine, unconfigured, now).skipped == 1
    skipped = row(engine, source, "email")
    assert skipped.status == "skipped" and "email not configured" in skipped.last_error
    assert sendgrid_fake.requests == []


def test_email_configured_needs_the_key_and_the_sender() -> None:
    assert email_configured(DeliveryConfig(sendgrid_api_key="SG.k", sendgrid_from="a@b.test"))
    assert not email_configured(DeliveryConfig(sendgrid_api_key="SG.k"))
    assert not email_configured(DeliveryConfig(sendgrid_from="a@b.test"))
    assert "SG.k" not in repr(DeliveryConfig(sendgrid_api_key="SG.k"))
