"""The notification delivery job: scheduled every few seconds under the job lease, runnable at once by the
process that enqueued (after its commit), and configured from the environment (SENDGRID_*)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from llmobserve_app import jobs
from llmobserve_app.db import session_scope
from llmobserve_app.delivery_config import delivery_config
from llmobserve_app.models import Notification, utcnow
from llmobserve_app.services.notifications import DeliveryConfig, deliver_due, email_configured, enqueue
from llmobserve_app.settings import ConfigError, get_settings
from tests.services.notifications.fakes import FakeReceiver, FakeSendGrid

WAIT_S = 10


def _wait_for(condition, timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def outbox_tenant(engine: sa.Engine, make_account) -> int:
    with engine.begin() as connection:
        connection.execute(sa.delete(Notification.__table__))
    return make_account("jobs")[0]


def _enqueue(session, tenant: int, source_id: int, url: str) -> None:
    enqueue(session, tenant_id=tenant, source_kind="cap_alert", source_id=source_id, channel="slack", target=url,
            subject="Cap exceeded", payload={"text": "over"})


def test_the_scheduler_delivers_every_few_seconds_only_while_holding_the_lease(engine) -> None:
    lease = jobs.JobLeaseHolder(engine, holder="test-holder")
    job = jobs.create_scheduler(lease).get_job("deliver_notifications")
    assert job.trigger.interval == jobs.DELIVERY_INTERVAL <= timedelta(seconds=10)
    assert job.func == lease.run_if_held and job.args == (jobs.deliver_notifications,)
    runs: list[int] = []
    lease.held = False
    lease.run_if_held(lambda: runs.append(1))
    lease.held = True
    lease.run_if_held(lambda: runs.append(2))
    assert runs == [2]


def test_soon_runner_runs_again_once_for_any_requests_made_while_running() -> None:
    started, release = threading.Event(), threading.Event()
    runs: list[int] = []

    def job() -> None:
        runs.append(1)
        started.set()
        release.wait(timeout=WAIT_S)

    runner = jobs.SoonRunner(job)
    runner.request()
    assert started.wait(timeout=WAIT_S)
    for _ in range(5):
        runner.request()
    release.set()
    assert _wait_for(lambda: not runner._running)
    assert len(runs) == 2


def test_after_commit_delivers_within_seconds_and_a_rollback_sends_nothing(engine, outbox_tenant: int,
                                                                            monkeypatch) -> None:
    config = DeliveryConfig(timeout_seconds=2.0)
    monkeypatch.setattr(jobs, "_delivery_soon", jobs.SoonRunner(lambda: deliver_due(engine, config, utcnow())))
    with FakeReceiver() as slack:
        with pytest.raises(RuntimeError), session_scope(engine) as session:
            _enqueue(session, outbox_tenant, 910_001, slack.url)
            jobs.deliver_notifications_after_commit(session)
            raise RuntimeError("rolled back")
        time.sleep(0.3)
        assert slack.requests == []

        with session_scope(engine) as session:
            _enqueue(session, outbox_tenant, 910_002, slack.url)
            jobs.deliver_notifications_after_commit(session)
        assert _wait_for(lambda: len(slack.requests) == 1)
        assert slack.requests[0].json() == {"text": "over"}


@pytest.fixture
def app_settings(monkeypatch, engine: sa.Engine):
    """The jobs' engine is the test database's; SENDGRID_* come from the environment; restored afterwards."""
    monkeypatch.setattr(jobs, "get_engine", lambda: engine)  # (get_engine() caches the first URL it resolved)
    for name in ("SENDGRID_API_KEY", "SENDGRID_FROM", "SENDGRID_API_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_the_job_sends_email_with_the_environments_sendgrid_settings(app_settings, engine, outbox_tenant: int) -> None:
    with FakeSendGrid() as sendgrid:
        app_settings.setenv("SENDGRID_API_KEY", "SG.from-env")
        app_settings.setenv("SENDGRID_FROM", "alerts@example.com")
        app_settings.setenv("SENDGRID_API_URL", sendgrid.url + "/")
        get_settings.cache_clear()
        with session_scope(engine) as session:
            enqueue(session, tenant_id=outbox_tenant, source_kind="cap_alert", source_id=910_003, channel="email",
                    target="founder@example.com", subject="Cap exceeded", payload={"text": "over"})
        jobs.deliver_notifications()
        [request] = sendgrid.requests
    assert request.headers["authorization"] == "Bearer SG.from-env"
    assert request.json()["from"] == {"email": "alerts@example.com"}
    assert "SG.from-env" not in repr(get_settings()) + repr(delivery_config())


def test_email_is_unconfigured_without_a_key_and_a_key_needs_a_sender(app_settings) -> None:
    assert not email_configured(delivery_config())
    app_settings.setenv("SENDGRID_API_KEY", "SG.k")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="SENDGRID_FROM"):
        get_settings()
    app_settings.setenv("SENDGRID_FROM", "alerts@example.com")
    app_settings.setenv("SENDGRID_API_URL", "api.sendgrid.com")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="SENDGRID_API_URL"):
        get_settings()
    app_settings.delenv("SENDGRID_API_URL")
    get_settings.cache_clear()
    config = delivery_config()
    assert email_configured(config) and config.sendgrid_api_url == "https://api.sendgrid.com"
