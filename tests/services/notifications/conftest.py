"""Fixtures of the notification tests: a tenant in an empty outbox (the fakes and the delivery config are in
tests/services/conftest.py)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from llmobserve_app.db import session_scope
from llmobserve_app.models import User
from tests.factories import unique_email


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
