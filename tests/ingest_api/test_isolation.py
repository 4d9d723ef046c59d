"""Tenant isolation: two accounts with data never see each other's, through services or the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from ingest_api import create_ingest_app
from llmobserve_app.db import session_scope
from llmobserve_app.services import analytics, api_keys
from tests.factories import event


def test_two_accounts_never_see_each_others_data(database_url, engine, make_account) -> None:
    client = TestClient(create_ingest_app(database_url))
    alice, _, alice_key = make_account("alice")
    bob, _, bob_key = make_account("bob")
    alice_events = [event(run_id="alice-run", customer_id="alice-customer") for _ in range(3)]
    bob_events = [event(run_id="bob-run", model="gpt-4o", customer_id="bob-customer") for _ in range(5)]
    # Same span ids across tenants must not collide or leak either.
    bob_events[0]["span_id"] = alice_events[0]["span_id"]
    assert client.post("/v1/events", json={"events": alice_events},
                       headers={"Authorization": f"Bearer {alice_key}"}).json()["accepted"] == 3
    assert client.post("/v1/events", json={"events": bob_events},
                       headers={"Authorization": f"Bearer {bob_key}"}).json()["accepted"] == 5

    now = datetime.now(UTC)
    start, end = analytics.window_start(now, 24 * 7), now + timedelta(hours=1)
    with session_scope(engine) as session:
        for tenant, calls, run, model, customer in ((alice, 3, "alice-run", "gpt-4o-mini", "alice-customer"),
                                                   (bob, 5, "bob-run", "gpt-4o", "bob-customer")):
            assert analytics.dashboard_summary(session, tenant, now).last_7d.calls == calls
            assert [r.run_id for r in analytics.recent_runs(session, tenant)] == [run]
            scope = analytics.Scope(tenant, start, end)
            assert [r.name for r in analytics.cost_by(session, scope, "model")] == [model]
            assert [r.name for r in analytics.cost_by(session, scope, "customer")] == [customer]
            assert all(k.user_id == tenant for k in api_keys.list_api_keys(session, tenant))


def test_every_page_query_is_scoped_to_its_tenant(engine, make_account) -> None:
    """What each page's handler calls, asked for a tenant with no data, returns none of another's."""
    from llmobserve_app.services.ingest.store import ingest_events

    alice, _, _ = make_account("alice")
    bob, _, _ = make_account("bob")
    with session_scope(engine) as session:
        ingest_events(session, alice, [event(run_id="secret-run", customer_id="secret-customer",
                                             section_path="agent:secret/tool:t"),
                                       event(provider="pinecone", model="serverless", customer_id="secret-customer")])
    now = datetime.now(UTC)
    for customer in (None, "secret-customer"):
        scope = analytics.Scope(bob, now - timedelta(days=30), now + timedelta(hours=1), customer)
        with session_scope(engine) as session:
            assert analytics.totals(session, scope).calls == 0
            assert all(analytics.cost_by(session, scope, dim, limit=None) == [] for dim in analytics.GROUP_BY)
            assert analytics.customers_page(session, scope).rows == []
            assert analytics.customer_ids(session, bob) == []
            assert analytics.agents(session, scope) == []
            assert analytics.models(session, scope) == [] and analytics.infrastructure(session, scope) == []
            assert analytics.runs_page(session, scope).total == 0
            assert list(analytics.iter_runs(session, scope)) == []
            assert analytics.run_detail(session, bob, "secret-run") is None
            assert analytics.recent_runs(session, bob) == []
            found = analytics.insights(session, bob, customer_id=customer)
            assert found.movers == [] and found.top_customers == [] and found.unpriced_models == []
            assert not analytics.dashboard_summary(session, bob, customer_id=customer).has_any_data
    with session_scope(engine) as session:  # and alice does see her own
        assert analytics.run_detail(session, alice, "secret-run") is not None
