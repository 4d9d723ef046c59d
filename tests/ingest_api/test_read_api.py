"""GET /v1/usage and the session-authenticated exports: values, validation, tenant isolation, streaming."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from ingest_api import create_ingest_app
from llmobserve_app.db import session_scope
from llmobserve_app.models import User
from llmobserve_app.services import accounts, analytics, exports
from llmobserve_app.services.ingest.store import ingest_events
from tests.factories import event, session_token

NOW = datetime.now(UTC)


@pytest.fixture
def client(database_url: str) -> TestClient:
    return TestClient(create_ingest_app(database_url))


def _seed(engine, tenant: int, prefix: str) -> None:
    with session_scope(engine) as session:
        ingest_events(session, tenant, [
            event(f"{prefix}-1", customer_id="c1", run_id=f"{prefix}-run-1"),
            event(f"{prefix}-2", customer_id="c1", model="gpt-4o", run_id=f"{prefix}-run-1"),
            event(f"{prefix}-3", customer_id="c2", section_path="agent:bot", run_id=f"{prefix}-run-2"),
            event(f"{prefix}-4", customer_id="c2", model="nobody-prices-this"),
            event(f"{prefix}-old", customer_id="c1", started_at=(NOW - timedelta(days=40)).isoformat()),
        ])


def test_usage_by_customer_matches_the_rollups(client, engine, make_account) -> None:
    tenant, _, key = make_account()
    _seed(engine, tenant, "a")
    response = client.get("/v1/usage", params={"group_by": "customer"}, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    body = response.json()
    rows = {row["key"]: row for row in body["rows"]}
    assert set(rows) == {"c1", "c2"}  # the 40-day-old call is outside the default 30 days
    # c1: gpt-4o-mini (1000 in, 200 out) = $0.00027; gpt-4o = 1000 × 2.5e-6 + 200 × 10e-6 = $0.0045
    assert rows["c1"]["cost_usd"] == "0.00477" and rows["c1"]["calls"] == 2
    assert rows["c2"]["unpriced_calls"] == 1 and rows["c2"]["cost_usd"] == "0.00027"
    assert isinstance(rows["c1"]["cost_usd"], str)


@pytest.mark.parametrize("group_by", ["model", "provider", "agent", "day"])
def test_usage_other_groupings_add_up(client, engine, make_account, group_by) -> None:
    tenant, _, key = make_account()
    _seed(engine, tenant, "b")
    frm = (NOW - timedelta(days=60)).date().isoformat()
    response = client.get("/v1/usage", params={"group_by": group_by, "from": frm},
                          headers={"Authorization": f"Bearer {key}"})
    rows = response.json()["rows"]
    assert sum(row["calls"] for row in rows) == 5
    if group_by == "agent":
        assert {row["key"] for row in rows} == {"bot", analytics.UNTRACKED}


def test_usage_filters_by_customer_and_dates(client, engine, make_account) -> None:
    tenant, _, key = make_account()
    _seed(engine, tenant, "c")
    headers = {"Authorization": f"Bearer {key}"}
    old_day = (NOW - timedelta(days=40)).date().isoformat()
    response = client.get("/v1/usage", params={"group_by": "customer", "customer_id": "c1", "from": old_day,
                                               "to": old_day}, headers=headers)
    assert [(row["key"], row["calls"]) for row in response.json()["rows"]] == [("c1", 1)]


@pytest.mark.parametrize(("params", "code"), [
    ({"group_by": "planet"}, "invalid_group_by"),
    ({"from": "last tuesday"}, "invalid_date"),
    ({"from": "2026-01-01T00:00:00"}, "invalid_date"),
    ({"from": "2026-02-01", "to": "2026-01-01"}, "invalid_range"),
])
def test_usage_bad_parameters_are_422_naming_the_field(client, make_account, params, code) -> None:
    _, _, key = make_account()
    response = client.get("/v1/usage", params=params, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 422 and response.json()["error"] == code


def test_usage_and_exports_are_tenant_isolated(client, engine, make_account) -> None:
    alice, _, alice_key = make_account("alice")
    bob, _, bob_key = make_account("bob")
    _seed(engine, alice, "alice")
    response = client.get("/v1/usage", params={"group_by": "customer"},
                          headers={"Authorization": f"Bearer {bob_key}"})
    assert response.json()["rows"] == []
    with session_scope(engine) as session:
        bob_token = session_token(session, session.get(User, bob))
        alice_token = session_token(session, session.get(User, alice))
    client.cookies.set(accounts.SESSION_COOKIE, bob_token)
    assert client.get("/api/export/runs.json").json() == []
    client.cookies.set(accounts.SESSION_COOKIE, alice_token)
    runs = client.get("/api/export/runs.json").json()
    assert {run["run_id"] for run in runs} == {"alice-run-1", "alice-run-2"}
    client.cookies.clear()
    assert client.get("/api/export/runs.csv").status_code == 401
    client.cookies.set(accounts.SESSION_COOKIE, "forged.token.value")
    assert client.get("/api/export/costs.csv").status_code == 401


def test_cost_export_csv_and_json_carry_exact_decimals(client, engine, make_account) -> None:
    tenant, _, _ = make_account()
    _seed(engine, tenant, "d")
    with session_scope(engine) as session:
        token = session_token(session, session.get(User, tenant))
    client.cookies.set(accounts.SESSION_COOKIE, token)
    response = client.get("/api/export/costs.csv", params={"group_by": "model", "range": "30d"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment; filename=\"llmobserve-costs-" in response.headers["content-disposition"]
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(response.text))}
    assert rows["gpt-4o"]["cost_usd"] == "0.0045" and rows["nobody-prices-this"]["unpriced_calls"] == "1"
    as_json = client.get("/api/export/costs.json", params={"group_by": "model", "range": "30d"}).json()
    assert {row["name"]: row["cost_usd"] for row in as_json} == {n: r["cost_usd"] for n, r in rows.items()}
    assert client.get("/api/export/costs.csv", params={"group_by": "x"}).status_code == 422
    assert client.get("/api/export/secrets.csv").status_code == 404


def test_csv_writer_streams_in_chunks() -> None:
    records = ({"name": f"n{i}", "cost_usd": "0.1"} for i in range(20_000))
    chunks = list(exports.as_csv(records, ["name", "cost_usd"]))
    assert len(chunks) > 2  # flushed every 64 KiB, never one big string
    assert "".join(chunks).count("\n") == 20_001
    assert json.loads("".join(exports.as_json(iter([{"a": 1}, {"a": 2}])))) == [{"a": 1}, {"a": 2}]
