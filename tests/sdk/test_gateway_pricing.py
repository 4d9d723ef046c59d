"""Issue 11's case, as a new user meets it: the real ``openai`` client sent through an OpenAI-compatible address
(a gateway the SDK does not know, here a loopback fake) with model ``gpt-4o-2024-08-06``. The SDK reports it as
provider ``openai-compatible``; the ingest API prices it at OpenAI's price under an ``inferred:`` price id."""

from __future__ import annotations

from collections.abc import Iterator

import llmobserve
import openai
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from ingest_api import create_ingest_app
from llmobserve_app.models import Event
from pricing import PRICE_DATA_VERSION

from .fakes.servers import FakeCollector, ProviderServer
from .helpers import drain, start


@pytest.fixture
def gateway() -> Iterator[ProviderServer]:
    server = ProviderServer(flavour="openai", echo_model=True)  # not in provider_hosts: an unknown host
    yield server
    server.stop()


def test_a_gateway_call_for_a_vendor_model_is_priced_as_inferred(
    collector: FakeCollector, providers, gateway: ProviderServer, database_url: str, make_account, engine
) -> None:
    start(collector, providers)
    try:
        client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-gateway", max_retries=0)
        client.chat.completions.create(model="gpt-4o-2024-08-06", messages=[{"role": "user", "content": "hi"}])
        client.chat.completions.create(model="llama3.1:8b", messages=[{"role": "user", "content": "hi"}])
        sent = drain(collector, 2)
    finally:
        llmobserve.shutdown(timeout=1.0)
    assert [(e["provider"], e["model"]) for e in sent] == [
        ("openai-compatible", "gpt-4o-2024-08-06"), ("openai-compatible", "llama3.1:8b")]

    tenant, _, key = make_account()
    reply = TestClient(create_ingest_app(database_url)).post(
        "/v1/events", json={"events": sent}, headers={"Authorization": f"Bearer {key}"})
    assert reply.status_code == 200 and reply.json()["accepted"] == 2, reply.text

    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(Event.model, Event.cost_nanos, Event.priced, Event.price_id)
            .where(Event.tenant_id == tenant).order_by(Event.model)).all()
    # usage 19 in (5 cached), 10 out (3 reasoning) at gpt-4o's $2.5 / $1.25 / $10 per 1M:
    # 14*2.5 + 5*1.25 + 10*10 = 141.25 per 1M = $0.00014125 = 141,250 nano-dollars
    assert [tuple(row) for row in rows] == [
        ("gpt-4o-2024-08-06", 141_250, True, f"inferred:openai/gpt-4o@base#{PRICE_DATA_VERSION}"),
        ("llama3.1:8b", None, False, None),  # a self-hosted model: unpriced, never $0
    ]
