"""Fixtures shared by the service tests that deliver notifications (caps alerts, the outbox itself): an empty
outbox (``deliver_due`` sends every due row of the database), fake receivers on loopback, and a delivery config
pointing at the fake SendGrid."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from llmobserve_app.models import Notification
from llmobserve_app.services.notifications import DeliveryConfig
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
