"""Fixtures of the notification tests: an empty outbox for every test that makes a tenant (``deliver_due`` sends
every due row of the database), fake receivers on loopback, and a delivery config pointing at the fake SendGrid."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from llmobserve_app.db import session_scope
from llmobserve_app.models import Notification, User
from llmobserve_app.services.notifications import DeliveryConfig
from tests.factories import unique_email
from tests.services.notifications.fakes import FakeReceiver, FakeSendGrid


@pytest.fixture
def empty_outbox(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.delete(Notification.__table__))


@pytest.fixture
def sendgrid_fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as fake:
        yield fake


@pytest.fixture
def receiver() -> Iterator[FakeReceiver]:
    with FakeReceiver() as fake:
        yield fake


@pytest.fixture
def config(sendgrid_fake: FakeSendGrid) -> DeliveryConfig:
    return DeliveryConfig(sendgrid_api_key="SG.test-key", sendgrid_from="alerts@llmobserve.test",
                          sendgrid_api_url=sendgrid_fake.url, timeout_seconds=2.0)


@pytest.fixture
def make_tenant(engine: sa.Engine, empty_outbox: None):
    """A new account (no password hashing: these tests never sign in), in an empty outbox."""

    def make() -> int:
        with session_scope(engine) as session:
            user = User(email=unique_email("notify"), name="Notify", password_hash="-")
            session.add(user)
            session.flush()
            return user.id

    return make


@pytest.fixture
def tenant(make_tenant) -> int:
    return make_tenant()
