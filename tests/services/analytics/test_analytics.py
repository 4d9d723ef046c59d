"""Dashboard aggregates over the rollups: windows, week over week, per-day series, breakdowns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from llmobserve_app.db import session_scope
from llmobserve_app.services import analytics
from llmobserve_app.services.ingest.store import ingest_events
from llmobserve_app.state import formatting as fmt
from tests.factories import event

NOW = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)


def _at(hours_ago: float, **overrides):
    return event(started_at=(NOW - timedelta(hours=hours_ago)).isoformat(), **overrides)


def test_summary_windows_and_week_over_week(engine, make_account) -> None:
    tenant, _, _ = make_account()
    events = [
        _at(1, run_id="a"),                        # in 24 h and 7 d
        _at(30, run_id="b"),                       # in 7 d only
        _at(200, run_id="old"),                    # previous 7 d
        _at(201),                                  # previous 7 d
        _at(2, model="unknown-model-zz"),          # unpriced, in 24 h
        _at(3, status_code=429),                   # failed, in 24 h
    ]
    with session_scope(engine) as session:
        ingest_events(session, tenant, events)
    with session_scope(engine) as session:
        summary = analytics.dashboard_summary(session, tenant, NOW)
    one = 270_000  # a gpt-4o-mini call of the test event: 1000 in, 200 out
    assert summary.last_24h.cost_nanos == one and summary.last_24h.calls == 3
    assert summary.last_24h.unpriced_calls == 1 and summary.last_24h.failed_calls == 1
    assert summary.last_7d.cost_nanos == 2 * one and summary.last_7d.calls == 4
    assert summary.previous_7d.cost_nanos == 2 * one
    assert summary.week_over_week == 0
    assert summary.runs_7d == 2 and summary.has_any_data


def test_empty_account(engine, make_account) -> None:
    tenant, _, _ = make_account()
    with session_scope(engine) as session:
        summary = analytics.dashboard_summary(session, tenant, NOW)
        assert not summary.has_any_data and summary.week_over_week is None
        start = analytics.window_start(NOW, 24 * 7)
        days = analytics.cost_over_time(session, analytics.Scope(tenant, start, NOW), hourly=False)
        assert len(days) == 8 and all(cost == 0 for _, cost in days)  # 168 h touch 8 calendar days
        assert analytics.recent_runs(session, tenant) == []


def test_cost_per_day_and_breakdowns(engine, make_account) -> None:
    tenant, _, _ = make_account()
    with session_scope(engine) as session:
        ingest_events(session, tenant, [
            _at(1), _at(1, model="gpt-4o"), _at(25), _at(26, provider="anthropic", model="claude-3-5-haiku-20241022"),
        ])
    end = NOW + timedelta(hours=1)
    start = analytics.window_start(NOW, 24 * 7)
    scope = analytics.Scope(tenant, start, end)
    with session_scope(engine) as session:
        days = dict(analytics.cost_over_time(session, scope))
        providers = analytics.cost_by(session, scope, "provider")
        models = analytics.cost_by(session, scope, "model")
    today = NOW.replace(hour=0, minute=0)
    assert set(days) >= {today, today - timedelta(days=1)}
    assert sum(days.values()) == sum(row.cost_nanos for row in providers)
    costs = [row.cost_nanos for row in providers]
    assert costs == sorted(costs, reverse=True)
    assert {row.name for row in models} == {"gpt-4o-mini", "gpt-4o", "claude-3-5-haiku-20241022"}
    assert next(r for r in models if r.name == "gpt-4o-mini").calls == 2


def test_infrastructure_reports_units_and_leaves_llms_alone(engine, make_account) -> None:
    tenant, _, _ = make_account()
    with session_scope(engine) as session:
        ingest_events(session, tenant, [
            _at(1, provider="pinecone", model="serverless", usage={"units": {"read_units": 5}}, customer_id="c1"),
            _at(2, provider="pinecone", model="serverless", usage={"units": {"read_units": 7, "write_units": 2}}),
            _at(1),
        ])
    scope = analytics.Scope(tenant, NOW - timedelta(days=1), NOW + timedelta(hours=1))
    with session_scope(engine) as session:
        (pinecone,) = analytics.infrastructure(session, scope)
        (only_c1,) = analytics.infrastructure(session, analytics.Scope(tenant, scope.start, scope.end, "c1"))
        models = analytics.models(session, scope)
    assert pinecone.provider == "pinecone" and pinecone.calls == 2
    assert pinecone.units == {"read_units": 12, "write_units": 2}
    assert only_c1.units == {"read_units": 5}
    assert [m.model for m in models] == ["gpt-4o-mini"]


def test_runs_count_stops_at_its_limit(engine, make_account) -> None:
    tenant, _, _ = make_account()
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        ingest_events(session, tenant, [event(f"rc{n}", run_id=f"run-{n}", started_at=(now - timedelta(minutes=n))
                                              .isoformat()) for n in range(7)])
    scope = analytics.Scope(tenant, now - timedelta(days=1), now + timedelta(hours=1))
    with session_scope(engine) as session:
        exact = analytics.runs_page(session, scope, page_size=2)
        limited = analytics.runs_page(session, scope, page_size=2, count_limit=4)
        far = analytics.runs_page(session, scope, page=2, page_size=2, count_limit=4)
    assert (exact.total, exact.more) == (7, False)
    assert (limited.total, limited.more, len(limited.rows)) == (4, True, 2)
    assert (far.total, far.more, [run.run_id for run in far.rows]) == (7, False, ["run-4", "run-5"])
    assert fmt.page_label(0, 2, limited.total, "runs", limited.more) == "1–2 of 4+"
