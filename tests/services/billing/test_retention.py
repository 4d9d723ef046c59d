"""The retention job deletes exactly the rows older than each plan keeps, in chunks, and leaves the rollups
equal to what the remaining events sum to (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from llmobserve_app.db import session_scope
from llmobserve_app.models import CustomerUsageDaily, Event
from llmobserve_app.services import customer_ranges, rollups
from llmobserve_app.services.billing import plans
from llmobserve_app.services.billing.retention import apply_retention, cutoff
from llmobserve_app.services.ingest.store import ingest_events
from llmobserve_app.services.time_range import day_floor
from tests.factories import event, rollup_snapshot

EVENTS = Event.__table__
DAYS_AGO = (0, 3, 29, 30, 31, 45, 399, 400, 401, 450)


def _events(rng: random.Random, now: datetime) -> list[dict]:
    events = []
    for days in DAYS_AGO:
        for _ in range(6):
            began = day_floor(now) - timedelta(days=days) + timedelta(seconds=rng.randrange(0, 86_399))
            began = min(began, now - timedelta(minutes=1))
            events.append(event(
                uuid.uuid4().hex, started_at=began.isoformat(),
                run_id=rng.choice([None, f"run-{days}-a", f"run-{days}-b"]),  # a run stays within its day
                customer_id=rng.choice([None, "c1", "c2"]), provider=rng.choice(["openai", "pinecone"]),
                usage={"input_tokens": rng.randrange(1, 5000), "output_tokens": rng.randrange(1, 500),
                       "units": rng.choice([{}, {"read_units": rng.randrange(1, 9)}])}))
    return events


def _seed(engine, tenant: int, now: datetime, seed: int) -> None:
    events = _events(random.Random(seed), now)
    for offset in range(0, len(events), 20):
        with session_scope(engine) as session:
            ingest_events(session, tenant, events[offset:offset + 20])


def _oldest_kept_day(engine, tenant: int) -> datetime:
    with engine.connect() as connection:
        oldest = connection.execute(sa.select(sa.func.min(EVENTS.c.started_at)).where(EVENTS.c.tenant_id == tenant))
        return oldest.scalar_one()


def _event_count(engine, tenant: int) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).where(EVENTS.c.tenant_id == tenant)).scalar_one()


def _rollups_match_events(engine, tenant: int) -> None:
    """What retention left equals the rollups recomputed from the events left."""
    left = rollup_snapshot(engine, tenant)
    with session_scope(engine) as session:
        rollups.rebuild_tenant(session, tenant)
    assert rollup_snapshot(engine, tenant) == left


def test_retention_keeps_each_plans_history(engine, make_account) -> None:
    now = datetime.now(UTC)
    free, _, _ = make_account("free")
    pro, _, _ = make_account("pro")
    bystander, _, _ = make_account("other")
    for seed, tenant in enumerate((free, pro, bystander)):
        _seed(engine, tenant, now, seed)
    # A per-customer range base built over days that retention will delete.
    key = customer_ranges.RangeKey(free, customer_ranges.DAY, day_floor(now) - timedelta(days=60), day_floor(now))
    with session_scope(engine) as session:
        assert customer_ranges.acquire(session, key, now) is not None

    plan_by_tenant = {free: plans.FREE, pro: plans.PRO}
    result = apply_retention(engine, lambda _session, user_id: plan_by_tenant.get(user_id, plans.SELF_HOSTED),
                             now=now, chunk_rows=7, pause_seconds=0)

    per_day = 6
    assert _event_count(engine, free) == per_day * sum(1 for days in DAYS_AGO if days <= 30)
    assert _event_count(engine, pro) == per_day * sum(1 for days in DAYS_AGO if days <= 400)
    assert _event_count(engine, bystander) == per_day * len(DAYS_AGO)
    assert _oldest_kept_day(engine, free) >= cutoff(plans.FREE, now) == day_floor(now) - timedelta(days=30)
    assert _oldest_kept_day(engine, pro) >= cutoff(plans.PRO, now)
    assert result.tenants == 2
    assert result.deleted["events"] == per_day * (6 + 2)  # free: 31, 45, 399, 400, 401, 450 days ago; pro: 401, 450
    for tenant in (free, pro, bystander):
        _rollups_match_events(engine, tenant)
    # The range base summed deleted days: it is rebuilt from what is left.
    with session_scope(engine) as session:
        base = customer_ranges.acquire(session, key, now)
        totals = {row.customer_id: row.calls for row in session.execute(customer_ranges.rows(base))}
        daily = CustomerUsageDaily.__table__
        expected = dict(session.execute(
            sa.select(daily.c.customer_id, sa.func.sum(daily.c.calls))
            .where(daily.c.tenant_id == free, daily.c.day >= key.start, daily.c.day < key.end)
            .group_by(daily.c.customer_id)).all())
    assert totals == expected and expected


def test_self_hosted_retention_days(engine, make_account) -> None:
    now = datetime.now(UTC)
    tenant, _, _ = make_account("self-hosted")
    _seed(engine, tenant, now, 7)
    keep_all, _, _ = make_account("keep-all")
    _seed(engine, keep_all, now, 8)
    apply_retention(engine, lambda _session, user_id: plans.self_hosted_plan(10 if user_id == tenant else None),
                    now=now, chunk_rows=1000, pause_seconds=0)
    assert _event_count(engine, tenant) == 6 * sum(1 for days in DAYS_AGO if days <= 10)
    assert _event_count(engine, keep_all) == 6 * len(DAYS_AGO)
    _rollups_match_events(engine, tenant)
