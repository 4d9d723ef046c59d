"""The after-batch check answered from memory (``caps/headroom``): never when a level may have been reached,
a block lifting or another writer being possible; every level still fires once, the crossing batch's reply
blocks, and a random run of batches fires and blocks exactly what the exact evaluation does.

Batches are stored as the ingest API stores them (``write_prepared``: no stamp), and ``after_batch`` is
given their rows, as ``ingest_api/events.py`` does. The memory is per process and SQLite-only (PostgreSQL is
never ``alone``): the tests that need it skip on PostgreSQL, where one test checks every batch is exact.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmobserve_app.db import session_scope
from llmobserve_app.models import utcnow
from llmobserve_app.services import custom_prices
from llmobserve_app.services.caps import checks, crud, headroom
from llmobserve_app.services.caps.evaluation import alert_keys, evaluate
from llmobserve_app.services.ingest import writers
from llmobserve_app.services.ingest.batch import prepare_events
from llmobserve_app.services.ingest.schema import validate_events
from llmobserve_app.services.ingest.store import write_prepared
from tests.services.caps.helpers import make_cap, spend_event, store

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday noon
TOMORROW = NOW + timedelta(days=1)
CENTS_15 = 150_000_000  # what one ``spend_event`` costs


def ingest(engine: sa.Engine, tenant: int, events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Store ``events`` as the ingest API does; return the rows ``after_batch`` gets."""
    validated, rejected = validate_events(events)
    batch = prepare_events(tenant, validated, rejected, engine.dialect.name, custom_prices.prices_for(engine, tenant))
    with session_scope(engine) as session:
        write_prepared(session, batch, utcnow())
    return batch.rows


def batch(engine: sa.Engine, tenant: int, count: int = 1, at: datetime = NOW, now: datetime = NOW,
          **overrides: Any) -> checks.CheckResult:
    """Store ``count`` $0.15 calls started at ``at``, then run the after-batch check at ``now``."""
    rows = ingest(engine, tenant, [spend_event(at, **overrides) for _ in range(count)])
    return checks.after_batch(engine, tenant, rows, now)


def _alerts(engine, tenant) -> list[tuple[str, str]]:
    with session_scope(engine) as session:
        return sorted((a.level, a.scope_value) for a in crud.alert_history(session, tenant))


