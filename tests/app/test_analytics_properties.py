"""Every aggregate equals a brute-force computation over the same random events (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmobserve_app.db import session_scope
from llmobserve_app.services import analytics
from llmobserve_app.services.events import agent_of, ingest_events
from llmobserve_app.services.money import usd_to_nanos
from pricing import compute_cost

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

random_event = st.fixed_dictionaries({
    "minutes_ago": st.integers(0, 60 * 24 * 10),
    "provider_model": st.sampled_from([("openai", "gpt-4o-mini"), ("openai", "gpt-4o"), ("pinecone", "serverless"),
                                       ("anthropic", "claude-3-5-haiku-20241022"), ("openai", "no-such-model")]),
    "status_code": st.sampled_from([200, 200, 200, 429, 500]),
    "customer_id": st.sampled_from([None, "c1", "c2", "c3"]),
    "section_path": st.sampled_from([None, "agent:a", "agent:a/tool:x", "agent:b/tool:y", "tool:z"]),
    "run_id": st.sampled_from([None, "r1", "r2"]),
    "input_tokens": st.integers(0, 100_000),
    "output_tokens": st.integers(0, 10_000),
    "latency_ms": st.integers(0, 5_000),
})


def _materialise(drawn: dict) -> dict:
    started = NOW - timedelta(minutes=drawn["minutes_ago"])
    provider, model = drawn["provider_model"]
    return {"span_id": uuid.uuid4().hex, "run_id": drawn["run_id"], "started_at": started.isoformat(),
            "ended_at": (started + timedelta(milliseconds=drawn["latency_ms"])).isoformat(),
            "provider": provider, "model": model, "status_code": drawn["status_code"],
            "customer_id": drawn["customer_id"], "section_path": drawn["section_path"],
            "usage": {"input_tokens": drawn["input_tokens"], "output_tokens": drawn["output_tokens"]}}


def _brute(events: list[dict], start: datetime, end: datetime, customer: str | None = None) -> list[dict]:
    """Each event in the window with its cost worked out independently of the rollups."""
    rows = []
    for event in events:
        started = datetime.fromisoformat(event["started_at"])
        hour = started.replace(minute=0, second=0, microsecond=0)
        if not start <= hour < end or (customer is not None and event["customer_id"] != customer):
            continue
        failed = event["status_code"] >= 400
        cost = None if failed else compute_cost(event["provider"], event["model"], event["usage"], at=started)
        priced = failed or cost.priced
        rows.append({**event, "hour": hour, "failed": failed, "priced": priced,
                     "cost": 0 if failed or not priced else usd_to_nanos(cost.usd),
                     "agent": agent_of(event["section_path"]) or analytics.UNTRACKED,
                     "latency": int((datetime.fromisoformat(event["ended_at"]) - started).total_seconds() * 1000)})
    return rows


def _sum_by(rows: list[dict], key) -> dict:  # noqa: ANN001
    sums: dict = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        bucket = sums[key(row)]
        bucket[0] += row["cost"]
        bucket[1] += 1
        bucket[2] += 0 if row["priced"] else 1
    return dict(sums)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=st.lists(random_event, min_size=1, max_size=60), window_days=st.sampled_from([1, 3, 7, 10]),
       customer=st.sampled_from([None, "c1", "c2"]))
def test_aggregates_equal_brute_force(engine, make_account, drawn, window_days, customer) -> None:
    tenant, _, _ = make_account()
    events = [_materialise(item) for item in drawn]
    with session_scope(engine) as session:
        ingest_events(session, tenant, events)
    end = NOW + timedelta(hours=1)
    start = end - timedelta(days=window_days)
    scope = analytics.Scope(tenant, start, end, customer)
    expected = _brute(events, start, end, customer)

    with session_scope(engine) as session:
        totals = analytics.totals(session, scope)
        by = {dim: {row.name: [row.cost_nanos, row.calls, row.unpriced_calls]
                    for row in analytics.cost_by(session, scope, dim, limit=None)} for dim in analytics.GROUP_BY}
        days = dict(analytics.cost_over_time(session, scope, hourly=False))
        customers = analytics.customers_page(session, scope, page_size=1000)
        agents = {row.agent: row for row in analytics.agents(session, scope)}
        models = {(row.provider, row.model): row for row in analytics.models(session, scope)}
        infra = {row.provider: row.cost_nanos for row in analytics.infrastructure(session, scope)}
        runs = analytics.runs_page(session, scope, page_size=100)

    assert totals.cost_nanos == sum(r["cost"] for r in expected)
    assert totals.calls == len(expected)
    assert totals.failed_calls == sum(r["failed"] for r in expected)
    assert totals.unpriced_calls == sum(not r["priced"] for r in expected)
    assert totals.latency_ms_sum == sum(r["latency"] for r in expected)
    assert by["provider"] == _sum_by(expected, lambda r: r["provider"])
    assert by["model"] == _sum_by(expected, lambda r: r["model"])
    assert by["customer"] == _sum_by(expected, lambda r: r["customer_id"] or "")
    assert by["agent"] == _sum_by(expected, lambda r: r["agent"])
    assert by["day"] == _sum_by(expected, lambda r: r["hour"].date().isoformat())
    assert sum(days.values()) == totals.cost_nanos
    for day, cost in days.items():
        assert cost == sum(r["cost"] for r in expected if r["hour"].replace(hour=0) == day)

    with_customer = [r for r in expected if r["customer_id"]]
    assert customers.total_customers == len({r["customer_id"] for r in with_customer})
    assert customers.total_cost_nanos == sum(r["cost"] for r in with_customer)
    assert [row.cost_nanos for row in customers.rows] == sorted((row.cost_nanos for row in customers.rows),
                                                                reverse=True)
    for row in customers.rows:
        mine = [r for r in with_customer if r["customer_id"] == row.customer_id]
        assert (row.cost_nanos, row.calls) == (sum(r["cost"] for r in mine), len(mine))
        assert set(row.providers) == {r["provider"] for r in mine}
        assert row.first_seen == min(r["hour"] for r in mine) and row.last_seen == max(r["hour"] for r in mine)

    for name, row in agents.items():
        mine = [r for r in expected if r["agent"] == name]
        assert (row.cost_nanos, row.calls, row.latency_ms_sum) == (
            sum(r["cost"] for r in mine), len(mine), sum(r["latency"] for r in mine))
        assert row.tools == {seg[5:] for r in mine for seg in (r["section_path"] or "").split("/")
                             if seg.startswith("tool:")}
    assert set(agents) == {r["agent"] for r in expected}

    llm = [r for r in expected if r["provider"] not in analytics.INFRA_PROVIDERS]
    assert {k: (m.cost_nanos, m.calls, m.input_tokens, m.output_tokens) for k, m in models.items()} == {
        key: (sum(r["cost"] for r in rows), len(rows), sum(r["usage"]["input_tokens"] for r in rows),
              sum(r["usage"]["output_tokens"] for r in rows))
        for key in {(r["provider"], r["model"]) for r in llm}
        for rows in [[r for r in llm if (r["provider"], r["model"]) == key]]}
    assert infra == {p: sum(r["cost"] for r in expected if r["provider"] == p)
                     for p in {r["provider"] for r in expected if r["provider"] in analytics.INFRA_PROVIDERS}}

    # A run is listed when its span of calls overlaps the window; its customer is the first one it named.
    spans: dict[str, list] = {}
    for event in events:
        if not event["run_id"]:
            continue
        began, ended = datetime.fromisoformat(event["started_at"]), datetime.fromisoformat(event["ended_at"])
        span = spans.setdefault(event["run_id"], [began, ended, event["customer_id"]])
        span[0], span[1], span[2] = min(span[0], began), max(span[1], ended), span[2] or event["customer_id"]
    expected_runs = {run_id for run_id, (began, ended, owner) in spans.items()
                     if ended >= start and began < end and (customer is None or owner == customer)}
    assert runs.total == len(expected_runs)
    assert {run.run_id for run in runs.rows} == expected_runs
