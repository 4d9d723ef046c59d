"""Rollup rebuild: rollups recomputed from events equal the ones ingest maintained, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta, timezone

import sqlalchemy as sa

from llmobserve_app.db import session_scope
from llmobserve_app.models import Run, UsageHourly
from llmobserve_app.services import rollups
from llmobserve_app.services.ingest.store import ingest_events
from tests.factories import event, rollup_snapshot

HOURLY = UsageHourly.__table__
RUNS = Run.__table__
INDIA = timezone(timedelta(hours=5, minutes=30))


def _random_events(rng: random.Random, count: int) -> list[dict]:
    start = datetime(2026, 11, 1, 22, 30, tzinfo=UTC)
    events = []
    for _ in range(count):
        began = start + timedelta(seconds=rng.randrange(0, 3 * 86_400), microseconds=rng.randrange(1_000_000))
        status = rng.choice([200, 200, 200, 200, 429, 503, None])
        events.append(event(
            uuid.uuid4().hex,
            run_id=rng.choice([None, "run-a", "run-b", "run-c", uuid.uuid4().hex]),
            # +05:30 offsets: the hour bucket is the UTC hour whatever zone the SDK reported in
            started_at=began.astimezone(rng.choice([UTC, INDIA])).isoformat(),
            ended_at=(began + timedelta(milliseconds=rng.randrange(1, 90_000))).isoformat(),
            provider=rng.choice(["openai", "OpenAI", "anthropic", "pinecone"]),
            model=rng.choice(["gpt-4o-mini", "gpt-4o", "claude-3-5-haiku-latest", "no-such-model", None]),
            status_code=status,
            error=None if status else "ConnectError",
            customer_id=rng.choice([None, "", "c1", "c2", "c3"]),
            section_path=rng.choice([None, "agent:a", "agent:a/tool:web", "agent:b", "tool:only"]),
            usage={"input_tokens": rng.randrange(0, 40_000), "output_tokens": rng.randrange(0, 4_000),
                   "reasoning_tokens": 0, "cached_input_tokens": 0,
                   # whole numbers: float sums are then exact whatever order SQL adds them in
                   "units": rng.choice([{}, {"read_units": rng.randrange(1, 50)},
                                        {"read_units": 3, "write_units": rng.randrange(1, 9)}])},
        ))
    return events


def _ingest(engine: sa.Engine, tenant_id: int, events: list[dict]) -> None:
    with session_scope(engine) as session:
        ingest_events(session, tenant_id, events)


def test_rebuilt_rollups_equal_the_incremental_ones(engine, make_account) -> None:
    tenant, _, _ = make_account()
    events = _random_events(random.Random(5), 600)
    for offset in range(0, 600, 75):  # runs and hour buckets span batches
        _ingest(engine, tenant, events[offset:offset + 75])
    _ingest(engine, tenant, events[150:300])  # a retried slice
    incremental = rollup_snapshot(engine, tenant)
    assert all(incremental), [len(rows) for rows in incremental]

    (result,) = rollups.rebuild(engine, tenant)

    assert rollup_snapshot(engine, tenant) == incremental
    assert (result.events, result.hourly_rows, result.runs) == (600, len(incremental[0]), len(incremental[-1]))


def test_rebuild_repairs_damaged_rollups_of_one_tenant_only(engine, make_account) -> None:
    alice, _, _ = make_account()
    bob, _, _ = make_account()
    rng = random.Random(9)
    _ingest(engine, alice, _random_events(rng, 120))
    _ingest(engine, bob, _random_events(rng, 120))
    alice_before, bob_before = rollup_snapshot(engine, alice), rollup_snapshot(engine, bob)
    with session_scope(engine) as session:
        session.execute(sa.delete(HOURLY).where(HOURLY.c.tenant_id.in_([alice, bob]), HOURLY.c.provider == "openai"))
        session.execute(sa.update(RUNS).where(RUNS.c.tenant_id.in_([alice, bob])).values(calls=0, customer_id="x"))
        for table in (rollups.TENANT_HOURLY, rollups.CUSTOMER_DAILY, rollups.UNIT_HOURLY):
            session.execute(sa.delete(table).where(table.c.tenant_id.in_([alice, bob])))

    rollups.rebuild(engine, alice)

    assert rollup_snapshot(engine, alice) == alice_before
    assert rollup_snapshot(engine, bob) != bob_before  # untouched: still damaged
    rollups.main(["rebuild", "--tenant", str(bob), "--database-url", engine.url.render_as_string(False)])
    assert rollup_snapshot(engine, bob) == bob_before


def test_a_tenant_without_events_ends_with_no_rollups(engine, make_account) -> None:
    tenant, _, _ = make_account()
    _ingest(engine, tenant, [event(run_id="r")])
    with session_scope(engine) as session:
        session.execute(sa.text("DELETE FROM events WHERE tenant_id = :t"), {"t": tenant})
    (result,) = rollups.rebuild(engine, tenant)
    assert (result.events, result.hourly_rows, result.runs) == (0, 0, 0)
    assert rollup_snapshot(engine, tenant) == [[]] * len(rollups.ROLLUPS)
