"""Every scope and period's derived spend equals a brute-force sum over the stored events (SQLite and
PostgreSQL): the rollups a cap reads are the right ones, period bounds included."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmobserve_app.db import session_scope
from llmobserve_app.models import Event
from llmobserve_app.services.caps import crud
from llmobserve_app.services.caps.evaluation import evaluate
from llmobserve_app.services.caps.periods import period_bounds
from llmobserve_app.services.caps.rules import rule_of
from llmobserve_app.services.caps.touched import agents_in
from llmobserve_app.services.ingest.store import ingest_events

# A Wednesday late in a month: day, week and month periods all hold earlier events and exclude some.
NOW = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)

random_event = st.fixed_dictionaries({
    "minutes_ago": st.integers(-60 * 30, 60 * 24 * 40),  # some in the future: outside the period's end
    "provider_model": st.sampled_from([("openai", "gpt-4o-mini"), ("openai", "gpt-4o"),
                                       ("anthropic", "claude-3-5-haiku-20241022"), ("openai", "no-such-model")]),
    "status_code": st.sampled_from([200, 200, 200, 500]),
    "customer_id": st.sampled_from([None, "c1", "c2", "c3"]),
    "section_path": st.sampled_from([None, "agent:a", "agent:a/tool:x", "agent:b/agent:a", "tool:z"]),
    "input_tokens": st.integers(0, 100_000),
    "output_tokens": st.integers(0, 10_000),
})
cap_spec = st.tuples(
    st.sampled_from([("global", ""), ("provider", "openai"), ("provider", "anthropic"), ("model", "gpt-4o"),
                     ("model", "no-such-model"), ("agent", "a"), ("agent", "b"), ("customer", "c1"),
                     ("customer", "c2"), ("customer", "*")]),
    st.sampled_from(["day", "week", "month"]),
)


def _event(drawn: dict) -> dict:
    started = NOW - timedelta(minutes=drawn["minutes_ago"])
    provider, model = drawn["provider_model"]
    return {"span_id": uuid.uuid4().hex, "started_at": started.isoformat(), "provider": provider, "model": model,
            "status_code": drawn["status_code"], "customer_id": drawn["customer_id"],
            "section_path": drawn["section_path"],
            "usage": {"input_tokens": drawn["input_tokens"], "output_tokens": drawn["output_tokens"]}}


def _brute(events: list[Event], scope: str, value: str, start: datetime, end: datetime) -> dict[str, tuple[int, int]]:
    """(priced cost, unpriced calls) per scope value ('' when not per customer), from the events themselves."""
    sums: dict[str, tuple[int, int]] = {}
    for event in events:
        if not start <= event.started_at < end:
            continue
        if scope == "provider" and event.provider != value or scope == "model" and event.model != value:
            continue
        if scope == "agent" and value not in agents_in(event.section_path):
            continue
        if scope == "customer" and (not event.customer_id or value != "*" and event.customer_id != value):
            continue
        key = event.customer_id if scope == "customer" and value == "*" else ""
        cost, unpriced = sums.get(key, (0, 0))
        sums[key] = (cost + (event.cost_nanos or 0 if event.priced else 0), unpriced + (0 if event.priced else 1))
    return sums


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=st.lists(random_event, min_size=1, max_size=50), specs=st.lists(cap_spec, min_size=1, max_size=6))
def test_spend_equals_brute_force_sum(engine, make_account, drawn, specs) -> None:
    tenant, _, _ = make_account()
    with session_scope(engine) as session:
        ingest_events(session, tenant, [_event(item) for item in drawn])
        rules = [rule_of(crud.create_cap(session, tenant, scope=scope, value=value, period=period,
                                         limit_usd="1000000", threshold_pct=1))
                 for (scope, value), period in specs]
    with session_scope(engine) as session:
        events = list(session.execute(sa.select(Event).where(Event.tenant_id == tenant)).scalars())
        statuses = evaluate(session, rules, NOW)
    for rule in rules:
        start, end = period_bounds(rule.period, NOW)
        expected = _brute(events, rule.scope, rule.value, start, end)
        got = {status.scope_value: (status.spend_nanos, status.unpriced_calls)
               for status in statuses if status.rule.id == rule.id}
        if rule.every_customer:  # only customers at or over the (1 nano-dollar) threshold are reported
            expected = {key: sums for key, sums in expected.items() if sums[0] >= rule.threshold_nanos}
        else:
            expected = {"": expected.get("", (0, 0))}
        assert got == expected, (rule.scope, rule.value, rule.period)
