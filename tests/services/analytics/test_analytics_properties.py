"""Every aggregate equals a brute-force computation over the same random events (SQLite and PostgreSQL).

The customer dimension is also checked through its per-customer range bases (services/customer_ranges.py):
with the clock frozen, over windows whose closed part is served pre-summed, before and after late events.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmobserve_app.db import session_scope
from llmobserve_app.services import analytics, customer_ranges
from llmobserve_app.services.analytics import per_customer
from llmobserve_app.services.ingest.rows import agent_of
from llmobserve_app.services.ingest.store import ingest_events
from llmobserve_app.services.money import usd_to_nanos
from llmobserve_app.services.time_range import day_floor, hour_floor, resolve_range
from pricing import compute_cost

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

_FIELDS = {
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
    "read_units": st.integers(1, 50),
}
random_event = st.fixed_dictionaries(_FIELDS)
# Over 40 days and a dozen customers: every named window has closed days (hours) and an open part.
spread_event = st.fixed_dictionaries({
    **_FIELDS,
    "minutes_ago": st.one_of(st.integers(0, 60 * 24 * 40), st.integers(0, 60 * 30)),
    "customer_id": st.sampled_from([None, *(f"c{n}" for n in range(1, 13))]),
})


def _materialise(drawn: dict, now: datetime = NOW) -> dict:
    started = now - timedelta(minutes=drawn["minutes_ago"])
    provider, model = drawn["provider_model"]
    return {"span_id": uuid.uuid4().hex, "run_id": drawn["run_id"], "started_at": started.isoformat(),
            "ended_at": (started + timedelta(milliseconds=drawn["latency_ms"])).isoformat(),
            "provider": provider, "model": model, "status_code": drawn["status_code"],
            "customer_id": drawn["customer_id"], "section_path": drawn["section_path"],
            "usage": {"input_tokens": drawn["input_tokens"], "output_tokens": drawn["output_tokens"],
                      **({"units": {"read_units": drawn["read_units"]}} if provider == "pinecone" else {})}}


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


def _sum_by(rows: list[dict], key) -> dict:
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
        agent_rows, trend = analytics.agents_with_trend(session, scope)
        agents = {row.agent: row for row in agent_rows}
        models = {(row.provider, row.model): row for row in analytics.models(session, scope)}
        infra_rows = analytics.infrastructure(session, scope)
        infra = {row.provider: row.cost_nanos for row in infra_rows}
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
    assert list(trend) == [row.agent for row in agent_rows[:5]]
    for name, series in trend.items():  # every day of the window, summing to the agent's cost
        assert [day for day, _ in series][0] == start.replace(hour=0) and len({day for day, _ in series}) == len(series)
        assert sum(cost for _, cost in series) == agents[name].cost_nanos
    read_units = sum(r["usage"].get("units", {}).get("read_units", 0) for r in expected)
    assert {row.provider: row.units for row in infra_rows if row.units} == (
        {"pinecone": {"read_units": read_units}} if read_units else {})

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


# --- the customer dimension through per-customer range bases ---------------------------------------------

def _expected_customers(events: list[dict], scope: analytics.Scope, now: datetime) -> dict[str, dict]:
    """Per customer ('' for calls without one) in the window: sums, first/last seen as the pages define them
    (exact call times over whole UTC days, else to the hour) and providers."""
    whole_days = scope.start == day_floor(scope.start) and (
        scope.end == day_floor(scope.end) or scope.end >= hour_floor(now) + timedelta(hours=1))
    found: dict[str, dict] = {}
    for row in _brute(events, scope.start, scope.end):
        seen = datetime.fromisoformat(row["started_at"]) if whole_days else row["hour"]
        mine = found.setdefault(row["customer_id"] or "", {
            "cost": 0, "calls": 0, "unpriced": 0, "failed": 0, "input": 0, "output": 0, "latency": 0,
            "first": seen, "last": seen, "providers": set()})
        mine["cost"] += row["cost"]
        mine["calls"] += 1
        mine["unpriced"] += 0 if row["priced"] else 1
        mine["failed"] += row["failed"]
        mine["input"] += row["usage"]["input_tokens"]
        mine["output"] += row["usage"]["output_tokens"]
        mine["latency"] += row["latency"]
        mine["first"], mine["last"] = min(mine["first"], seen), max(mine["last"], seen)
        mine["providers"].add(row["provider"])
    if whole_days:  # the daily rollup leaves calls without a customer out of the customer dimension
        found.pop("", None)
    return found


def _expected_page(found: dict[str, dict], dialect: str, search: str, sort: str, descending: bool, page: int,
                   page_size: int) -> list[str]:
    needle = search.strip().lower()
    names = [name for name in found if name and needle in name.lower()]

    def key(name: str):
        mine = found[name]
        if sort == "avg_latency":  # SQLite divides integers; PostgreSQL's sums are NUMERIC
            return mine["latency"] // mine["calls"] if dialect == "sqlite" else Fraction(mine["latency"], mine["calls"])
        return {"cost": mine["cost"], "calls": mine["calls"], "customer": name, "last_seen": mine["last"]}[sort]

    names.sort()  # the tie-break, ascending whatever the direction of the sort key
    names.sort(key=key, reverse=descending)
    return names[page * page_size:(page + 1) * page_size]


def _check_customers(session, events: list[dict], scope: analytics.Scope, now: datetime, dialect: str,
                     query: dict) -> None:
    found = _expected_customers(events, scope, now)
    by_customer = analytics.cost_by(session, scope, "customer", limit=None, now=now)
    assert {row.name: (row.cost_nanos, row.calls, row.unpriced_calls, row.failed_calls, row.input_tokens,
                       row.output_tokens) for row in by_customer} == {
        name: (m["cost"], m["calls"], m["unpriced"], m["failed"], m["input"], m["output"]) for name, m in found.items()}
    top = analytics.cost_by(session, scope, "customer", limit=3, now=now)
    assert [row.name for row in top] == sorted(found, key=lambda name: (-found[name]["cost"], name))[:3]
    assert top == by_customer[:3]

    result = analytics.customers_page(session, scope, **query, now=now)
    named = {name: mine for name, mine in found.items() if name}
    needle = query["search"].strip().lower()
    matching = [mine for name, mine in named.items() if needle in name.lower()]
    assert (result.total_customers, result.total_cost_nanos, result.total_calls) == (
        len(matching), sum(m["cost"] for m in matching), sum(m["calls"] for m in matching))
    assert [row.customer_id for row in result.rows] == _expected_page(named, dialect, **query)
    for row in result.rows:
        mine = named[row.customer_id]
        assert (row.cost_nanos, row.calls, row.latency_ms_sum, row.first_seen, row.last_seen) == (
            mine["cost"], mine["calls"], mine["latency"], mine["first"], mine["last"])
        assert set(row.providers) == mine["providers"]


def _check_insights(session, events: list[dict], tenant: int, now: datetime, customer: str | None = None) -> None:
    """Insights equal brute force: all customers, or one (``customer``) as the global customer filter asks."""
    if customer is not None:
        events = [event for event in events if event["customer_id"] == customer]
    week_start = day_floor(now) - timedelta(days=6)
    week = analytics.Scope(tenant, week_start, hour_floor(now) + timedelta(hours=1))
    previous = analytics.Scope(tenant, week_start - timedelta(days=7), week_start)
    result = analytics.insights(session, tenant, now, customer_id=customer)
    names = {"customer": lambda r: r["customer_id"] or "", "model": lambda r: r["model"], "agent": lambda r: r["agent"]}
    movers = []
    for dimension, name_of in names.items():
        this = _sum_by(_brute(events, week.start, week.end), name_of)
        last = _sum_by(_brute(events, previous.start, previous.end), name_of)
        movers += [(dimension, name, this.get(name, [0])[0], last.get(name, [0])[0])
                   for name in (this.keys() | last.keys()) - {""}
                   if this.get(name, [0])[0] != last.get(name, [0])[0]]
    movers.sort(key=lambda m: (-abs(m[2] - m[3]), m[0], m[1]))
    assert [(m.dimension, m.name, m.this_week_nanos, m.last_week_nanos) for m in result.movers] == movers[:10]
    customers = {name: mine for name, mine in _expected_customers(events, week, now).items() if name}
    assert [(r.name, r.cost_nanos, r.calls, r.unpriced_calls, r.failed_calls, r.input_tokens, r.output_tokens)
            for r in result.top_customers] == [
        (name, m["cost"], m["calls"], m["unpriced"], m["failed"], m["input"], m["output"])
        for name, m in sorted(customers.items(), key=lambda item: (-item[1]["cost"], item[0]))[:5]]
    agents = _sum_by(_brute(events, week.start, week.end), lambda r: r["agent"])
    assert [(r.name, r.cost_nanos, r.calls) for r in result.top_agents] == sorted(
        ((name, cost, calls) for name, (cost, calls, _) in agents.items() if name != analytics.UNTRACKED),
        key=lambda row: (-row[1], row[0]))[:5]
    assert result.total_cost_nanos == sum(cost for cost, _, _ in agents.values())
    assert result.untracked_cost_nanos == agents.get(analytics.UNTRACKED, [0])[0]


def _windows(tenant: int, now: datetime) -> list[analytics.Scope]:
    named = [resolve_range(key, now=now) for key in ("24h", "7d", "30d")]
    week_start, today, hour = named[1].start, day_floor(now), hour_floor(now)
    spans = [(window.start, window.end) for window in named] + [
        (week_start - timedelta(days=7), week_start),                  # insights' previous week: all closed
        (today - timedelta(days=20), today - timedelta(days=3)),        # a custom range in the past
        (today - timedelta(days=2), today + timedelta(days=1)),         # a custom range that ends tomorrow
        (hour - timedelta(hours=50), hour - timedelta(hours=3)),        # hour-aligned, closed (read API)
    ]
    return [analytics.Scope(tenant, start, end) for start, end in spans]


customer_query = st.fixed_dictionaries({
    "search": st.sampled_from(["", "", "c1", "C1", " 2 ", "_", "%"]),
    "sort": st.sampled_from(analytics.CUSTOMER_SORTS),
    "descending": st.booleans(),
    "page": st.integers(0, 2),
    "page_size": st.sampled_from([1, 3, 50]),
})


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=st.lists(spread_event, min_size=1, max_size=80), late=st.lists(spread_event, min_size=1, max_size=12),
       minutes_past_now=st.sampled_from([2, 40, 60 * 26 + 3, 60 * 24 * 9]), query=customer_query)
def test_customer_dimension_through_range_bases(engine, make_account, monkeypatch, drawn, late, minutes_past_now,
                                                query) -> None:
    """With the clock frozen a little (or days) after the events: the range path equals brute force and the
    rollups-only path, before and after late events land in periods whose bases were built."""
    clock = NOW + timedelta(minutes=minutes_past_now)
    tenant, _, _ = make_account()
    dialect = engine.dialect.name
    events = [_materialise(item) for item in drawn]
    with session_scope(engine) as session:
        ingest_events(session, tenant, events, now=clock)

    for phase in ("bases built", "after late events"):
        for scope in _windows(tenant, clock):
            with session_scope(engine) as session:
                _check_customers(session, events, scope, clock, dialect, query)
        with session_scope(engine) as session:
            _check_insights(session, events, tenant, clock)
            _check_insights(session, events, tenant, clock, events[0]["customer_id"] or "c1")
            through_bases = analytics.insights(session, tenant, clock)
            with monkeypatch.context() as patch:  # the same from the rollups alone
                patch.setattr(per_customer, "_customer_base", lambda *args: None)
                assert analytics.insights(session, tenant, clock) == through_bases
            built = session.execute(sa.select(sa.func.count()).select_from(customer_ranges.STATE)
                                    .where(customer_ranges.STATE.c.tenant_id == tenant)).scalar_one()
        assert built > 0, phase
        if phase == "bases built":
            more = [_materialise(item, clock) for item in late]  # mostly for hours and days already closed
            with session_scope(engine) as session:
                ingest_events(session, tenant, more, now=clock)
            events += more


_SAME_CALL = {"provider_model": ("openai", "gpt-4o-mini"), "status_code": 200, "section_path": None,
              "run_id": None, "input_tokens": 1200, "output_tokens": 80, "latency_ms": 700}


@pytest.mark.parametrize("sort", analytics.CUSTOMER_SORTS)
def test_customers_page_sorts_agree_with_the_rollups_alone(engine, make_account, monkeypatch, sort) -> None:
    """Each sort, both directions, every page: the range path returns what the rollups alone return."""
    clock = NOW + timedelta(minutes=30)
    tenant, _, _ = make_account()
    # The same call every 97 minutes for 12 days, from 9 customers: many ties, broken by customer id.
    events = [_materialise({**_SAME_CALL, "minutes_ago": minutes, "customer_id": f"c{minutes % 9}"})
              for minutes in range(0, 60 * 24 * 12, 97)]
    with session_scope(engine) as session:
        ingest_events(session, tenant, events, now=clock)
    window = resolve_range("7d", now=clock)
    scope = analytics.Scope(tenant, window.start, window.end)
    with session_scope(engine) as session:
        for descending in (True, False):
            for page in range(4):
                through_bases = analytics.customers_page(session, scope, sort=sort, descending=descending, page=page,
                                                         page_size=3, now=clock)
                with monkeypatch.context() as patch:
                    patch.setattr(per_customer, "_customer_base", lambda *args: None)
                    assert analytics.customers_page(session, scope, sort=sort, descending=descending, page=page,
                                                     page_size=3, now=clock) == through_bases



def _dayhour_state(session, tenant: int, start: datetime) -> list[tuple]:
    state = customer_ranges.STATE
    return [tuple(row) for row in session.execute(
        sa.select(state.c.range_start, state.c.range_end, state.c.build_id)
        .where(state.c.tenant_id == tenant, state.c.grain == customer_ranges.DAYHOUR, state.c.range_start == start)
        .order_by(state.c.range_start, state.c.range_end)).all()]


def test_dayhour_base_takes_the_open_hour_live(engine, make_account) -> None:
    """A whole-day window ending now reads a ``dayhour`` base (closed days + today's closed hours): calls after
    it (a new customer, an earlier first call than the base saw, more cost) are merged live, a late call in a
    closed hour of today and ``invalidate`` (retention, recalculation) make it rebuilt; every sort, each page,
    the totals and insights equal brute force throughout."""
    clock = NOW + timedelta(minutes=40)  # 12:40: hours before 12:00 are closed
    tenant, _, _ = make_account()
    dialect = engine.dialect.name

    def call(customer: str, minutes_ago: int, tokens: int = 1000) -> dict:
        return _materialise({**_SAME_CALL, "customer_id": customer, "minutes_ago": minutes_ago,
                             "input_tokens": tokens}, clock)

    events = [call("a", 60 * 24 * 3), call("a", 60 * 3 + 40), call("b", 20, 5000), call("c", 60 * 24 * 2, 90_000),
              call("e", 60 * 24 * 5, 3000), call("e", 60 * 2)]
    with session_scope(engine) as session:
        ingest_events(session, tenant, events, now=clock)
    window = resolve_range("30d", now=clock)
    scope = analytics.Scope(tenant, window.start, window.end)
    queries = [{"search": search, "sort": sort, "descending": descending, "page": page, "page_size": 2}
               for sort in analytics.CUSTOMER_SORTS for descending in (True, False) for page in (0, 1, 2)
               for search in ("", "a")]

    def check() -> None:
        with session_scope(engine) as session:
            for query in queries:
                _check_customers(session, events, scope, clock, dialect, query)
            _check_insights(session, events, tenant, clock)

    check()
    with session_scope(engine) as session:
        built = _dayhour_state(session, tenant, window.start)
    assert [(start, end) for start, end, _ in built] == [(window.start, hour_floor(clock))]

    # After the base: "b" earlier than its first call so far, "c" back today, "d" new, "e" again.
    more = [call("b", 35, 1), call("c", 10, 10), call("d", 5, 200_000), call("e", 1, 7)]
    with session_scope(engine) as session:
        ingest_events(session, tenant, more, now=clock)
    events += more
    check()
    with session_scope(engine) as session:
        assert _dayhour_state(session, tenant, window.start) == built  # the open part was merged live, no rebuild

    late = [call("a", 60 * 2 + 30, 123_456)]  # 10:10 today: an hour the base had summed
    with session_scope(engine) as session:
        ingest_events(session, tenant, late, now=clock)
    events += late
    check()
    with session_scope(engine) as session:
        rebuilt = _dayhour_state(session, tenant, window.start)
    assert len(rebuilt) == 1 and rebuilt[0][:2] == built[0][:2] and rebuilt[0][2] != built[0][2]

    with session_scope(engine) as session:
        customer_ranges.invalidate(session, tenant)  # what retention and recalculation do with the rollups
    check()
    with session_scope(engine) as session:
        again = _dayhour_state(session, tenant, window.start)
    assert len(again) == 1 and again[0][2] != rebuilt[0][2]


def test_closed_days_kept_until_a_late_event_or_invalidate(engine, make_account) -> None:
    """The agents page, insights and the dashboard's breakdowns keep the closed days' sums between requests: a
    call today, a late call for a closed day, and rollups rewritten with ``invalidate`` (as retention does) all
    show at once."""
    from llmobserve_app.models import CustomerUsageDaily, TenantUsageHourly, UsageHourly

    clock = NOW + timedelta(minutes=40)
    tenant, _, _ = make_account()
    window = resolve_range("30d", now=clock)
    scope = analytics.Scope(tenant, window.start, window.end)

    def call(agent: str, minutes_ago: int, tokens: int = 1000) -> dict:
        return _materialise({**_SAME_CALL, "customer_id": "c1", "section_path": f"agent:{agent}/tool:t",
                             "minutes_ago": minutes_ago, "input_tokens": tokens}, clock)

    def check(events: list[dict]) -> None:
        rows = _brute(events, scope.start, scope.end)
        expected = _sum_by(rows, lambda r: r["agent"])
        with session_scope(engine) as session:
            assert analytics.totals(session, scope, now=clock).cost_nanos == sum(r["cost"] for r in rows)
            for dimension, name_of in (("model", lambda r: r["model"]), ("agent", lambda r: r["agent"]),
                                       ("day", lambda r: r["hour"].date().isoformat())):
                assert {row.name: [row.cost_nanos, row.calls, row.unpriced_calls] for row in analytics.cost_by(
                    session, scope, dimension, limit=None, now=clock)} == _sum_by(rows, name_of)
            assert {(row.provider, row.model): row.cost_nanos for row in analytics.models(session, scope, now=clock)} \
                == {key: cost for key, (cost, _, _) in _sum_by(rows, lambda r: (r["provider"], r["model"])).items()}
            assert dict(analytics.cost_over_time(session, scope, now=clock)) == {
                **dict.fromkeys(analytics.scope.buckets(scope, False), 0),
                **{day: cost for day, (cost, _, _) in _sum_by(rows, lambda r: r["hour"].replace(hour=0)).items()}}
            table, trend = analytics.agents_with_trend(session, scope, now=clock)
            assert {row.agent: (row.cost_nanos, row.calls) for row in table} == {
                name: (cost, calls) for name, (cost, calls, _) in expected.items()}
            assert {name: sum(cost for _, cost in series) for name, series in trend.items()} == {
                name: expected[name][0] for name in trend}
            _check_insights(session, events, tenant, clock)

    events = [call("a", 60 * 24 * 3), call("b", 60 * 24 * 9, 5000), call("a", 60 * 24 * 12), call("b", 30)]
    with session_scope(engine) as session:
        ingest_events(session, tenant, events, now=clock)
    check(events)
    for more in ([call("a", 5, 777)], [call("b", 60 * 24 * 2, 90_000), call("c", 60 * 24 * 10, 4000)]):
        with session_scope(engine) as session:  # today's open part, then late calls for closed days
            ingest_events(session, tenant, more, now=clock)
        events += more
        check(events)
    dropped = day_floor(clock) - timedelta(days=3)  # one closed day's rollup rows deleted, as retention would
    with session_scope(engine) as session:
        for t in (TenantUsageHourly, UsageHourly):
            session.execute(sa.delete(t).where(t.tenant_id == tenant, t.hour >= dropped,
                                               t.hour < dropped + timedelta(days=1)))
        d = CustomerUsageDaily
        session.execute(sa.delete(d).where(d.tenant_id == tenant, d.day == dropped))
        customer_ranges.invalidate(session, tenant)
    events = [event for event in events if day_floor(datetime.fromisoformat(event["started_at"])) != dropped]
    check(events)


def test_decoded_customer_bases_are_bounded_by_rows_too(engine, make_account, monkeypatch) -> None:
    """The bases kept decoded in memory are bounded by their customer rows in all, not only by their number, so
    the memory does not grow with a tenant's customers: beyond the budget only the newest base stays, and the
    pages still agree with the rollups alone."""
    from collections import OrderedDict

    from llmobserve_app.services.analytics import customer_view

    clock = NOW + timedelta(minutes=30)
    tenant, _, _ = make_account()
    events = [_materialise({**_SAME_CALL, "minutes_ago": minutes, "customer_id": f"c{minutes % 9}"})
              for minutes in range(0, 60 * 24 * 12, 97)]
    with session_scope(engine) as session:
        ingest_events(session, tenant, events, now=clock)
    scopes = [analytics.Scope(tenant, window.start, window.end)
              for window in (resolve_range(key, now=clock) for key in ("30d", "7d"))]

    def pages() -> tuple[list[int], list]:
        """The rows of each base kept after reading both windows' first pages, and those pages."""
        with session_scope(engine) as session:
            found = [analytics.customers_page(session, scope, page_size=5, now=clock) for scope in scopes]
        return [len(kept.rows) for kept in customer_view._decoded.values()], found

    monkeypatch.setattr(customer_view, "_decoded", OrderedDict())
    kept, through_bases = pages()
    assert len(kept) == 2 and all(rows >= 9 for rows in kept)
    monkeypatch.setattr(customer_view, "_decoded", OrderedDict())
    monkeypatch.setattr(customer_view, "_KEPT_ROWS", kept[0] + 1)
    kept_within_budget, again = pages()
    assert kept_within_budget == [kept[1]] and again == through_bases
    with monkeypatch.context() as patch:
        patch.setattr(per_customer, "_customer_base", lambda *args: None)
        assert pages()[1] == through_bases
