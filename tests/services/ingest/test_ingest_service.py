"""Ingest service: validation per event, pricing, idempotency, rollups equal to the raw events."""

from __future__ import annotations

import json
import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import select

import pricing
from llmobserve_app.db import session_scope
from llmobserve_app.models import Event, Run, UsageHourly
from llmobserve_app.services.ingest.batch import prepare_events
from llmobserve_app.services.ingest.rows import EVENT_COLUMNS
from llmobserve_app.services.ingest.schema import parse_valid_batch, validate_events
from llmobserve_app.services.ingest.store import ingest_events
from llmobserve_app.services.money import usd_to_nanos
from pricing import compute_cost
from tests.factories import event
from tests.services.ingest.test_fast_events import event_values


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


def test_a_partly_stored_batch_adds_only_its_new_events_to_the_rollups(engine, make_account) -> None:
    tenant, _, _ = make_account()
    first = [event(f"p{i}", run_id="run-p") for i in range(10)]
    _ingest(engine, tenant, first[:4])
    result = _ingest(engine, tenant, first)  # 4 stored already, 6 new
    assert (result.accepted, result.duplicates) == (6, 4)
    with session_scope(engine) as session:
        hourly = session.exec(select(UsageHourly).where(UsageHourly.tenant_id == tenant)).all()
        run = session.exec(select(Run).where(Run.tenant_id == tenant)).one()
    assert sum(h.calls for h in hourly) == 10 and run.calls == 10 and run.cost_nanos == 10 * 270_000


def test_every_column_reads_back_through_the_orm(engine, make_account) -> None:
    """Rows are written through the DB-API connection: they must read back exactly as the ORM maps them."""
    tenant, _, _ = make_account()
    started = datetime(2026, 11, 2, 13, 45, 7, tzinfo=UTC)
    _ingest(engine, tenant, [
        event("full", run_id="r-full", parent_span_id="parent", started_at="2026-11-02T14:45:07+01:00",
              ended_at="2026-11-02T13:45:08.250000Z", endpoint="messages", streamed=True, incomplete=True,
              provider=" Anthropic ", model="claude-3-5-haiku-latest", customer_id="cust-9",
              section_path="agent:research/tool:web", tags={"env": "prod"}, service_tier="standard",
              usage={"input_tokens": 900, "cached_input_tokens": 100, "cache_write_tokens": 50, "output_tokens": 70,
                     "reasoning_tokens": 0, "units": {"input_image_tokens": 10}},
              sdk_version="0.1.0"),
        event("bare", started_at="2026-11-02T13:00:00Z", model=None, status_code=None, usage={"audio_seconds": 1.5}),
    ])
    with session_scope(engine) as session:
        full = session.exec(select(Event).where(Event.tenant_id == tenant, Event.span_id == "full")).one()
        bare = session.exec(select(Event).where(Event.tenant_id == tenant, Event.span_id == "bare")).one()
        in_window = session.exec(select(Event).where(Event.tenant_id == tenant, Event.started_at >= started,
                                                     Event.started_at <= started)).all()
        (hour,) = session.exec(select(UsageHourly).where(UsageHourly.tenant_id == tenant,
                                                         UsageHourly.customer_id == "cust-9")).all()
        run = session.exec(select(Run).where(Run.tenant_id == tenant)).one()
    assert [row.span_id for row in in_window] == ["full"]  # stored times compare like SQLAlchemy's
    assert (full.started_at, full.ended_at, full.latency_ms) == (
        started, datetime(2026, 11, 2, 13, 45, 8, 250000, tzinfo=UTC), 1250)
    assert (full.run_id, full.parent_span_id, full.provider, full.model, full.endpoint) == (
        "r-full", "parent", "anthropic", "claude-3-5-haiku-latest", "messages")
    assert (full.streamed, full.incomplete, full.batch, full.charged, full.priced) == (True, True, False, True, True)
    assert (full.input_tokens, full.cached_input_tokens, full.cache_write_tokens, full.output_tokens) == (
        900, 100, 50, 70)
    assert (full.units, full.tags, full.customer_id, full.agent) == ({"input_image_tokens": 10.0}, {"env": "prod"},
                                                                    "cust-9", "research")
    cost = compute_cost("Anthropic", "claude-3-5-haiku-latest",
                        {"input_tokens": 900, "cached_input_tokens": 100, "cache_write_tokens": 50,
                         "output_tokens": 70, "units": {"input_image_tokens": 10}}, at=started,
                        service_tier="standard")
    assert full.cost_nanos == int((cost.usd * 10**9).to_integral_value()) and full.price_id == cost.price_id
    assert full.received_at.tzinfo is not None and full.status_code == 200 and full.sdk_version == "0.1.0"
    assert (bare.model, bare.status_code, bare.audio_seconds, bare.ended_at) == (None, None, 1.5, bare.started_at)
    assert (hour.hour, hour.agent, hour.calls, hour.cost_nanos) == (
        datetime(2026, 11, 2, 13, tzinfo=UTC), "research", 1, full.cost_nanos)
    assert (run.first_seen, run.last_seen, run.customer_id, run.agent) == (
        full.started_at, full.ended_at, "cust-9", "research")


