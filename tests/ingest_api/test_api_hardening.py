"""Regression tests of the API's security probe: no unhandled 500 (deep JSON, edge dates), one error shape
everywhere, CSV cells that cannot run as formulas, and docs served without a CDN."""

from __future__ import annotations

import csv
import io
import logging
import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from ingest_api import create_ingest_app
from llmobserve_app import routes
from llmobserve_app.db import get_engine, migrate, session_scope
from llmobserve_app.models import User
from llmobserve_app.services import accounts, exports
from llmobserve_app.services.ingest.schema import NUL_MESSAGE
from llmobserve_app.services.ingest.store import ingest_events
from llmobserve_app.services.time_range import resolve_range
from tests.factories import event, session_token


@pytest.fixture
def client(database_url: str) -> TestClient:
    return TestClient(create_ingest_app(database_url))


@pytest.fixture
def signed_in(client: TestClient, engine, make_account) -> int:
    """Sign the client in (session cookie, as the pages do); returns the account's id."""
    user_id, _, _ = make_account("exporter")
    with session_scope(engine) as session:
        client.cookies.set(accounts.SESSION_COOKIE, session_token(session, session.get(User, user_id)))
    return user_id


def _is_api_error(response, status: int, code: str | None = None) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "detail"} and all(isinstance(value, str) for value in body.values()), body
    if code is not None:
        assert body["error"] == code, body
    return body


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_deeply_nested_json_is_a_422_naming_the_problem(client, make_account, depth, opening) -> None:
    _, _, key = make_account()
    closing = "]" if opening == "[" else "}"
    body = '{"events": [' + opening * depth + "1" + closing * depth + "]}"
    response = client.post("/v1/events", content=body, headers={"Authorization": f"Bearer {key}"})
    assert "too deeply" in _is_api_error(response, 422, "json_too_deep")["detail"]


