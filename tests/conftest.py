"""Fixtures for the server tests: every database test runs on SQLite and on the local PostgreSQL server."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

if "LLMOBSERVE_DATA_DIR" not in os.environ:
    os.environ["LLMOBSERVE_DATA_DIR"] = tempfile.mkdtemp(prefix="llmo-test-data-")
    atexit.register(shutil.rmtree, os.environ["LLMOBSERVE_DATA_DIR"], ignore_errors=True)
os.environ.setdefault("JWT_SECRET", "test-secret-" + uuid.uuid4().hex)

from ingest_api.browser_auth import login_limiter  # noqa: E402
from llmobserve_app.db import get_engine, migrate, session_scope  # noqa: E402
from llmobserve_app.models import PriceDataUpdate  # noqa: E402
from llmobserve_app.services import accounts, api_keys, price_updates  # noqa: E402
from llmobserve_app.services.billing.stripe_client import StripeConfig  # noqa: E402
from llmobserve_app.settings import get_settings  # noqa: E402
from tests.factories import unique_email  # noqa: E402
from tests.fakes.stripe_server import FakeStripe  # noqa: E402

get_settings.cache_clear()
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database (Alembic, as in production) shared by the session; tests use fresh accounts."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
        migrate(url)
        yield url
        get_engine(url).dispose()
        return
    name = f"llmo_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {error}")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    migrate(url)
    yield url
    get_engine(url).dispose()
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def engine(database_url: str) -> sa.Engine:
    return get_engine(database_url)


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    login_limiter().reset()


@pytest.fixture
def make_account(engine: sa.Engine):
    """Create an account with one API key; returns (user_id, email, plaintext_key)."""

    def make(label: str = "user", password: str = "correct horse") -> tuple[int, str, str]:
        email = unique_email(label)
        with session_scope(engine) as session:
            user = accounts.signup(session, email, password, label.title())
            _, key = api_keys.create_api_key(session, user.id, "Default key")
            return user.id, email, key

    return make


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    """A fake Stripe on loopback (tests/fakes/stripe_server.py); point ``webhook_url`` at the app to get webhooks."""
    fake = FakeStripe()
    yield fake
    fake.stop()


@pytest.fixture
def stripe_config(fake_stripe: FakeStripe) -> StripeConfig:
    """Hosted-mode billing configuration whose real ``stripe`` client talks to ``fake_stripe``."""
    return StripeConfig(fake_stripe.secret_key, fake_stripe.webhook_secret, fake_stripe.price_id,
                        "http://testserver", fake_stripe.url)


@pytest.fixture
def fetched_prices(engine: sa.Engine) -> Iterator[Callable[[str, str], None]]:
    """Records an accepted PRICING_URL document as the job of another server process does (this process's
    registry untouched): ``record(version, gpt-4o's input $/Mtok)``. Afterwards the records are deleted (the
    database is shared by the session) and this process prices with the bundled data again."""

    def record(version: str, input_mtok: str) -> None:
        document = {"format": 1, "version": version, "providers": [{"id": "openai", "models": [
            {"id": "gpt-4o", "prices": {"input_mtok": input_mtok, "output_mtok": "8"}}]}]}
        with session_scope(engine) as session:
            session.add(PriceDataUpdate(source="https://prices.example/p.json", status=price_updates.ACCEPTED,
                                        version=version, accepted_entries=1, document=json.dumps(document)))

    yield record
    with session_scope(engine) as session:
        session.execute(sa.delete(PriceDataUpdate))
    price_updates.forget_applied_for_tests()
