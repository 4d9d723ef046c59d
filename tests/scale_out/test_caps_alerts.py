"""Two server processes on one PostgreSQL database evaluate the same cap crossings and send each alert once.

Two ``create_ingest_app`` processes under granian (not the full Reflex app: no frontend build, so this takes
seconds), each also a delivering process (an alert it fires wakes its own sender), share one database. Batches
for the same customer go to both servers in turn from concurrent clients while this process runs the minute
catch-up in a loop (a third evaluator); a final delivery pass stands in for the 5-second job. Every alert
(cap, period, level, customer) must be stored once, and each of its messages reach the fake SendGrid (real
``sendgrid`` client, ``SENDGRID_API_URL``) or the fake Slack exactly once. Bounded: about 20 s.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa

from llmobserve_app.db import get_engine, migrate, session_scope
from llmobserve_app.models import CapAlert, Notification
from llmobserve_app.services import accounts, api_keys
from llmobserve_app.services.caps import checks, crud
from llmobserve_app.services.notifications import DeliveryConfig, deliver_due
from tests.factories import event
from tests.ingest_api.test_crash_durability import Server, _free_port
from tests.scale_out.conftest import POSTGRES_ADMIN_URL
from tests.services.notifications.fakes import FakeReceiver, FakeSendGrid

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]
ALERTS, NOTIFICATIONS = CapAlert.__table__, Notification.__table__
BATCHES, BATCH_SIZE, CLIENTS = 24, 40, 6  # 960 calls of $0.00027: $0.26 in all


@pytest.fixture
def database_url() -> Iterator[str]:
    name = f"llmo_caps_scale_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate(url)
        yield url
    finally:
        get_engine(url).dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _wait(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_two_servers_send_each_alert_exactly_once(database_url: str, tmp_path) -> None:
    if datetime.now(UTC).strftime("%H:%M") >= "23:59":
        time.sleep(65)  # a day cap must not see the UTC day turn mid-test
    engine = get_engine(database_url)
    with FakeSendGrid() as sendgrid_fake, FakeReceiver() as slack:
        with session_scope(engine) as session:
            user = accounts.signup(session, f"caps-{uuid.uuid4().hex[:8]}@example.com", "correct horse", "Caps")
            tenant, email = user.id, user.email
            _, key = api_keys.create_api_key(session, tenant, "k")
            channels = {"slack_webhook_url": f"{slack.url}/services/T/B/x"}
            caps = [crud.create_cap(session, tenant, name="acme", scope="customer", value="acme", period="day",
                                    limit_usd="0.10", action="block", **channels),
                    crud.create_cap(session, tenant, name="all", scope="global", period="month",
                                    limit_usd="0.20", **channels),
                    crud.create_cap(session, tenant, name="each", scope="customer", value="*", period="week",
                                    limit_usd="0.05", threshold_pct=50, **channels)]
            cap_ids = [cap.id for cap in caps]
        sendgrid_env = {"SENDGRID_API_KEY": "SG.scale-test", "SENDGRID_FROM": "alerts@llmobserve.test",
                        "SENDGRID_API_URL": sendgrid_fake.url}
        servers = [Server(database_url.replace("+psycopg", ""), _free_port(), tmp_path / f"server-{label}.log",
                          "tests.scale_out.caps_app:create_app", sendgrid_env) for label in "ab"]
        try:
            for server in servers:
                server.start()
            replies: list[tuple[int, int, bool]] = []  # (batch, server, blocked acme)
            stop = threading.Event()

            def post(index: int) -> None:
                server = servers[index % 2]
                body = {"events": [event(customer_id="acme") for _ in range(BATCH_SIZE)]}
                response = httpx.post(f"http://127.0.0.1:{server.port}/v1/events", json=body, timeout=30,
                                      headers={"Authorization": f"Bearer {key}"})
                assert response.status_code == 200, response.text
                blocked = [(b["scope"], b["value"]) for b in response.json()["blocked"]]
                replies.append((index, index % 2, ("customer", "acme") in blocked))

            def catch_up_loop() -> None:
                while not stop.is_set():
                    checks.catch_up(engine, datetime.now(UTC))
                    time.sleep(0.05)

            catcher = threading.Thread(target=catch_up_loop)
            catcher.start()
            try:
                with ThreadPoolExecutor(CLIENTS) as pool:
                    list(pool.map(post, range(BATCHES)))
            finally:
                stop.set()
                catcher.join(30)
            checks.catch_up(engine, datetime.now(UTC))

            expected_alerts = Counter({(cap_ids[0], "threshold", ""): 1, (cap_ids[0], "exceeded", ""): 1,
                                       (cap_ids[1], "threshold", ""): 1, (cap_ids[1], "exceeded", ""): 1,
                                       (cap_ids[2], "threshold", "acme"): 1, (cap_ids[2], "exceeded", "acme"): 1})
            with engine.connect() as connection:
                alerts = Counter(connection.execute(sa.select(ALERTS.c.cap_id, ALERTS.c.level, ALERTS.c.scope_value)
                                                    .where(ALERTS.c.tenant_id == tenant)).all())
            assert alerts == expected_alerts
            # The servers send what they fired at once; a last pass (the 5 s job's work) sends anything the
            # catch-up in this process fired, racing the servers' own deliverers.
            _wait(lambda: len(sendgrid_fake.requests) >= 6 and len(slack.requests) >= 6, 20)
            config = DeliveryConfig(sendgrid_api_key="SG.scale-test", sendgrid_from="alerts@llmobserve.test",
                                    sendgrid_api_url=sendgrid_fake.url, timeout_seconds=5)
            deliver_due(engine, config, datetime.now(UTC))
            assert _wait(lambda: len(sendgrid_fake.requests) >= 6 and len(slack.requests) >= 6, 20)
            time.sleep(1)  # a duplicate send, if any, would arrive now
            with engine.connect() as connection:
                outbox = Counter(connection.execute(sa.select(NOTIFICATIONS.c.channel, NOTIFICATIONS.c.status)
                                                    .where(NOTIFICATIONS.c.tenant_id == tenant)).all())
            assert outbox == {("email", "sent"): 6, ("slack", "sent"): 6}
            subjects = Counter(mail["subject"] for mail in sendgrid_fake.mails)
            assert len(subjects) == 6 and set(subjects.values()) == {1}, subjects
            assert {mail["personalizations"][0]["to"][0]["email"] for mail in sendgrid_fake.mails} == {email}
            slack_texts = Counter(request.json()["text"] for request in slack.requests)
            assert len(slack_texts) == 6 and set(slack_texts.values()) == {1}, slack_texts

            # Both processes evaluated the crossing: each answered batches after it with acme blocked.
            assert {server for _, server, blocked in replies if blocked} == {0, 1}, sorted(replies)
        finally:
            for server in servers:
                server.stop()
