"""The read API (/v1/usage) and the exports follow the plan's date range, as the pages do: in hosted mode a
Free account reads the last 7 days (the default window is moved to fit, an explicit earlier start is a 403
``plan_range_limit``); Pro reads any range; a self-hosted installation has no limit. Ingest is never limited."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from ingest_api import create_ingest_app
from llmobserve_app import routes
from llmobserve_app.db import session_scope
from llmobserve_app.models import User
from llmobserve_app.services import accounts
from llmobserve_app.services.billing.plans import FREE, earliest_visible
from llmobserve_app.services.billing.promo_code_list import parse_promo_codes
from llmobserve_app.services.ingest.store import ingest_events
from llmobserve_app.settings import get_settings
from tests.factories import event, session_token

# A fixed clock (the app's and the seed's), so the 7-day boundary cannot move during a test.
NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
EARLIEST = earliest_visible(FREE, NOW)  # 2026-11-14T00:00Z: today and the 6 days before
UPGRADE_URL = "http://testserver" + routes.SUBSCRIPTION


def _app(database_url: str, stripe_config=None) -> TestClient:
    api = create_ingest_app(database_url, clock=lambda: NOW)
    if stripe_config is not None:  # hosted; otherwise the settings' (self-hosted) configuration
        api.state.stripe_config = stripe_config
        api.state.promo_codes = parse_promo_codes("BETA")
    return TestClient(api, follow_redirects=False)


@pytest.fixture
def hosted(database_url, stripe_config) -> TestClient:
    return _app(database_url, stripe_config)


@pytest.fixture
def self_hosted(database_url) -> TestClient:
    assert get_settings().stripe_config() is None
    return _app(database_url)


@pytest.fixture
def account(engine, make_account):
    """A new account with a recent call (2 days ago) and an old one (20 days ago): its key and cookie."""

    def make() -> tuple[str, dict[str, str]]:
        user_id, _, key = make_account("plans")
        with session_scope(engine) as session:
            ingest_events(session, user_id, [
                event(customer_id="recent", started_at=(NOW - timedelta(days=2)).isoformat()),
                event(customer_id="old", started_at=(NOW - timedelta(days=20)).isoformat()),
            ])
            token = session_token(session, session.get(User, user_id))
        return key, {"cookie": f"{accounts.SESSION_COOKIE}={token}", "origin": "http://testserver"}

    return make


def _usage(client: TestClient, key: str, **params: str):
    return client.get(routes.API_USAGE, params=params, headers={"Authorization": f"Bearer {key}"})


def _customers(reply) -> set[str]:
    assert reply.status_code == 200, reply.text
    return {row["key"] for row in reply.json()["rows"]}


def _exported(client: TestClient, cookie: dict[str, str], **params: str) -> set[str]:
    reply = client.get("/api/export/costs.csv", params={"group_by": "customer", **params}, headers=cookie)
    assert reply.status_code == 200, reply.text
    return {row["name"] for row in csv.DictReader(io.StringIO(reply.text))}


def _assert_plan_range_limit(reply) -> None:
    assert reply.status_code == 403 and reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert set(body) == {"error", "detail"} and body["error"] == "plan_range_limit"
    assert "The Free plan covers the last 7 days" in body["detail"]
    assert "earliest allowed start is 2026-11-14T00:00:00Z" in body["detail"]
    assert f"upgrade to Pro at {UPGRADE_URL} for a longer range" in body["detail"]


def test_free_usage_default_window_fits_the_plan_and_earlier_starts_are_refused(hosted, account) -> None:
    key, _ = account()
    default = _usage(hosted, key)
    assert _customers(default) == {"recent"}
    assert datetime.fromisoformat(default.json()["start"]) == EARLIEST  # moved from 30 days back, no error
    assert datetime.fromisoformat(default.json()["end"]) == datetime(2026, 11, 20, 16, tzinfo=UTC)
    assert _customers(_usage(hosted, key, **{"from": "2026-11-14"})) == {"recent"}  # exactly the plan's start
    _assert_plan_range_limit(_usage(hosted, key, **{"from": "2026-11-13"}))
    _assert_plan_range_limit(_usage(hosted, key, **{"from": "2026-11-13T23:59:59Z"}))
    _assert_plan_range_limit(_usage(hosted, key, to="2026-11-05"))  # a window wholly before the plan's range
    # Bad parameters are still 422, whatever the plan.
    assert _usage(hosted, key, **{"from": "2026-11-01", "to": "2026-10-01"}).json()["error"] == "invalid_range"


def test_free_exports_follow_the_same_rule(hosted, account) -> None:
    _, cookie = account()
    assert _exported(hosted, cookie) == {"recent"}  # the default range (7 days)
    assert _exported(hosted, cookie, range="7d") == {"recent"}
    assert _exported(hosted, cookie, **{"from": "2026-11-14", "to": "2026-11-20"}) == {"recent"}
    for params in ({"range": "30d"}, {"from": "2026-11-01", "to": "2026-11-20"}):
        _assert_plan_range_limit(hosted.get("/api/export/costs.csv", params=params, headers=cookie))
        _assert_plan_range_limit(hosted.get("/api/export/runs.json", params=params, headers=cookie))


def test_pro_reads_any_range(hosted, account) -> None:
    key, cookie = account()
    promo = hosted.post(routes.BILLING_PROMO, data={"code": "BETA"}, headers=cookie)
    assert promo.status_code == 303 and "error" not in promo.headers["location"]
    default = _usage(hosted, key)
    assert _customers(default) == {"recent", "old"}
    assert datetime.fromisoformat(default.json()["start"]) == datetime(2026, 10, 21, 15, tzinfo=UTC)  # 30 days
    assert _customers(_usage(hosted, key, **{"from": "2026-10-01"})) == {"recent", "old"}
    assert _exported(hosted, cookie, range="30d") == {"recent", "old"}
    assert _exported(hosted, cookie, **{"from": "2026-01-01", "to": "2026-11-20"}) == {"recent", "old"}


def test_self_hosted_has_no_range_limit(self_hosted, account) -> None:
    key, cookie = account()
    assert _customers(_usage(self_hosted, key)) == {"recent", "old"}
    assert _customers(_usage(self_hosted, key, **{"from": "2026-10-01"})) == {"recent", "old"}
    assert _exported(self_hosted, cookie, range="30d") == {"recent", "old"}


def test_free_accounts_still_ingest_old_calls(hosted, account) -> None:
    key, _ = account()
    old = event(started_at=(NOW - timedelta(days=25)).isoformat())
    reply = hosted.post(routes.API_EVENTS, json={"events": [old]}, headers={"Authorization": f"Bearer {key}"})
    assert reply.status_code == 200 and reply.json()["accepted"] == 1
