"""Warming builds the named windows' range bases ahead of visitors, and the scheduler runs it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from llmobserve_app.db import session_scope
from llmobserve_app.jobs import JobLeaseHolder, create_scheduler
from llmobserve_app.models import CustomerRangeState
from llmobserve_app.services.customer_ranges import closed_end
from llmobserve_app.services.ingest.store import ingest_events
from llmobserve_app.services.time_range import day_floor
from llmobserve_app.services.warm_ranges import active_tenants, warm_named_ranges
from tests.factories import event


def _bases(engine: sa.Engine, tenant_id: int) -> set[tuple[str, datetime, datetime]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(CustomerRangeState.grain, CustomerRangeState.range_start,
                                            CustomerRangeState.range_end)
                                  .where(CustomerRangeState.tenant_id == tenant_id)).all()
    return {(grain, start.replace(tzinfo=UTC), end.replace(tzinfo=UTC)) for grain, start, end in rows}


def test_warming_builds_the_bases_of_active_tenants_only(engine, make_account) -> None:
    now = datetime.now(UTC)  # bases are closed by the real clock, so the windows are the real ones
    active, _, _ = make_account()
    idle, _, _ = make_account()
    events = [event(f"w{day}-{n}", customer_id=f"c{n}", started_at=(now - timedelta(days=day, hours=n)).isoformat())
              for day in range(0, 20) for n in range(3)]
    with session_scope(engine) as session:
        ingest_events(session, active, events)

    assert active in active_tenants(engine, now) and idle not in active_tenants(engine, now)
    assert warm_named_ranges(engine, now) >= 1
    bases = _bases(engine, active)
    closed_days = closed_end("day", now)
    for days in (30, 7):  # the closed days of the 30 d and 7 d windows
        assert ("day", day_floor(now) - timedelta(days=days - 1), closed_days) in bases
    # 24 h: hourly closed part, except from 23:00 UTC when the window is today's whole day (read live)
    assert any(grain == "hour" for grain, _, _ in bases) or now.hour == 23
    assert _bases(engine, idle) == set()

    warm_named_ranges(engine, now)  # a second run reuses them
    assert _bases(engine, active) == bases


def test_the_scheduler_warms_at_start_and_every_hour(engine) -> None:
    scheduler = create_scheduler(JobLeaseHolder(engine))
    job = scheduler.get_job("warm_range_bases")
    assert job is not None
    fires = job.trigger.get_next_fire_time(None, datetime(2026, 11, 23, 10, 7, tzinfo=UTC))
    assert fires == datetime(2026, 11, 23, 11, 6, tzinfo=UTC)
