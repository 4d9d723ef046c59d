"""A served ingest API follows PRICING_URL data accepted by another process (its background thread applies it),
and no ingest request reads ``price_data_updates``."""

from __future__ import annotations

import threading
import time
from decimal import Decimal as D

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import pricing
from ingest_api import create_ingest_app
from llmobserve_app import routes
from llmobserve_app.models import Event
from llmobserve_app.services import price_updates
from tests.factories import event

MILLION_IN = {"input_tokens": 1_000_000}


def test_ingest_prices_with_newly_accepted_data_without_reading_it_per_batch(
        database_url, engine, make_account, fetched_prices, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(price_updates, "REFRESH_SECONDS", 0.05)
    tenant, _, key = make_account()
    price_reads: list[str] = []

    def watch(_conn, _cursor, statement: str, *_args: object) -> None:
        if "price_data_updates" in statement and statement.lstrip().upper().startswith("SELECT"):
            price_reads.append(threading.current_thread().name)

    sa.event.listen(engine, "before_cursor_execute", watch)
    try:
        with TestClient(create_ingest_app(database_url)) as client:  # its lifespan starts the refresh thread
            fetched_prices("2026-12-03.1", "4")
            deadline = time.monotonic() + 10
            while pricing.compute_cost("openai", "gpt-4o", MILLION_IN).usd != D("4"):
                assert time.monotonic() < deadline, "the accepted data was never applied"
                time.sleep(0.01)
            assert "price-data-refresh" in price_reads  # the refresh thread found it
            price_reads.clear()
            reply = client.post(routes.API_EVENTS, headers={"Authorization": f"Bearer {key}"}, json={
                "events": [event("refreshed-1", provider="openai", model="gpt-4o", usage=MILLION_IN)]})
            assert reply.status_code == 200 and reply.json()["accepted"] == 1
            assert set(price_reads) <= {"price-data-refresh"}  # the request read nothing of it
    finally:
        sa.event.remove(engine, "before_cursor_execute", watch)
    with engine.connect() as connection:
        stored = connection.execute(sa.select(Event.cost_nanos, Event.price_id).where(
            Event.tenant_id == tenant, Event.span_id == "refreshed-1")).one()
    assert tuple(stored) == (4_000_000_000, "remote:openai/gpt-4o@base#2026-12-03.1")