@pytest.fixture
def sqlite_only(engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the memory is never used on PostgreSQL (see test_postgresql_evaluates_every_batch)")


def test_postgresql_evaluates_every_batch(engine, make_account) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("PostgreSQL only")
    tenant, _, _ = make_account()
    make_cap(engine, tenant, scope="global", period="day", limit_usd="100")
    assert not writers.alone(engine)
    assert [batch(engine, tenant).from_memory for _ in range(3)] == [False, False, False]


def test_a_crossing_while_the_memory_is_warm_fires_once_and_the_reply_blocks(engine, make_account,
                                                                             sqlite_only) -> None:
    """Levels at $0.30 and $0.60, reached EXACTLY by batches that arrive while the memory answers."""
    tenant, _, _ = make_account()
    make_cap(engine, tenant, scope="provider", value="openai", period="week", limit_usd="0.60", threshold_pct=50,
         action="block")
    first = batch(engine, tenant)  # $0.15: exact, seeds the memory
    assert (first.from_memory, first.blocked, first.fired) == (False, [], [])
    threshold = batch(engine, tenant)  # $0.30 = the threshold exactly
    assert not threshold.from_memory
    assert [alert.level for alert in threshold.fired] == ["threshold"]
    below = batch(engine, tenant)  # $0.45
    assert (below.from_memory, below.blocked) == (True, [])
    crossing = batch(engine, tenant)  # $0.60 = the limit exactly
    assert not crossing.from_memory
    assert [alert.level for alert in crossing.fired] == ["exceeded"]
    blocked = [{"scope": "provider", "value": "openai", "until": "2026-11-30T00:00:00Z"}]
    assert crossing.blocked == blocked
    after = batch(engine, tenant)  # over the limit: no level left, the block stays, from memory
    assert (after.from_memory, after.blocked, after.fired) == (True, blocked, [])
    assert _alerts(engine, tenant) == [("exceeded", ""), ("threshold", "")]


def test_a_cap_far_from_its_level_is_followed_as_slack_and_still_fires_when_reached(engine, make_account,
                                                                                   sqlite_only) -> None:
    """After a memory that took little, rooms far larger than that are kept as one slack per period, spent by
    every event: a batch that reaches the level is still evaluated exactly."""
    tenant, _, _ = make_account()
    make_cap(engine, tenant, scope="global", period="day", limit_usd="1.00", threshold_pct=50, action="block")
    cheap = {"usage": {"input_tokens": 1_000}}  # $0.00015
    batch(engine, tenant, **cheap)
    assert batch(engine, tenant, **cheap).from_memory
    store(engine, tenant, [spend_event(NOW - timedelta(days=3))])  # a write outside the API: the next is exact
    assert not batch(engine, tenant, **cheap).from_memory
    memory = headroom.headrooms._entries[(str(engine.url), tenant)]
    assert memory.room == {} and memory.slack["day"] > 0  # $0.49955 left: far above 4 × $0.00015
    reaching = batch(engine, tenant, count=4)  # $0.60 more: the $0.50 threshold
    assert not reaching.from_memory
    assert [alert.level for alert in reaching.fired] == ["threshold"]


def test_raising_or_disabling_a_cap_lifts_the_block_at_the_next_reply(engine, make_account, sqlite_only) -> None:
    tenant, _, _ = make_account()
    cap = make_cap(engine, tenant, scope="customer", value="acme", period="day", limit_usd="0.10", action="block")
    assert batch(engine, tenant, customer_id="acme").blocked != []
    assert batch(engine, tenant, customer_id="other").from_memory  # warm, still blocked
    with session_scope(engine) as session:
        crud.update_cap(session, tenant, cap.id, limit_usd="5")
    raised = batch(engine, tenant, customer_id="other")
    assert (raised.from_memory, raised.blocked) == (False, [])
    with session_scope(engine) as session:
        crud.update_cap(session, tenant, cap.id, limit_usd="0.10")
    assert batch(engine, tenant, customer_id="other").blocked != []
    assert batch(engine, tenant, customer_id="other").from_memory
    with session_scope(engine) as session:
        crud.update_cap(session, tenant, cap.id, enabled=False)
    assert batch(engine, tenant, customer_id="other").blocked == []


def test_the_end_of_the_period_lifts_the_block(engine, make_account, sqlite_only) -> None:
    tenant, _, _ = make_account()
    make_cap(engine, tenant, scope="global", period="day", limit_usd="0.10", action="block")
    assert batch(engine, tenant).blocked != []
    assert batch(engine, tenant, now=NOW + timedelta(hours=11, minutes=59)).from_memory
    next_day = batch(engine, tenant, at=TOMORROW, now=TOMORROW)  # $0.15 today: blocked again, but exact
    assert not next_day.from_memory
    assert next_day.blocked == [{"scope": "global", "value": "", "until": "2026-11-27T00:00:00Z"}]
    quiet = checks.after_batch(engine, tenant, [], TOMORROW + timedelta(days=1))
    assert (quiet.from_memory, quiet.blocked) == (False, [])


def test_an_unseen_write_is_seen_once_the_memory_is_older_than_its_max_age(engine, make_account, sqlite_only,
                                                                           monkeypatch) -> None:
    """Spend this process did not add (as another process's batch would be) is seen within the max age."""
    monkeypatch.setattr(headroom, "MAX_AGE_SECONDS", 0.2)
    tenant, _, _ = make_account()
    make_cap(engine, tenant, scope="global", period="month", limit_usd="1.00", action="block")
    batch(engine, tenant)
    ingest(engine, tenant, [spend_event(NOW) for _ in range(10)])  # $1.50 more, no after_batch
    young = batch(engine, tenant)
    assert (young.from_memory, young.blocked) == (True, [])
    time.sleep(0.25)
    old = batch(engine, tenant)
    assert not old.from_memory
    assert [b["scope"] for b in old.blocked] == ["global"]


def test_a_write_outside_the_ingest_api_makes_the_next_check_exact(engine, make_account, sqlite_only) -> None:
    tenant, _, _ = make_account()
    make_cap(engine, tenant, scope="global", period="month", limit_usd="1.00", action="block")
    batch(engine, tenant)
    assert batch(engine, tenant).from_memory
    store(engine, tenant, [spend_event(NOW) for _ in range(10)])  # ``ingest_events``: demo data, a script
    reply = batch(engine, tenant)
    assert not reply.from_memory
    assert [b["scope"] for b in reply.blocked] == ["global"]


def test_events_of_a_previous_period_and_unpriced_calls_take_no_room(engine, make_account, sqlite_only) -> None:
    tenant, _, _ = make_account()
    make_cap(engine, tenant, scope="global", period="day", limit_usd="0.20", threshold_pct=99, action="block")
    batch(engine, tenant)  # $0.15 of the $0.198 threshold
    yesterday = batch(engine, tenant, count=20, at=NOW - timedelta(days=1))  # $3 in the previous day
    assert (yesterday.from_memory, yesterday.blocked) == (True, [])
    unpriced = batch(engine, tenant, count=20, model="no-such-model")  # no price: not spend
    assert unpriced.from_memory
    future = batch(engine, tenant, count=20, at=TOMORROW)  # in the next day: not this period's spend either
    assert future.from_memory
    assert _alerts(engine, tenant) == []
    crossing = batch(engine, tenant)
    assert not crossing.from_memory and crossing.blocked != []
    assert _alerts(engine, tenant) == [("exceeded", ""), ("threshold", "")]


def test_every_customer_caps_answer_from_memory_while_the_whole_account_is_far_below(engine, make_account,
                                                                                    sqlite_only) -> None:
    tenant, _, _ = make_account()
    make_cap(engine, tenant, scope="customer", value="*", period="day", limit_usd="1.00", threshold_pct=50,
         action="block")
    batch(engine, tenant, customer_id="c0")
    assert batch(engine, tenant, customer_id="c1").from_memory  # the account: $0.30 < $0.50
    assert batch(engine, tenant, customer_id="c0").from_memory  # c0 known: $0.30
    assert not batch(engine, tenant, customer_id="c2").from_memory  # a new customer, account $0.60: exact
    assert batch(engine, tenant, customer_id="c2").from_memory  # c2 known now ($0.30)
    reaching = batch(engine, tenant, count=2, customer_id="c0")  # c0: $0.60 ≥ its $0.50 threshold
    assert not reaching.from_memory and [a.level for a in reaching.fired] == ["threshold"]
    crossing = batch(engine, tenant, count=3, customer_id="c0")  # c0: $1.05
    assert crossing.blocked == [{"scope": "customer", "value": "c0", "until": "2026-11-26T00:00:00Z"}]
    assert batch(engine, tenant, customer_id="c1").blocked == crossing.blocked
    assert _alerts(engine, tenant) == [("exceeded", "c0"), ("threshold", "c0")]


def test_another_ingest_process_on_the_database_turns_the_memory_off(engine, make_account, sqlite_only) -> None:
    tenant, _, _ = make_account()
    make_cap(engine, tenant, scope="global", period="month", limit_usd="100")
    batch(engine, tenant)
    assert batch(engine, tenant).from_memory
    code = ("import sys, sqlalchemy as sa\n"
            "from llmobserve_app.services.ingest import writers\n"
            "writers.serve(sa.create_engine(sys.argv[1]))\n"
            "print('serving', flush=True)\n"
            "sys.stdin.read()\n")
    other = subprocess.Popen([sys.executable, "-c", code, str(engine.url)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "serving"
        assert not writers.alone(engine)
        assert [batch(engine, tenant).from_memory for _ in range(2)] == [False, False]
    finally:
        other.stdin.close()
        other.wait(30)
    assert writers.alone(engine)
    batch(engine, tenant)
    assert batch(engine, tenant).from_memory


# -- a random run: from memory or not, every reply and every alert is what exact evaluations give ----------
cap_spec = st.tuples(
    st.sampled_from([("global", ""), ("provider", "openai"), ("model", "gpt-4o"), ("agent", "a"),
                     ("customer", "c1"), ("customer", "*")]),
    st.sampled_from(["day", "week", "month"]),
    st.sampled_from(["0.05", "0.30", "1.00"]),
    st.sampled_from([50, 80]),
    st.sampled_from(["alert", "block"]),
)
random_event = st.fixed_dictionaries({
    "minutes_ago": st.sampled_from([1, 30, 60 * 20, 60 * 24 * 3, 60 * 24 * 30, -60 * 13]),
    "model": st.sampled_from(["gpt-4o-mini", "gpt-4o", "no-such-model"]),
    "customer_id": st.sampled_from([None, "c1", "c2", "c3"]),
    "section_path": st.sampled_from([None, "agent:a", "agent:b/agent:a", "tool:z"]),
    "input_tokens": st.sampled_from([0, 10_000, 100_000, 400_000]),
})


def _event(drawn: dict) -> dict:
    return {"span_id": uuid.uuid4().hex, "started_at": (NOW - timedelta(minutes=drawn["minutes_ago"])).isoformat(),
            "provider": "openai", "model": drawn["model"], "status_code": 200, "customer_id": drawn["customer_id"],
            "section_path": drawn["section_path"], "usage": {"input_tokens": drawn["input_tokens"]}}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=st.lists(cap_spec, min_size=1, max_size=5),
       batches=st.lists(st.lists(random_event, min_size=1, max_size=6), min_size=2, max_size=10))
def test_replies_and_alerts_equal_exact_evaluation(engine, make_account, sqlite_only, specs, batches) -> None:
    """After every reply: its blocked list is the exact one, and every level the exact spend reached has
    fired (the memory never skips a crossing, whether from memory or not)."""
    tenant, _, _ = make_account()
    rules = [make_cap(engine, tenant, scope=scope, value=value, period=period, limit_usd=limit,
                  threshold_pct=threshold, action=action)
             for (scope, value), period, limit, threshold, action in specs]
    for drawn in batches:
        rows = ingest(engine, tenant, [_event(item) for item in drawn])
        reply = checks.after_batch(engine, tenant, rows, NOW)
        assert reply.blocked == checks.current_blocks(engine, tenant, NOW)
        with session_scope(engine) as session:
            reached = alert_keys(evaluate(session, rules, NOW))
            fired = {(a.cap_id, a.period_start, a.level, a.scope_value)
                     for a in crud.alert_history(session, tenant, limit=10_000)}
        assert reached <= fired
    assert [alert for alert in checks.catch_up(engine, NOW) if alert.tenant_id == tenant] == []


def test_a_full_memory_drops_the_entries_too_old_to_use_first() -> None:
    """Entries older than MAX_AGE_SECONDS are never fresh again: when the memory is full they go first, and
    only a memory full of fresh entries is emptied."""
    from types import SimpleNamespace

    from llmobserve_app.services.caps.headroom import MAX_AGE_SECONDS, Headrooms

    memory = Headrooms(size=2)
    fresh = SimpleNamespace(seeded_at=time.monotonic())
    stale = SimpleNamespace(seeded_at=time.monotonic() - 2 * MAX_AGE_SECONDS)
    memory.put(("db", 1), fresh)  # type: ignore[arg-type]
    memory.put(("db", 2), stale)  # type: ignore[arg-type]
    memory.put(("db", 3), fresh)  # type: ignore[arg-type]
    assert memory.pop(("db", 2)) is None and memory.pop(("db", 1)) is fresh
    memory.put(("db", 1), fresh)  # type: ignore[arg-type]
    memory.put(("db", 4), fresh)  # type: ignore[arg-type]  # full of fresh entries: emptied
    assert memory.pop(("db", 1)) is None and memory.pop(("db", 4)) is fresh
