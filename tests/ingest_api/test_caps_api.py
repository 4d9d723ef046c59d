"""/v1/caps with the API key: create, list with spend and status, change, delete, alert history; the
``blocked`` list of /v1/events replies and of /v1/caps/status (both ingest paths: the SQLite writer process
and PostgreSQL in-request); 422 naming the field; another tenant's cap is a 404. Time is the app's clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from ingest_api import create_ingest_app
from tests.services.caps.helpers import spend_event

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves (passed to the app: nothing is patched)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def client(database_url: str, clock: Clock) -> TestClient:
    return TestClient(create_ingest_app(database_url, clock=clock))


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _send(client: TestClient, key: str, *events: dict) -> dict:
    response = client.post("/v1/events", json={"events": list(events)}, headers=_auth(key))
    assert response.status_code == 200, response.text
    return response.json()


def test_block_cap_over_http_from_creation_to_the_next_day(client, clock, make_account) -> None:
    _, _, key = make_account()
    created = client.post("/v1/caps", headers=_auth(key), json={
        "scope": "customer", "value": "acme", "period": "day", "limit_usd": "0.20", "action": "block",
        "threshold_pct": 70, "notify": {"email": True, "slack_webhook_url": "https://hooks.slack.com/services/T/B/x"}})
    assert created.status_code == 201, created.text
    cap = created.json()
    assert (cap["name"], cap["limit_usd"], cap["threshold_pct"], cap["status"], cap["spend_usd"]) == (
        "customer:acme per day", "0.2", 70, "ok", "0")
    assert cap["period_end"].startswith("2026-11-26T00:00:00")

    assert _send(client, key, spend_event(START, customer_id="acme"))["blocked"] == []  # $0.15: warning
    listed = client.get("/v1/caps", headers=_auth(key)).json()["caps"]
    assert [(c["status"], c["spend_usd"], c["percent"]) for c in listed] == [("warning", "0.15", 75.0)]
    assert listed[0]["projected_at"] is not None
    blocked = [{"scope": "customer", "value": "acme", "until": "2026-11-26T00:00:00Z"}]
    reply = _send(client, key, spend_event(START, customer_id="acme"))  # $0.30: over
    assert reply["blocked"] == blocked
    assert _send(client, key, spend_event(START, customer_id="other"))["blocked"] == blocked  # full list
    assert client.get("/v1/caps/status", headers=_auth(key)).json() == {"blocked": blocked}
    alerts = client.get("/v1/caps/alerts", headers=_auth(key)).json()["alerts"]
    assert [(a["level"], a["spend_usd"], a["limit_usd"]) for a in alerts] == [
        ("exceeded", "0.3", "0.2"), ("threshold", "0.15", "0.2")]

    clock.now = START + timedelta(days=1)  # the next UTC day: lifted, nothing reset
    assert client.get("/v1/caps/status", headers=_auth(key)).json() == {"blocked": []}
    assert _send(client, key, spend_event(clock.now, customer_id="acme"))["blocked"] == []
    clock.now = START
    raised = client.patch(f"/v1/caps/{cap['id']}", headers=_auth(key), json={"limit_usd": "1"})
    assert (raised.status_code, raised.json()["status"]) == (200, "ok")
    assert client.get("/v1/caps/status", headers=_auth(key)).json() == {"blocked": []}
    lowered = client.patch(f"/v1/caps/{cap['id']}", headers=_auth(key), json={"limit_usd": "0.2"}).json()
    assert lowered["status"] == "blocked"
    assert client.delete(f"/v1/caps/{cap['id']}", headers=_auth(key)).status_code == 204
    assert client.get("/v1/caps/status", headers=_auth(key)).json() == {"blocked": []}
    assert client.get("/v1/caps", headers=_auth(key)).json() == {"caps": []}


def test_every_customer_and_global_caps_in_replies(client, make_account) -> None:
    _, _, key = make_account()
    for body in ({"scope": "customer", "value": "*", "period": "month", "limit_usd": "0.1", "action": "block"},
                 {"scope": "global", "period": "week", "limit_usd": "0.5", "action": "block"},
                 {"scope": "model", "value": "gpt-4o-mini", "period": "day", "limit_usd": "0.01"}):
        assert client.post("/v1/caps", headers=_auth(key), json=body).status_code == 201
    reply = _send(client, key, spend_event(START, customer_id="a"), spend_event(START, customer_id="b"),
                  spend_event(START))
    assert reply["blocked"] == [{"scope": "customer", "value": "a", "until": "2026-12-01T00:00:00Z"},
                                {"scope": "customer", "value": "b", "until": "2026-12-01T00:00:00Z"}]
    reply = _send(client, key, *(spend_event(START) for _ in range(2)))  # $0.75 in all: the global cap too
    assert {"scope": "global", "value": "", "until": "2026-11-30T00:00:00Z"} in reply["blocked"]
    statuses = {c["scope"]: c for c in client.get("/v1/caps", headers=_auth(key)).json()["caps"]}
    assert statuses["model"]["status"] == "exceeded"  # an alert cap never blocks
    assert statuses["customer"]["scope_value"] in ("a", "b") and statuses["customer"]["status"] == "blocked"


@pytest.mark.parametrize(("body", "field"), [
    ({"scope": "customer", "value": "", "period": "day", "limit_usd": "1"}, "value"),
    ({"scope": "customer", "value": "a", "period": "day", "limit_usd": "0"}, "limit_usd"),
    ({"scope": "customer", "value": "a", "period": "day", "limit_usd": "-3"}, "limit_usd"),
    ({"scope": "customer", "value": "a", "period": "day", "limit_usd": "ten"}, "limit_usd"),
    ({"scope": "team", "value": "a", "period": "day", "limit_usd": "1"}, "scope"),
    ({"scope": "global", "period": "year", "limit_usd": "1"}, "period"),
    ({"scope": "global", "period": "day", "limit_usd": "1", "threshold_pct": 100}, "threshold_pct"),
    ({"scope": "global", "period": "day", "limit_usd": "1", "action": "stop"}, "action"),
    ({"scope": "global", "period": "day", "limit_usd": "1", "notify": {"webhook_url": "http://example.com/x"}},
     "webhook_url"),
    ({"scope": "global", "period": "day"}, "limit_usd"),
    ({"scope": "global", "period": "day", "limit_usd": "1", "colour": "red"}, "colour"),
])
def test_bad_input_is_422_naming_the_field(client, make_account, body, field) -> None:
    _, _, key = make_account()
    response = client.post("/v1/caps", headers=_auth(key), json=body)
    assert response.status_code == 422
    assert field in response.json()["detail"] and response.json()["error"] in ("invalid_cap", "invalid_request")
    assert client.get("/v1/caps", headers=_auth(key)).json() == {"caps": []}


def test_other_tenants_caps_are_404_and_invisible(client, make_account) -> None:
    _, _, key = make_account()
    _, _, other = make_account()
    cap = client.post("/v1/caps", headers=_auth(key), json={
        "scope": "global", "period": "day", "limit_usd": "0.01", "action": "block"}).json()
    _send(client, key, spend_event(START))
    assert client.patch(f"/v1/caps/{cap['id']}", headers=_auth(other), json={"limit_usd": "9"}).status_code == 404
    assert client.delete(f"/v1/caps/{cap['id']}", headers=_auth(other)).status_code == 404
    assert client.delete("/v1/caps/999999999", headers=_auth(key)).status_code == 404
    assert client.get("/v1/caps", headers=_auth(other)).json() == {"caps": []}
    assert client.get("/v1/caps/alerts", headers=_auth(other)).json() == {"alerts": []}
    assert client.get("/v1/caps/status", headers=_auth(other)).json() == {"blocked": []}
    assert _send(client, other, spend_event(START, span_id=uuid.uuid4().hex))["blocked"] == []
    assert client.get("/v1/caps", headers={}).status_code == 401


def test_caps_are_in_the_openapi_docs(client) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(paths["/v1/caps"]) and {"patch", "delete"} <= set(paths["/v1/caps/{cap_id}"])
    assert "CapCreate" in str(paths["/v1/caps"]["post"]) and "/v1/caps/alerts" in paths