def test_an_ignored_field_nested_as_deep_as_json_allows_is_walked_without_recursion(client, make_account) -> None:
    """600 levels decode, but walking them recursively (two frames a level) exceeded Python's limit."""
    _, _, key = make_account()
    deep = "[" * 600 + '"\\u0000"' + "]" * 600
    body = '{"events": [{"span_id": "deep", "started_at": "2026-11-01T00:00:00Z", "provider": "openai", ' \
           f'"extra": {deep}}}]}}'
    response = client.post("/v1/events", content=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    assert response.json()["rejected"] == [{"index": 0, "error": NUL_MESSAGE}]


def test_a_call_longer_than_the_latency_column_holds_is_rejected_naming_ended_at(client, make_account) -> None:
    """Found by the schemathesis fuzz test: PostgreSQL refused the whole batch (latency_ms is INTEGER)."""
    _, _, key = make_account()
    long_call = event(started_at="2025-01-01T00:00:00Z", ended_at="2026-01-01T00:00:00Z")
    response = client.post("/v1/events", json={"events": [long_call, event()]},
                           headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 1 and body["rejected"][0]["index"] == 0
    assert "ended_at" in body["rejected"][0]["error"]


@pytest.mark.parametrize(("params", "field"), [
    ({"to": "9999-12-31"}, "to"),
    ({"from": "0001-01-01T00:00:00+14:00"}, "from"),
    ({"from": "9999-12-31T23:00:00-14:00"}, "from"),
    ({"to": "0001-01-05"}, "to"),  # the default start, 30 days earlier, was before year 1
])
def test_usage_dates_at_the_edge_are_a_422_naming_the_parameter(client, make_account, params, field) -> None:
    _, _, key = make_account()
    response = client.get("/v1/usage", params=params, headers={"Authorization": f"Bearer {key}"})
    assert _is_api_error(response, 422, "invalid_date")["detail"].startswith(f"{field}: ")


@pytest.mark.parametrize("export", ["runs.csv", "runs.json", "costs.csv", "costs.json"])
@pytest.mark.parametrize(("params", "field"), [
    ({"range": "custom", "from": "9999-12-31", "to": "9999-12-31"}, "from"),
    ({"range": "custom", "from": "2026-01-01", "to": "9999-12-31"}, "to"),
    ({"to": "9999-12-31"}, "from"),  # from/to without a range mean a custom one, which needs both
    ({"from": "0001-01-01T00:00:00+14:00", "to": "2026-01-01"}, "from"),
    ({"range": "fortnight"}, "range"),
])
def test_export_dates_at_the_edge_are_a_422_naming_the_parameter(client, signed_in, export, params, field) -> None:
    response = client.get(f"/api/export/{export}", params=params)
    assert _is_api_error(response, 422, "invalid_range")["detail"].startswith(f"{field}: ")


def test_every_error_has_the_one_documented_shape(client, make_account) -> None:
    _, _, key = make_account()
    headers = {"Authorization": f"Bearer {key}"}
    too_long = client.get("/v1/usage", params={"customer_id": "x" * 201}, headers=headers)
    assert _is_api_error(too_long, 422, "invalid_request")["detail"].startswith("query.customer_id: ")
    assert "x" * 201 not in too_long.text  # the input is not echoed back
    _is_api_error(client.get("/v1/nothing-here"), 404, "not_found")
    _is_api_error(client.delete("/v1/usage", headers=headers), 405, "method_not_allowed")
    _is_api_error(client.get("/v1/usage"), 401, "missing_api_key")
    _is_api_error(client.get("/api/export/runs.csv"), 401, "not_signed_in")


def test_an_unexpected_exception_is_a_logged_json_500_that_leaks_nothing(tmp_path, caplog) -> None:
    """A database without tables: verifying the key fails inside SQLAlchemy, which no route expects."""
    client = TestClient(create_ingest_app(f"sqlite:///{tmp_path / 'no-tables.db'}"), raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="ingest_api.deps"):
        response = client.get("/v1/caps/status", headers={"Authorization": "Bearer llmo_sk_whatever"})
    body = _is_api_error(response, 500, "internal_error")
    assert "api_keys" not in response.text and "sqlite" not in response.text.lower() and "Traceback" not in body
    assert any(record.exc_info and "no such table" in str(record.exc_info[1]) for record in caplog.records)


@pytest.mark.parametrize(("path", "name"), [
    ("/v1/usage", "customer_id"), ("/api/export/runs.csv", "search"), ("/api/export/costs.json", "customer"),
])
def test_a_nul_in_a_query_parameter_is_a_422_naming_it(client, make_account, signed_in, path, name) -> None:
    """PostgreSQL text cannot hold NUL: /v1/usage was a 500, and an export a 200 cut short mid-stream."""
    _, _, key = make_account()
    response = client.get(path, params={name: "a\x00b"}, headers={"Authorization": f"Bearer {key}"})
    assert _is_api_error(response, 422, "invalid_request")["detail"] == f"query.{name}: must not contain NUL characters"


@pytest.mark.parametrize("export", ["runs.csv", "runs.json"])
def test_an_export_whose_query_fails_is_a_json_500_not_a_200_cut_short(tmp_path, export) -> None:
    url = f"sqlite:///{tmp_path / 'broken.db'}"
    migrate(url)
    with session_scope(get_engine(url)) as session:
        user = accounts.signup(session, "broken@example.com", "correct horse", "Broken")
        token = session_token(session, user)
        session.execute(sa.text("DROP TABLE runs"))
    client = TestClient(create_ingest_app(url), raise_server_exceptions=False,
                        cookies={accounts.SESSION_COOKIE: token})
    _is_api_error(client.get(f"/api/export/{export}"), 500, "internal_error")
    get_engine(url).dispose()


FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


@pytest.mark.parametrize(("value", "written"), [
    *((formula, "'" + formula) for formula in FORMULAS),
    ("ok\r=1+1", "ok\r=1+1"),  # a CR inside a cell is quoted: it cannot end the row and start one with =
    ("ok", "ok"), ("a-b", "a-b"),
])
def test_a_csv_cell_that_starts_like_a_formula_is_prefixed_with_a_quote(value, written) -> None:
    text = "".join(exports.as_csv([{"name": value, "cost_usd": "0.5", "calls": 3}], ["name", "cost_usd", "calls"]))
    assert list(csv.DictReader(io.StringIO(text, newline=""))) == [{"name": written, "cost_usd": "0.5", "calls": "3"}]


def test_runs_and_costs_csv_neutralise_user_supplied_cells(client, engine, signed_in) -> None:
    with session_scope(engine) as session:
        ingest_events(session, signed_in, [
            event(customer_id=FORMULAS[0], run_id="=cmd|' /C calc'!A0", section_path="agent:@evil"),
            event(customer_id="acme", run_id="ok-run", model="-model"),
        ])
    runs = list(csv.DictReader(io.StringIO(client.get("/api/export/runs.csv").text, newline="")))
    by_run = {row["run_id"]: row for row in runs}
    assert set(by_run) == {"'=cmd|' /C calc'!A0", "ok-run"}
    assert by_run["'=cmd|' /C calc'!A0"]["customer_id"] == "'" + FORMULAS[0]
    assert by_run["'=cmd|' /C calc'!A0"]["agent"] == "'@evil"
    for group_by, expected in (("customer", {"'" + FORMULAS[0], "acme"}), ("agent", {"'@evil", "untracked"}),
                               ("model", {"'-model", "gpt-4o-mini"})):
        text = client.get("/api/export/costs.csv", params={"group_by": group_by}).text
        assert {row["name"] for row in csv.DictReader(io.StringIO(text, newline=""))} == expected
    # JSON is data, not a spreadsheet: its values stay exactly as sent.
    assert {row["customer_id"] for row in client.get("/api/export/runs.json").json()} == {FORMULAS[0], "acme"}


def test_docs_load_swagger_ui_from_this_server_not_a_cdn(client) -> None:
    page = client.get(routes.API_DOCS)
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert {asset.rsplit(".", 1)[-1] for asset in assets} >= {"js", "css"}
    for asset in assets:
        assert asset.startswith("/"), f"{asset} is not served by this app"
        assert client.get(asset).status_code == 200
    assert "cdn." not in page.text and "https://" not in page.text


def test_openapi_describes_the_event_body_from_the_wire_models(client) -> None:
    spec = client.get(routes.API_OPENAPI).json()
    body = spec["paths"][routes.API_EVENTS]["post"]["requestBody"]["content"]["application/json"]["schema"]
    event_schema = body["properties"]["events"]["items"]
    assert {"span_id", "started_at", "provider"} <= set(event_schema["required"])
    assert {"run_id", "model", "customer_id", "section_path", "tags", "usage"} <= set(event_schema["properties"])
    assert "input_tokens" in event_schema["properties"]["usage"]["properties"]
    assert "$ref" not in str(body) and "DESIGN.md" not in str(body)
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_the_pages_range_filter_falls_back_instead_of_overflowing() -> None:
    """The same parser serves the pages' URL filter, which must never raise (year 9999 overflowed)."""
    now = datetime(2026, 11, 15, 10, 30, tzinfo=UTC)
    window = resolve_range("custom", "9999-12-31", "9999-12-31", now=now)
    assert window.key == "7d" and window.error == ("Custom range must lie between 1970-01-01 and 2027-11-16: "
                                                   "showing the last 7 days.")
    assert resolve_range("custom", "2026-11-01", "2026-11-03", now=now).end == datetime(2026, 11, 4, tzinfo=UTC)
