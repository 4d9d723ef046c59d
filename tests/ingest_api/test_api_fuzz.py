"""Fuzz the API against its own OpenAPI schema (schemathesis, bounded): no 5xx, and every error in the one
documented shape ``{"error": <code>, "detail": <text>}``. Runs on SQLite and PostgreSQL with a real account,
API key and session cookie, so the authenticated operations are reached."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from ingest_api import create_ingest_app
from llmobserve_app import routes
from llmobserve_app.db import session_scope
from llmobserve_app.models import User
from llmobserve_app.services import accounts
from tests.factories import session_token

MAX_EXAMPLES = 40  # per operation; with the 120 s timeout below, the fuzzing stays bounded


@pytest.fixture
def credentials(engine: sa.Engine, make_account) -> dict[str, Any]:
    """A real account's API key (``Authorization``) and session (cookie) in the test database."""
    user_id, _, key = make_account("fuzz")
    with session_scope(engine) as session:
        token = session_token(session, session.get(User, user_id))
    return {"headers": {"Authorization": f"Bearer {key}"}, "cookies": {accounts.SESSION_COOKIE: token}}


APP = create_ingest_app()
schema = schemathesis.openapi.from_asgi(routes.API_OPENAPI, APP)
# Positive data only: POST /v1/events answers 200 to a batch of invalid events (each is listed in `rejected`),
# which schemathesis's negative mode would count as accepting invalid data. And a schema-valid request may be
# refused on purpose (422 naming the field: a date before 1970, `from` after `to`, a started_at past year
# 9998...), so "positive data is accepted" is not a rule of this API.
schema.config.generation.update(modes=[GenerationMode.POSITIVE], max_examples=MAX_EXAMPLES)
schema.config.checks.update(excluded_check_names=["positive_data_acceptance"])


@pytest.fixture
def on_test_database(database_url: str) -> None:
    """Point the fuzzed app at this run's database (SQLite or PostgreSQL); the schema is loaded at import,
    where schemathesis needs it (its fixture-based loader does not work with pytest 9)."""
    APP.state.database_url = database_url


def _check_error_shape(response: Any) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])[0]  # schemathesis: each header's values
        assert content_type.startswith("application/json"), response.headers
        body = response.json()
        assert set(body) == {"error", "detail"}, body
        assert isinstance(body["error"], str) and isinstance(body["detail"], str), body


@pytest.mark.timeout(120)
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_api_conforms_to_its_schema(
    case: schemathesis.Case, credentials: dict[str, Any], on_test_database: None
) -> None:
    response = case.call(headers=credentials["headers"], cookies=credentials["cookies"])
    _check_error_shape(response)
    case.validate_response(response)
