"""The HTTP ingest API: auth, size limits, gzip, malformed bodies, partial acceptance, docs."""

from __future__ import annotations

import gzip
import json
from email.utils import parsedate_to_datetime

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from ingest_api import create_ingest_app
from llmobserve_app.db import session_scope
from llmobserve_app.models import Event
from llmobserve_app.services import api_keys
from llmobserve_app.settings import get_settings
from tests.factories import event


@pytest.fixture
def client(database_url: str) -> TestClient:
    return TestClient(create_ingest_app(database_url))


def _count(engine, tenant: int) -> int:
    with engine.connect() as connection:
        query = sa.select(sa.func.count()).select_from(Event).where(Event.tenant_id == tenant)
        return connection.execute(query).scalar_one()


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_accepts_a_batch_and_reports_duplicates_on_retry(client, make_account, engine) -> None:
    tenant, _, key = make_account()
    body = {"events": [event(f"s{i}") for i in range(5)]}
    first = client.post("/v1/events", json=body, headers=_auth(key))
    retry = client.post("/v1/events", json=body, headers=_auth(key))
    assert first.status_code == 200
    assert first.json() == {"accepted": 5, "duplicates": 0, "rejected": [], "blocked": []}
    assert retry.json() == {"accepted": 0, "duplicates": 5, "rejected": [], "blocked": []}
    assert _count(engine, tenant) == 5
    assert parsedate_to_datetime(first.headers["date"]).tzinfo is not None


def test_gzip_body_is_accepted(client, make_account, engine) -> None:
    tenant, _, key = make_account()
    payload = gzip.compress(json.dumps({"events": [event(), event()]}).encode())
    response = client.post("/v1/events", content=payload,
                           headers={**_auth(key), "Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert response.status_code == 200 and response.json()["accepted"] == 2
    assert _count(engine, tenant) == 2


@pytest.mark.parametrize("header", [None, "Basic abc", "Bearer ", "Bearer llmo_sk_unknown", "Bearer sk-proj-x"])
def test_missing_or_unknown_key_is_401_with_a_json_error(client, header) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = client.post("/v1/events", json={"events": [event()]}, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] in {"missing_api_key", "invalid_api_key"}
    assert response.json()["detail"]


def test_revoked_key_is_401_on_the_next_call(client, make_account, engine) -> None:
    tenant, _, key = make_account()
    assert client.post("/v1/events", json={"events": [event()]}, headers=_auth(key)).status_code == 200
    with session_scope(engine) as session:
        (row,) = api_keys.list_api_keys(session, tenant)
        api_keys.revoke_api_key(session, tenant, row.id)
    response = client.post("/v1/events", json={"events": [event()]}, headers=_auth(key))
    assert response.status_code == 401 and response.json()["error"] == "invalid_api_key"
    assert _count(engine, tenant) == 1


def test_oversized_bodies_are_413_and_write_nothing(client, make_account, engine) -> None:
    tenant, _, key = make_account()
    limit = get_settings().ingest_max_body_bytes
    padding = "x" * (limit + 10)
    big = json.dumps({"events": [event(tags={"pad": "y"}, sdk_version="1")], "padding": padding}).encode()
    response = client.post("/v1/events", content=big, headers={**_auth(key), "Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["error"] == "body_too_large"
    # A small gzip body that inflates past the limit (a zip bomb) is refused too.
    bomb = gzip.compress(json.dumps({"events": [], "padding": padding}).encode())
    assert len(bomb) < limit
    response = client.post("/v1/events", content=bomb, headers={**_auth(key), "Content-Encoding": "gzip"})
    assert response.status_code == 413
    too_many = {"events": [event() for _ in range(get_settings().ingest_max_events + 1)]}
    response = client.post("/v1/events", json=too_many, headers=_auth(key))
    assert response.status_code == 413 and "at most" in response.json()["detail"]
    assert _count(engine, tenant) == 0


@pytest.mark.parametrize(
    ("content", "headers", "code"),
    [
        (b"{not json", {}, "invalid_json"),
        (b"[1, 2]", {}, "invalid_body"),
        (b'{"events": {"a": 1}}', {}, "invalid_body"),
        (b"\xff\xfe", {}, "invalid_json"),
        (b"plain text, not gzip", {"Content-Encoding": "gzip"}, "invalid_gzip"),
    ],
)
def test_malformed_bodies_are_422_naming_the_problem(client, make_account, engine, content, headers, code) -> None:
    tenant, _, key = make_account()
    response = client.post("/v1/events", content=content, headers={**_auth(key), **headers})
    assert response.status_code == 422
    assert response.json()["error"] == code
    assert _count(engine, tenant) == 0


def test_one_bad_event_in_100_keeps_99_over_http(client, make_account, engine) -> None:
    tenant, _, key = make_account()
    batch = [event() for _ in range(100)]
    batch[5] = {**event(), "started_at": "yesterday"}
    response = client.post("/v1/events", json={"events": batch}, headers=_auth(key))
    body = response.json()
    assert response.status_code == 200
    assert body["accepted"] == 99 and body["duplicates"] == 0
    assert [r["index"] for r in body["rejected"]] == [5] and body["rejected"][0]["error"].startswith("started_at")
    assert _count(engine, tenant) == 99


def test_caps_status_healthz_and_docs(client, make_account) -> None:
    _, _, key = make_account()
    assert client.get("/v1/caps/status", headers=_auth(key)).json() == {"blocked": []}
    assert client.get("/v1/caps/status").status_code == 401
    assert client.get("/v1/healthz").json() == {"status": "ok", "database": "ok"}
    assert client.get("/api/docs").status_code == 200
    spec = client.get("/api/openapi.json").json()
    assert {"/v1/events", "/v1/usage", "/v1/caps/status", "/v1/healthz"} <= set(spec["paths"])