def test_the_one_pass_parser_accepts_exactly_the_clean_batches() -> None:
    """``parse_valid_batch`` is a shortcut: it must agree with event-by-event validation or step aside."""
    clean = [event(f"c{i}", tags={"k": "v"}, usage={"input_tokens": 5, "units": {"read_units": 2}}) for i in range(3)]
    parsed = parse_valid_batch(json.dumps({"events": clean, "sdk": "x"}))
    validated, rejected = validate_events(clean)
    assert parsed is not None and rejected == []
    assert [event_values(one) for one in parsed] == [event_values(one) for one in validated]
    for body in ('{"events": [{"span_id": "x"}]}', '{"events": 5}', "[]", "{", '{"events": [1]}', b"\xff"):
        assert parse_valid_batch(body) is None


def test_infinite_usage_is_rejected_by_name_and_the_rest_kept(engine, make_account) -> None:
    """JSON 1e400 parses to infinity; on a failed call nothing prices it, so validation must stop it."""
    tenant, _, _ = make_account()
    body = ('{"events": [' + json.dumps(event("ok-1")) + ","
            + json.dumps(event("inf-units", status_code=500))[:-1] + ', "usage": {"units": {"read_units": 1e400}}},'
            + json.dumps(event("inf-audio", status_code=500))[:-1] + ', "usage": {"audio_seconds": 1e400}}]}')
    raw_events = json.loads(body)["events"]
    assert parse_valid_batch(body) is None  # neither fast path takes it
    with session_scope(engine) as session:
        result = ingest_events(session, tenant, raw_events)
    assert result.accepted == 1
    assert [(r.index, r.error.split(":")[0]) for r in result.rejected] == [
        (1, "usage.units.read_units"), (2, "usage.audio_seconds")]


def test_nul_characters_and_oversized_counts_are_rejected_by_name(engine, make_account) -> None:
    """PostgreSQL text cannot hold NUL and the token columns are BIGINT: such events are rejected alone,
    instead of failing their whole batch at the database."""
    tenant, _, _ = make_account()
    body = json.dumps({"events": [event("fine"), event("nul", customer_id="a\u0000b"),
                                  event("nul-tag", tags={"k": "v\u0000"}),
                                  event("huge", usage={"input_tokens": 2**64}),
                                  event("many", usage={"input_tokens": 5, "requests": 2**31})]})
    assert parse_valid_batch(body) is None
    with session_scope(engine) as session:
        result = ingest_events(session, tenant, json.loads(body)["events"])
    assert result.accepted == 1
    assert [(r.index, r.error.split(":")[0]) for r in result.rejected] == [
        (1, "event"), (2, "event"), (3, "usage.input_tokens"), (4, "usage.requests")]
    assert "NUL" in result.rejected[0].error


