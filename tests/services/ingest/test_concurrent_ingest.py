"""Concurrent batches (several web workers or machines) on the same rollup rows keep exact totals.

On PostgreSQL each request's thread writes its batch in its own transaction, events and rollups each as one
array statement (``write_prepared``): batches sharing hours, customers and runs must neither deadlock nor lose
an addition, and a batch retried while its first copy is being written is stored once.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from llmobserve_app.db import session_scope
from llmobserve_app.models import Event, Run, TenantUnitUsageHourly, TenantUsageHourly, UsageHourly
from llmobserve_app.services.ingest.store import ingest_events
from tests.factories import event


def _batch(prefix: str, count: int, hour: datetime) -> list[dict]:
    events = []
    for n in range(count):
        minute = hour + timedelta(minutes=n % 60)
        if n % 10 == 0:  # a non-token call: a float quantity among the batch's ints
            events.append(event(f"{prefix}-{n}", provider="openai", model="whisper-1", endpoint="audio",
                                started_at=minute.isoformat(), customer_id=f"c{n % 4}", run_id=f"run-{n % 5}",
                                usage={"audio_seconds": 1.5}))
        elif n % 10 == 1:
            events.append(event(f"{prefix}-{n}", provider="pinecone", model="serverless", endpoint="vector",
                                started_at=minute.isoformat(), customer_id=f"c{n % 4}",
                                usage={"units": {"read_units": 3}}))
        else:
            events.append(event(f"{prefix}-{n}", started_at=minute.isoformat(), customer_id=f"c{n % 4}",
                                run_id=f"run-{n % 5}", section_path="agent:a",
                                usage={"input_tokens": 100 + n, "output_tokens": 7}))
    return events


def test_concurrent_batches_on_shared_rollup_rows_add_up_exactly(engine, make_account) -> None:
    tenant, _, _ = make_account()
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    batches = [_batch(f"b{n}-{uuid.uuid4().hex[:6]}", 120, hour) for n in range(12)]
    jobs = batches + batches[:4]  # four batches sent twice at the same time (an SDK retry)
    start = threading.Barrier(8)

    def write(events: list[dict]) -> tuple[int, int]:
        start.wait(timeout=30)  # in groups of eight, at the same instant
        with session_scope(engine) as session:
            result = ingest_events(session, tenant, events)
        return result.accepted, result.duplicates

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(write, jobs))
    expected = sum(len(batch) for batch in batches)
    assert sum(accepted for accepted, _ in results) == expected
    assert sum(duplicates for _, duplicates in results) == 4 * 120
    tokens = sum(e["usage"].get("input_tokens", 0) for batch in batches for e in batch)
    audio_calls = sum(1 for batch in batches for e in batch if "audio_seconds" in e["usage"])
    with engine.connect() as connection:
        def one(query: sa.Select) -> object:
            return connection.execute(query).scalar_one()
        assert one(sa.select(sa.func.count()).select_from(Event).where(Event.tenant_id == tenant)) == expected
        for table in (UsageHourly, TenantUsageHourly):
            assert one(sa.select(sa.func.sum(table.calls)).where(table.tenant_id == tenant)) == expected
            assert one(sa.select(sa.func.sum(table.input_tokens)).where(table.tenant_id == tenant)) == tokens
        assert one(sa.select(sa.func.sum(Run.calls)).where(Run.tenant_id == tenant)) == audio_calls + sum(
            1 for batch in batches for e in batch if e.get("run_id") and "input_tokens" in e["usage"])
        assert one(sa.select(sa.func.sum(TenantUnitUsageHourly.quantity))
                   .where(TenantUnitUsageHourly.tenant_id == tenant, TenantUnitUsageHourly.unit == "read_units")) \
            == 3 * sum(1 for batch in batches for e in batch if "units" in e["usage"])
