"""make demo's data fills every page, infrastructure and caps included: ingested through the normal path, caps
fired through services/caps, then read back."""

from __future__ import annotations

import random
from datetime import timedelta

from llmobserve_app import demo
from llmobserve_app.db import session_scope
from llmobserve_app.models import utcnow
from llmobserve_app.services import analytics, notifications
from llmobserve_app.services.caps import crud
from llmobserve_app.services.caps.messages import SOURCE_KIND
from llmobserve_app.services.caps.overview import overviews
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


def test_demo_caps_one_near_its_limit_one_exceeded_with_their_alerts(engine, make_account) -> None:
    tenant, email, _ = make_account("demo-caps")
    events = demo._random_events(random.Random(7))
    now = utcnow()
    with session_scope(engine) as session:
        ingest_events(session, tenant, events[-1000:])  # the latest calls: today's spend
    caps = demo.seed_caps(engine, tenant, now)
    assert demo.seed_caps(engine, tenant, now) == []  # seeded once
    with session_scope(engine) as session:
        views = {view.cap.scope: view for view in overviews(session, crud.list_caps(session, tenant), now)}
        assert set(views) == {"customer", "model"} and len(caps) == 2
        near, over = views["customer"], views["model"]
        assert (near.status, near.cap.action, near.cap.period) == ("warning", "block", "day")
        assert 80 <= near.percent < 100 and abs(near.percent - demo.NEAR_LIMIT_PCT) < 1, near.percent
        assert (over.status, over.cap.action) == ("exceeded", "alert") and over.percent > 100
        alerts = crud.alert_history(session, tenant)
        assert sorted((alert.cap_id, alert.level) for alert in alerts) == sorted(
            [(near.cap.id, "threshold"), (over.cap.id, "threshold"), (over.cap.id, "exceeded")])
        deliveries = notifications.deliveries_for(session, tenant, SOURCE_KIND, [alert.id for alert in alerts])
        assert {alert.id for alert in alerts} == set(deliveries)
        for sent in deliveries.values():
            # the tests' settings, like the demo's, have no SendGrid: delivered as skipped, not left pending
            assert [(delivery.channel, delivery.status) for delivery in sent] == [("email", "skipped")], sent


def test_demo_caps_with_no_spend_yet_today_still_show_warning_and_exceeded(engine, make_account) -> None:
    tenant, _, _ = make_account("demo-dawn")  # like a demo run in the first minutes of a UTC day: nothing spent
    now = utcnow()
    assert len(demo.seed_caps(engine, tenant, now)) == 2
    with session_scope(engine) as session:
        statuses = sorted(view.status for view in overviews(session, crud.list_caps(session, tenant), now))
    assert statuses == ["exceeded", "warning"]
