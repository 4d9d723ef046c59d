"""Ingest service: validation per event, pricing, idempotency, rollups equal to the raw events."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import select

from llmobserve_app.db import session_scope
from llmobserve_app.models import Event, Run, UsageHourly
from llmobserve_app.services.events import ingest_events
from pricing import compute_cost
from tests.app.conftest import event


def _ingest(engine, tenant_id, events):
    with session_scope(engine) as session:
        return ingest_events(session, tenant_id, events)


def test_hand_computed_cost_of_a_gpt_4o_mini_call(engine, make_account) -> None:
    tenant, _, _ = make_account()
    result = _ingest(engine, tenant, [event("one")])
    assert (result.accepted, result.duplicates, result.rejected) == (1, 0, [])
    with session_scope(engine) as session:
        row = session.exec(select(Event).where(Event.tenant_id == tenant)).one()
    # gpt-4o-mini: $0.15 / 1M input, $0.60 / 1M output → 1000 × 0.15e-6 + 200 × 0.60e-6 = $0.00027
    assert row.cost_nanos == 270_000
    assert row.priced and row.charged


def test_a_batch_sent_three_times_is_counted_once(engine, make_account) -> None:
    tenant, _, _ = make_account()
    batch = [event(f"span-{i}", run_id="run-1") for i in range(20)]
    first = _ingest(engine, tenant, batch)
    again = [_ingest(engine, tenant, batch) for _ in range(2)]
    assert (first.accepted, first.duplicates) == (20, 0)
    assert all((r.accepted, r.duplicates) == (0, 20) for r in again)
    with session_scope(engine) as session:
        hourly = session.exec(select(UsageHourly).where(UsageHourly.tenant_id == tenant)).all()
        run = session.exec(select(Run).where(Run.tenant_id == tenant)).one()
    assert sum(h.calls for h in hourly) == 20
    assert run.calls == 20 and run.cost_nanos == 20 * 270_000


def test_duplicates_inside_one_batch_count_once(engine, make_account) -> None:
    tenant, _, _ = make_account()
    result = _ingest(engine, tenant, [event("same"), event("same"), event("other")])
    assert (result.accepted, result.duplicates) == (2, 1)


def test_same_span_id_in_two_tenants_is_two_events(engine, make_account) -> None:
    alice, _, _ = make_account()
    bob, _, _ = make_account()
    assert _ingest(engine, alice, [event("shared")]).accepted == 1
    assert _ingest(engine, bob, [event("shared")]).accepted == 1


def test_one_bad_event_in_100_keeps_the_99_and_names_the_field(engine, make_account) -> None:
    tenant, _, _ = make_account()
    batch = [event() for _ in range(100)]
    batch[37] = event(usage={"input_tokens": -5})
    result = _ingest(engine, tenant, batch)
    assert result.accepted == 99
    assert [(r.index, r.error.split(":")[0]) for r in result.rejected] == [(37, "usage.input_tokens")]


def test_rejections_name_the_problem(engine, make_account) -> None:
    tenant, _, _ = make_account()
    bad = [
        "not an object",
        {"provider": "openai", "started_at": "2026-01-01T00:00:00Z"},  # no span_id
        event(started_at="2026-01-01T00:00:00"),  # no timezone
        event(status_code=700),
        event(tags={f"k{i}": "v" for i in range(21)}),
    ]
    result = _ingest(engine, tenant, bad)
    assert result.accepted == 0
    errors = [r.error for r in result.rejected]
    assert errors[0] == "event: must be a JSON object"
    assert errors[1].startswith("span_id:")
    assert errors[2].startswith("started_at:") and "timezone" in errors[2]
    assert errors[3].startswith("status_code:")
    assert "at most 20 tags" in errors[4]


def test_unknown_model_is_unpriced_never_zero(engine, make_account) -> None:
    tenant, _, _ = make_account()
    _ingest(engine, tenant, [event("mystery", model="totally-unknown-model-xyz")])
    with session_scope(engine) as session:
        row = session.exec(select(Event).where(Event.tenant_id == tenant)).one()
        (hourly,) = session.exec(select(UsageHourly).where(UsageHourly.tenant_id == tenant)).all()
    assert row.cost_nanos is None and row.priced is False
    assert hourly.priced is False and hourly.calls == 1 and hourly.cost_nanos == 0


def test_rate_limited_and_server_errors_are_failed_calls_not_spend(engine, make_account) -> None:
    tenant, _, _ = make_account()
    failed = [event(status_code=429), event(status_code=503), event(status_code=None, error="ConnectError")]
    _ingest(engine, tenant, failed)
    with session_scope(engine) as session:
        rows = session.exec(select(Event).where(Event.tenant_id == tenant)).all()
        hourly = session.exec(select(UsageHourly).where(UsageHourly.tenant_id == tenant)).all()
    assert all(r.cost_nanos == 0 and not r.charged for r in rows)
    assert sum(h.failed_calls for h in hourly) == 3 and sum(h.cost_nanos for h in hourly) == 0


def test_provider_reported_cost_wins(engine, make_account) -> None:
    tenant, _, _ = make_account()
    _ingest(engine, tenant, [event(provider="openrouter", model="openai/gpt-4o-mini",
                                   provider_reported_cost="0.0123")])
    with session_scope(engine) as session:
        row = session.exec(select(Event).where(Event.tenant_id == tenant)).one()
    assert row.cost_nanos == 12_300_000 and row.provider_reported_cost_nanos == 12_300_000


def test_rollups_equal_a_brute_force_sum_of_random_events(engine, make_account) -> None:
    """Hourly rollups and runs equal what the raw events add up to, over several random batches."""
    tenant, _, _ = make_account()
    rng = random.Random(20261123)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    events = []
    for _ in range(400):
        events.append(event(
            uuid.uuid4().hex,
            run_id=rng.choice([None, "r1", "r2", "r3"]),
            started_at=(start + timedelta(minutes=rng.randrange(0, 60 * 72))).isoformat(),
            model=rng.choice(["gpt-4o-mini", "gpt-4o", "unknown-model-q"]),
            status_code=rng.choice([200, 200, 200, 429, 500]),
            customer_id=rng.choice([None, "c1", "c2"]),
            section_path=rng.choice([None, "agent:a", "agent:b/tool:t"]),
            usage={"input_tokens": rng.randrange(0, 50_000), "output_tokens": rng.randrange(0, 5_000),
                   "cached_input_tokens": 0},
        ))
    for offset in range(0, 400, 50):
        _ingest(engine, tenant, events[offset:offset + 50])
    _ingest(engine, tenant, events[100:200])  # a retried slice changes nothing

    with session_scope(engine) as session:
        raw = session.exec(select(Event).where(Event.tenant_id == tenant)).all()
        hourly = session.exec(select(UsageHourly).where(UsageHourly.tenant_id == tenant)).all()
        runs = {r.run_id: r for r in session.exec(select(Run).where(Run.tenant_id == tenant))}
    assert len(raw) == 400
    expected: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in raw:
        key = (row.started_at.replace(minute=0, second=0, microsecond=0), row.customer_id or "", row.model or "",
               row.section_path or "", row.priced)
        expected[key][0] += 1
        expected[key][1] += 0 if row.charged else 1
        expected[key][2] += row.cost_nanos or 0
        expected[key][3] += row.input_tokens
    actual = {(h.hour, h.customer_id, h.model, h.section_path, h.priced):
              [h.calls, h.failed_calls, h.cost_nanos, h.input_tokens] for h in hourly}
    assert actual == dict(expected)
    for run_id in ("r1", "r2", "r3"):
        mine = [row for row in raw if row.run_id == run_id]
        assert runs[run_id].calls == len(mine)
        assert runs[run_id].cost_nanos == sum(row.cost_nanos or 0 for row in mine)
        assert runs[run_id].first_seen == min(row.started_at for row in mine)
    # Event costs are the pricing package's, to the nano-dollar.
    sample = next(row for row in raw if row.charged and row.model == "gpt-4o")
    cost = compute_cost("openai", "gpt-4o", {"input_tokens": sample.input_tokens,
                                             "output_tokens": sample.output_tokens}, at=sample.started_at)
    assert sample.cost_nanos == int((cost.usd * 10**9).to_integral_value())


def test_nothing_is_half_written_when_the_transaction_fails(engine, make_account) -> None:
    tenant, _, _ = make_account()
    try:
        with session_scope(engine) as session:
            ingest_events(session, tenant, [event("a"), event("b")])
            raise RuntimeError("crash after insert, before commit")
    except RuntimeError:
        pass
    with engine.connect() as connection:
        count = connection.execute(sa.select(sa.func.count()).select_from(Event).where(Event.tenant_id == tenant))
        assert count.scalar_one() == 0
    assert _ingest(engine, tenant, [event("a"), event("b")]).accepted == 2