def test_every_pricing_path_stores_what_compute_cost_says() -> None:
    """Plain token calls take the integer fast path (pricing.flat); batch, tiers, audio, units, reported costs,
    inconsistent and unknown ones the general path: each event's stored cost is compute_cost's."""
    cases = [
        {"model": "gpt-4o-mini", "usage": {"input_tokens": 1234, "cached_input_tokens": 1000, "output_tokens": 9}},
        {"provider": "anthropic", "model": "claude-sonnet-4-20250514",
         "usage": {"input_tokens": 5000, "cached_input_tokens": 100, "cache_write_tokens": 300, "output_tokens": 7}},
        {"provider": "mistral", "model": "mistral-small-latest", "usage": {"input_tokens": 10, "output_tokens": 3}},
        {"model": "gpt-4o-mini", "batch": True, "usage": {"input_tokens": 1000, "output_tokens": 200}},
        {"model": "gpt-4o-mini", "service_tier": "flex", "usage": {"input_tokens": 1000, "output_tokens": 200}},
        {"model": "whisper-1", "usage": {"audio_seconds": 12.5}},
        {"provider": "pinecone", "model": "serverless", "usage": {"units": {"read_units": 3}}},
        {"model": "gpt-4o-mini", "provider_reported_cost": "0.0123", "usage": {"input_tokens": 1}},
        {"model": "text-embedding-3-small", "usage": {"input_tokens": 10, "output_tokens": 5}},  # unpriced output
        {"model": "no-such-model", "usage": {"input_tokens": 10}},
        {"provider": "google", "model": "gemini-2.5-pro", "usage": {"input_tokens": 300_000, "output_tokens": 10}},
    ]
    started = datetime(2026, 11, 23, 18, tzinfo=UTC)
    events = [event(f"path-{index}", started_at=started.isoformat(), **case) for index, case in enumerate(cases)]
    validated, rejected = validate_events(events)
    assert rejected == []
    batch = prepare_events(1, validated)
    columns = {name: index for index, name in enumerate(EVENT_COLUMNS)}
    for case, row in zip(cases, batch.rows, strict=True):
        usage = {**case["usage"], "requests": 1}
        cost = compute_cost(case.get("provider", "openai"), case["model"], usage, at=started,
                            batch=case.get("batch", False), service_tier=case.get("service_tier"),
                            provider_reported_cost=case.get("provider_reported_cost"))
        assert row[columns["priced"]] == (cost.priced and cost.usd is not None), case
        assert row[columns["cost_nanos"]] == (usd_to_nanos(cost.usd) if row[columns["priced"]] else None), case
        assert row[columns["price_id"]] == cost.price_id, case


def test_counts_and_costs_beyond_one_call_are_rejected_by_name_and_the_rest_kept() -> None:
    """Per call at most 10**15 tokens and $1M, so a whole batch's sums fit the BIGINT rollup columns."""
    events = [event("fine"), event("tokens", usage={"input_tokens": 10**15 + 1}),
              event("cost", model="gpt-4o", usage={"input_tokens": 10**15}),
              event("reported", provider_reported_cost="1000000.01")]
    validated, rejected = validate_events(events)
    batch = prepare_events(1, validated, rejected)
    assert [row[EVENT_COLUMNS.index("span_id")] for row in batch.rows] == ["fine"]
    assert [(r.index, r.error.split(":")[0], "$1,000,000" in r.error) for r in batch.rejected] == [
        (1, "usage.input_tokens", False), (2, "event", True), (3, "event", True)]
    assert parse_valid_batch(json.dumps({"events": events[:2]})) is None  # the fast path steps aside too


def test_a_literal_backslash_u0000_is_text_not_a_nul() -> None:
    """Only a \\u0000 escape is a NUL; an escaped backslash followed by 'u0000' is ordinary text."""
    text = json.dumps({"events": [event("literal", customer_id="a\\u0000b")]})
    assert "\\\\u0000" in text
    parsed = parse_valid_batch(text)
    assert parsed is not None and parsed[0].customer_id == "a\\u0000b"
    assert parse_valid_batch(json.dumps({"events": [event("nul", customer_id="a\u0000b")]})) is None


def test_an_unpriced_model_is_priced_as_compute_cost_says_and_price_changes_apply_at_once(
    monkeypatch, tmp_path
) -> None:
    """Ingest answers "unpriced" for a model without a price from a cache (``pricing.unknown_model``) instead
    of ``compute_cost``: the row is the same, and a price registered or loaded later applies to the next batch."""
    model = "no-such-model-at-ingest"
    started = datetime(2026, 11, 23, 18, tzinfo=UTC)

    def priced_row() -> tuple[bool, int | None, str | None]:
        validated, _ = validate_events([event(uuid.uuid4().hex, model=model, started_at=started.isoformat(),
                                              usage={"input_tokens": 1_000_000})])
        row = prepare_events(1, validated).rows[0]
        return tuple(row[EVENT_COLUMNS.index(name)] for name in ("priced", "cost_nanos", "price_id"))

    cost = compute_cost("openai", model, {"input_tokens": 1_000_000}, at=started)
    try:
        assert priced_row() == priced_row() == (False, None, cost.price_id) == (False, None, None)
        pricing.register_price("openai", model, {"input_mtok": "2"})
        assert priced_row()[:2] == (True, 2 * 10**9)
        pricing.reload()
        assert priced_row() == (False, None, None)
        path = tmp_path / "overrides.json"
        path.write_text(json.dumps({"providers": [{"id": "openai", "models": [{"id": model, "prices": {
            "input_mtok": "5"}}]}]}))
        monkeypatch.setenv("PRICING_OVERRIDES", str(path))
        pricing.reload()
        assert priced_row()[:2] == (True, 5 * 10**9)
    finally:
        monkeypatch.delenv("PRICING_OVERRIDES", raising=False)
        pricing.reload()
