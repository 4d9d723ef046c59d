"""GET/PUT/DELETE /v1/prices with an API key: saved prices price the account's next events, 422 names the field,
another account's price is 404 and never applies to it, and the operations are in the OpenAPI document."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from ingest_api import create_ingest_app
from llmobserve_app import routes
from llmobserve_app.db import session_scope
from llmobserve_app.models import CapAlert, Event
from llmobserve_app.services import recalculation
from pricing import PRICE_DATA_VERSION
from tests.factories import event


@pytest.fixture
def client(database_url: str) -> TestClient:
    return TestClient(create_ingest_app(database_url))


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _stored(engine, tenant: int, span: str) -> tuple:
    with engine.connect() as connection:
        return tuple(connection.execute(sa.select(Event.cost_nanos, Event.priced, Event.price_id)
                                        .where(Event.tenant_id == tenant, Event.span_id == span)).one())


def test_put_list_price_and_delete(client, make_account, engine) -> None:
    tenant, _, key = make_account()
    body = {"provider": "ollama", "model": "llama3.1:8b", "input_per_mtok": "0", "output_per_mtok": "0.15",
            "per_request": "0.0001", "effective_from": "2026-01-01"}
    saved = client.put(routes.API_PRICES, json=body, headers=_auth(key))
    assert saved.status_code == 200, saved.text
    price = saved.json()
    assert price == {"id": price["id"], "provider": "ollama", "model": "llama3.1:8b", "input_per_mtok": "0",
                     "output_per_mtok": "0.15", "cached_input_per_mtok": None, "reasoning_per_mtok": None,
                     "per_request": "0.0001", "effective_from": "2026-01-01T00:00:00+00:00",
                     "created_at": price["created_at"], "price_id": f"price-{price['id']}"}
    assert client.get(routes.API_PRICES, headers=_auth(key)).json() == {"prices": [price]}

    call = event("llama-1", provider="ollama", model="llama3.1:8b",
                 usage={"input_tokens": 4000, "output_tokens": 2000}, started_at=datetime.now(UTC).isoformat())
    assert client.post(routes.API_EVENTS, json={"events": [call]}, headers=_auth(key)).json()["accepted"] == 1
    # 4000 * $0 + 2000 * $0.15 per 1M = $0.0003, + $0.0001 per request = $0.0004 = 400,000 nano-dollars
    expected_id = f"custom:ollama/llama3.1:8b@2026-01-01#price-{price['id']}"
    assert _stored(engine, tenant, "llama-1") == (400_000, True, expected_id)

    assert client.delete(routes.API_PRICE.format(price_id=price["id"]), headers=_auth(key)).status_code == 204
    assert client.get(routes.API_PRICES, headers=_auth(key)).json() == {"prices": []}
    again = client.delete(routes.API_PRICE.format(price_id=price["id"]), headers=_auth(key))
    assert again.status_code == 404 and again.json()["error"] == "price_not_found"
    call["span_id"] = "llama-2"
    client.post(routes.API_EVENTS, json={"events": [call]}, headers=_auth(key))
    assert _stored(engine, tenant, "llama-2") == (None, False, None)  # unpriced again, never $0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"input_per_mtok": "-1"}, "input_per_mtok"),
        ({"output_per_mtok": "1.5e3"}, "output_per_mtok"),
        ({"output_per_mtok": 1.5}, "output_per_mtok"),
        ({"cached_input_per_mtok": "3"}, "cached_input_per_mtok"),  # more than the input price
        ({"per_request": "0.0000000001"}, "per_request"),
        ({"effective_from": "yesterday"}, "effective_from"),
        ({"model": ""}, "model"),
        ({"model": "a\u0000b"}, "model"),
        ({"unknown_field": "1"}, "unknown_field"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_saves_nothing(client, make_account, change, field) -> None:
    _, _, key = make_account()
    body = {"model": "gpt-4o", "input_per_mtok": "2", "output_per_mtok": "8", **change}
    reply = client.put(routes.API_PRICES, json=body, headers=_auth(key))
    assert reply.status_code == 422, reply.text
    assert set(reply.json()) == {"error", "detail"} and field in reply.json()["detail"]
    assert client.get(routes.API_PRICES, headers=_auth(key)).json() == {"prices": []}


def test_accounts_are_isolated(client, make_account, engine) -> None:
    mine, _, my_key = make_account("mine")
    other, _, other_key = make_account("other")
    price = client.put(routes.API_PRICES, json={"provider": "openai", "model": "gpt-4o", "input_per_mtok": "0",
                                                "output_per_mtok": "0"}, headers=_auth(my_key)).json()
    assert client.get(routes.API_PRICES, headers=_auth(other_key)).json() == {"prices": []}
    stolen = client.delete(routes.API_PRICE.format(price_id=price["id"]), headers=_auth(other_key))
    assert stolen.status_code == 404
    call = {"provider": "openai", "model": "gpt-4o", "usage": {"input_tokens": 1_000_000}}
    client.post(routes.API_EVENTS, json={"events": [event("mine-1", **call)]}, headers=_auth(my_key))
    client.post(routes.API_EVENTS, json={"events": [event("other-1", **call)]}, headers=_auth(other_key))
    assert _stored(engine, mine, "mine-1")[:2] == (0, True)
    assert _stored(engine, other, "other-1") == (2_500_000_000, True, f"openai/gpt-4o@base#{PRICE_DATA_VERSION}")
    assert len(client.get(routes.API_PRICES, headers=_auth(my_key)).json()["prices"]) == 1


def test_routes_need_an_api_key(client) -> None:
    assert client.get(routes.API_PRICES).status_code == 401
    assert client.put(routes.API_PRICES, json={}).status_code == 401
    assert client.delete(routes.API_PRICE.format(price_id=1)).status_code == 401


def test_the_operations_are_described_in_openapi(client) -> None:
    paths = client.get(routes.API_OPENAPI).json()["paths"]
    assert {"get", "put"} <= set(paths[routes.API_PRICES]) and "delete" in paths[routes.API_PRICE]
    put = paths[routes.API_PRICES]["put"]
    assert "422" in put["responses"] and put["requestBody"]["required"]
    assert "404" in paths[routes.API_PRICE]["delete"]["responses"]


def test_recalculate_past_calls_in_the_background(client, make_account, engine) -> None:
    tenant, _, key = make_account()
    started = datetime.now(UTC).replace(microsecond=0)
    call = event("old-1", provider="ollama", model="llama3.1:8b", started_at=started.isoformat(),
                 usage={"input_tokens": 1_000_000, "output_tokens": 0})
    client.post(routes.API_EVENTS, json={"events": [call]}, headers=_auth(key))
    assert _stored(engine, tenant, "old-1") == (None, False, None)
    price = client.put(routes.API_PRICES, json={"provider": "ollama", "model": "llama3.1:8b",
                                                "input_per_mtok": "0.05", "output_per_mtok": "0"},
                       headers=_auth(key)).json()

    job = _recalculated(client, key, datetime.combine(started.date(), datetime.min.time(), UTC))
    job_url = routes.API_PRICES_RECALCULATION.format(job_id=job["id"])
    assert {k: job[k] for k in ("status", "events_seen", "calls_changed", "cost_before_usd", "cost_after_usd",
                                "unpriced_before", "unpriced_after")} == {
        "status": "done", "events_seen": 1, "calls_changed": 1, "cost_before_usd": "0", "cost_after_usd": "0.05",
        "unpriced_before": 1, "unpriced_after": 0}
    expected_id = f"custom:ollama/llama3.1:8b@base#price-{price['id']}"
    assert _stored(engine, tenant, "old-1") == (50_000_000, True, expected_id)

    _, _, other_key = make_account("other")
    assert client.get(job_url, headers=_auth(other_key)).status_code == 404
    bad = client.post(routes.API_PRICES_RECALCULATE, json={"from": "2026-13-01"}, headers=_auth(key))
    assert bad.status_code == 422 and "from" in bad.json()["detail"]
    inverted = client.post(routes.API_PRICES_RECALCULATE, json={"from": "2026-12-02", "to": "2026-12-01"},
                           headers=_auth(key))
    assert inverted.status_code == 422 and "from" in inverted.json()["detail"]


def _recalculated(client: TestClient, key: str, since: datetime) -> dict:
    reply = client.post(routes.API_PRICES_RECALCULATE, json={"from": since.isoformat()}, headers=_auth(key))
    assert reply.status_code == 202, reply.text
    job_url = routes.API_PRICES_RECALCULATION.format(job_id=reply.json()["id"])
    deadline = time.monotonic() + 30
    while (job := client.get(job_url, headers=_auth(key)).json())["status"] == "running":
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    return job


def test_a_cap_crossed_by_re_priced_calls_fires_once_and_blocks(client, make_account, engine) -> None:
    _, _, key = make_account()
    now = datetime.now(UTC).replace(microsecond=0)
    since = max(now - timedelta(minutes=5), now.replace(hour=0, minute=0, second=0))  # within today's cap period
    calls = [event(f"local-{i}", provider="ollama", model="llama3.1:8b", started_at=since.isoformat(),
                   usage={"input_tokens": 1_000_000, "output_tokens": 0}) for i in range(3)]
    assert client.post(routes.API_EVENTS, json={"events": calls}, headers=_auth(key)).status_code == 200
    created = client.post(routes.API_CAPS, headers=_auth(key), json={
        "scope": "global", "period": "day", "limit_usd": "0.10", "action": "block"})
    assert created.status_code == 201, created.text
    cap_id = created.json()["id"]
    assert client.get(routes.API_CAPS_STATUS, headers=_auth(key)).json() == {"blocked": []}  # unpriced: $0

    client.put(routes.API_PRICES, json={"provider": "ollama", "model": "llama3.1:8b", "input_per_mtok": "0.05",
                                        "output_per_mtok": "0"}, headers=_auth(key))
    job = _recalculated(client, key, since)
    assert (job["status"], job["calls_changed"], job["cost_after_usd"]) == ("done", 3, "0.15")  # over $0.10

    def exceeded() -> int:
        with engine.connect() as connection:
            return connection.execute(sa.select(sa.func.count()).select_from(CapAlert).where(
                CapAlert.cap_id == cap_id, CapAlert.level == "exceeded")).scalar_one()

    assert exceeded() == 1
    blocked = client.get(routes.API_CAPS_STATUS, headers=_auth(key)).json()["blocked"]
    assert [entry["scope"] for entry in blocked] == ["global"]
    assert _recalculated(client, key, since)["calls_changed"] == 0
    assert exceeded() == 1  # evaluated again, fired once


def test_a_second_recalculation_while_one_runs_is_409_naming_it(client, make_account, engine) -> None:
    tenant, _, key = make_account()
    now = datetime.now(UTC)
    with session_scope(engine) as session:  # a job left running (its runner busy elsewhere)
        running = recalculation.start(session, tenant, now - timedelta(days=1), now).id
    reply = client.post(routes.API_PRICES_RECALCULATE, json={"from": (now - timedelta(days=2)).date().isoformat()},
                        headers=_auth(key))
    assert reply.status_code == 409, reply.text
    assert reply.json()["error"] == "recalculation_running" and f"job {running}" in reply.json()["detail"]
    _, _, other_key = make_account("other")
    other = client.post(routes.API_PRICES_RECALCULATE, json={"from": now.date().isoformat()},
                        headers=_auth(other_key))
    assert other.status_code == 202, other.text
    recalculation.run(engine, running, pause=0)  # nothing left running for other tests' minute jobs
