"""make demo's data fills every page, infrastructure included: ingested through the normal path, then read back."""

from __future__ import annotations

import random
from datetime import timedelta

from llmobserve_app import demo
from llmobserve_app.db import session_scope
from llmobserve_app.models import utcnow
from llmobserve_app.services import analytics
from llmobserve_app.services.ingest.store import ingest_events


def test_demo_data_fills_llms_agents_customers_runs_and_infrastructure(engine, make_account) -> None:
    tenant, _, _ = make_account("demo")
    events = demo._random_events(random.Random(42))
    for offset in range(0, len(events), 1000):
        with session_scope(engine) as session:
            result = ingest_events(session, tenant, events[offset:offset + 1000])
            assert not result.rejected, result.rejected[:3]
    now = utcnow()
    scope = analytics.Scope(tenant, now - timedelta(days=31), now + timedelta(hours=1))
    with session_scope(engine) as session:
        services = {row.provider: row for row in analytics.infrastructure(session, scope)}
        assert set(services) == {"pinecone", "tavily", "deepgram"}
        assert services["pinecone"].units.keys() >= {"read_units", "write_units"}
        assert all(row.cost_nanos > 0 and row.unpriced_calls == 0 for row in services.values())
        agents = {row.name for row in analytics.cost_by(session, scope, "agent")}
        assert {"support", "research", "summarizer"} <= agents
        assert len([row for row in analytics.cost_by(session, scope, "customer") if row.name]) == len(demo.CUSTOMERS)
        assert {row.name for row in analytics.cost_by(session, scope, "provider")} >= {"openai", "anthropic", "google"}
