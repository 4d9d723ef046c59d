"""Re-pricing past calls: every event of the window priced as a brute-force re-pricing says, every rollup equal
to one rebuilt from the events, the audit counters right, idempotent, other windows and accounts untouched."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from llmobserve_app import recalculate as recalculate_cli
from llmobserve_app.db import session_scope
from llmobserve_app.models import Event, PriceRecalculation
from llmobserve_app.services import custom_prices, leases, recalculation, rollups
from llmobserve_app.services.custom_prices import parse_price
from llmobserve_app.services.errors import UserFacingError
from llmobserve_app.services.ingest.store import ingest_events
from llmobserve_app.services.money import usd_to_nanos
from pricing.custom import CustomPricing
from tests.factories import event, rollup_snapshot

DAY0 = (datetime.now(UTC) - timedelta(days=4)).replace(hour=0, minute=0, second=0, microsecond=0)
CALLS = [
    ("openai", "gpt-4o-mini", {"input_tokens": 1200, "cached_input_tokens": 200, "output_tokens": 300}),
    ("openai", "gpt-4o", {"input_tokens": 900, "output_tokens": 100, "reasoning_tokens": 20}),
    ("ollama", "llama3.1:8b", {"input_tokens": 5000, "output_tokens": 700}),  # unpriced until a custom price
    ("openai-compatible", "gpt-4o-2024-08-06", {"input_tokens": 100, "output_tokens": 50}),  # inferred
    ("my-gateway", "house-model", {"input_tokens": 10, "output_tokens": 10}),
    ("anthropic", "claude-sonnet-4-5", {"input_tokens": 3000, "output_tokens": 200}),
]


def _events(rng: random.Random, count: int) -> list[dict[str, Any]]:
    out = []
    for index in range(count):
        provider, model, usage = rng.choice(CALLS)
        started = DAY0 + timedelta(minutes=rng.randrange(0, 4 * 24 * 60))
        out.append(event(
            f"e{index}-{rng.getrandbits(32):08x}", provider=provider, model=model, usage=usage,
            started_at=started.isoformat(), ended_at=(started + timedelta(seconds=2)).isoformat(),
            status_code=rng.choice([200] * 9 + [500]), run_id=f"run-{index // 5}",
            customer_id=rng.choice(["acme", "globex", None]),
            section_path=rng.choice(["agent:research", "agent:support/tool:kb", None])))
    return out


def _stored(engine, tenant: int) -> dict[str, tuple[Any, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(Event.span_id, Event.cost_nanos, Event.priced, Event.price_id)
                                  .where(Event.tenant_id == tenant)).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def _brute_force(engine, tenant: int, sent: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """Every call priced again from scratch with ``compute_cost`` (the reference path) and the account's prices."""
    with session_scope(engine) as session:
        prices = CustomPricing([custom_prices.custom_rate(p) for p in custom_prices.list_prices(session, tenant)])
    expected = {}
    for call in sent:
        if call["status_code"] >= 400:
            expected[call["span_id"]] = (0, True, "not_charged")
            continue
        cost = prices.compute_cost(call["provider"], call["model"], call["usage"],
                                   at=datetime.fromisoformat(call["started_at"]))
        expected[call["span_id"]] = ((usd_to_nanos(cost.usd), True, cost.price_id) if cost.priced
                                     else (None, False, cost.price_id))
    return expected


def _save(engine, tenant: int, **fields: Any) -> None:
    with session_scope(engine) as session:
        custom_prices.put_price(session, tenant, parse_price(fields))
    custom_prices.forget(tenant)


def test_recalculation_equals_a_brute_force_re_pricing(engine, make_account, monkeypatch) -> None:
    monkeypatch.setattr(recalculation, "CHUNK_EVENTS", 7)  # many chunks, and a window not a multiple of it
    monkeypatch.setattr(recalculation, "WRITE_EVENTS", 2)  # chunks written in several pieces
    monkeypatch.setattr(recalculation, "FULL_SPEED_WRITES", 1)
    tenant, _, _ = make_account("repriced")
    other, _, _ = make_account("untouched")
    sent = _events(random.Random(20261201), 150)
    with session_scope(engine) as session:
        ingest_events(session, tenant, sent)
        ingest_events(session, other, sent)
    other_before = (_stored(engine, other), rollup_snapshot(engine, other))
    stored_before = _stored(engine, tenant)

    _save(engine, tenant, provider="ollama", model="llama3.1:8b", input_per_mtok="0", output_per_mtok="0.01")
    _save(engine, tenant, provider="openai", model="gpt-4o-mini", input_per_mtok="0.1", output_per_mtok="0.4",
          effective_from=(DAY0 + timedelta(days=2)).isoformat())
    _save(engine, tenant, model="house-model", input_per_mtok="1000", output_per_mtok="1000")
    _save(engine, tenant, provider="anthropic", model="claude-sonnet-4-5", input_per_mtok="3",
          output_per_mtok="15")  # the bundled price again, under another id: the price id changes, the cost not

    window = (DAY0 + timedelta(days=1), DAY0 + timedelta(days=4))
    job = recalculation.recalculate(engine, tenant, *window)

    in_window = {c["span_id"] for c in sent if window[0] <= datetime.fromisoformat(c["started_at"]) < window[1]}
    expected = _brute_force(engine, tenant, sent)
    stored = _stored(engine, tenant)
    for span, before in stored_before.items():
        assert stored[span] == (expected[span] if span in in_window else before), span
    changed = [span for span in in_window if stored_before[span] != expected[span]]
    charged_in_window = [c["span_id"] for c in sent if c["span_id"] in in_window and c["status_code"] < 400]
    assert changed and 0 < len(in_window) < len(sent)
    assert (job.status, job.events_seen, job.calls_changed) == ("done", len(in_window), len(changed))
    assert job.cost_before_nanos == sum(stored_before[s][0] or 0 for s in charged_in_window)
    assert job.cost_after_nanos == sum(expected[s][0] or 0 for s in charged_in_window)
    assert job.unpriced_before > job.unpriced_after == sum(not expected[s][1] for s in charged_in_window)

    # every rollup exactly what a rebuild from the events gives
    recalculated = rollup_snapshot(engine, tenant)
    with session_scope(engine) as session:
        rollups.rebuild_tenant(session, tenant)
    assert recalculated == rollup_snapshot(engine, tenant)

    again = recalculation.recalculate(engine, tenant, *window)  # idempotent
    assert (again.calls_changed, again.cost_before_nanos) == (0, again.cost_after_nanos)
    assert _stored(engine, tenant) == stored
    assert (_stored(engine, other), rollup_snapshot(engine, other)) == other_before


def test_a_job_resumes_from_its_cursor_and_keeps_its_audit(engine, make_account, monkeypatch) -> None:
    monkeypatch.setattr(recalculation, "CHUNK_EVENTS", 4)
    tenant, _, _ = make_account()
    sent = _events(random.Random(3), 10)
    with session_scope(engine) as session:
        ingest_events(session, tenant, sent)
    _save(engine, tenant, model="llama3.1:8b", input_per_mtok="0", output_per_mtok="0")
    with session_scope(engine) as session:
        job_id = recalculation.start(session, tenant, DAY0, DAY0 + timedelta(days=5)).id
    assert recalculation.run_chunk(engine, job_id) is False  # 4 of 10 done, then the process "dies"
    recalculation.run(engine, job_id, pause=0)  # another process takes it up
    with session_scope(engine) as session:
        job = session.get(PriceRecalculation, job_id)
        assert (job.status, job.events_seen, job.finished_at is not None) == ("done", 10, True)
        assert recalculation.get(session, tenant + 10_000, job_id) is None  # another account: not found
    expected = _brute_force(engine, tenant, sent)
    assert _stored(engine, tenant) == expected


def test_an_empty_or_inverted_window() -> None:
    with pytest.raises(UserFacingError) as error:
        recalculation.start(None, 1, DAY0, DAY0)  # type: ignore[arg-type]
    assert error.value.field == "from"


def test_the_command_line_re_prices_a_window(engine, database_url, make_account, capsys) -> None:
    tenant, _, _ = make_account()
    sent = _events(random.Random(5), 12)
    with session_scope(engine) as session:
        ingest_events(session, tenant, sent)
    _save(engine, tenant, model="house-model", input_per_mtok="0", output_per_mtok="0")
    args = ["--tenant", str(tenant), "--from", DAY0.date().isoformat(), "--database-url", database_url,
            "--pause", "0"]
    assert recalculate_cli.main(args) == 0
    assert "'status': 'done', 'from'" in capsys.readouterr().out
    assert _stored(engine, tenant) == _brute_force(engine, tenant, sent)
    assert recalculate_cli.main([*args[:3], "2026-13-01", *args[4:]]) == 2  # --from 2026-13-01
    assert "from must be an ISO date" in capsys.readouterr().err


def test_a_killed_recalculation_is_continued_from_its_cursor_once_its_lease_expires(
        engine, database_url, make_account) -> None:
    """A real process runs the job (the command line, small chunks, long pauses) and is killed with SIGKILL
    mid-job; ``resume_due`` (the scheduler's minute job) leaves it alone while the dead runner's lease lasts,
    then continues it from the stored cursor: every event priced as a brute force says, each event counted
    once (no chunk applied twice), rollups as a rebuild gives them."""
    tenant, _, _ = make_account()
    sent = _events(random.Random(11), 240)
    with session_scope(engine) as session:
        ingest_events(session, tenant, sent)
    stored_before = _stored(engine, tenant)
    _save(engine, tenant, provider="ollama", model="llama3.1:8b", input_per_mtok="0.2", output_per_mtok="0.6")
    _save(engine, tenant, provider="openai", model="gpt-4o-mini", input_per_mtok="0.1", output_per_mtok="0.4")
    lease = timedelta(seconds=2)
    process = subprocess.Popen(
        [sys.executable, "-m", "llmobserve_app.recalculate", "--tenant", str(tenant),
         "--from", DAY0.isoformat(), "--to", (DAY0 + timedelta(days=5)).isoformat(), "--database-url", database_url,
         "--chunk-events", "15", "--pause", "40", "--lease-seconds", str(lease.total_seconds())],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            with engine.connect() as connection:
                job = connection.execute(sa.select(PriceRecalculation).where(
                    PriceRecalculation.tenant_id == tenant)).first()
            if job is not None and job.events_seen >= 45:
                break
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        assert process.wait(10) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    with engine.connect() as connection:
        job = connection.execute(sa.select(PriceRecalculation).where(PriceRecalculation.id == job.id)).one()
    assert job.status == "running" and 45 <= job.events_seen < len(sent)

    assert recalculation.resume_due(engine, lease, background=False, pause=0) == []  # its lease still runs
    time.sleep(max(0.0, lease.total_seconds() + 0.2 - (time.monotonic() - killed_at)))
    assert recalculation.resume_due(engine, lease, background=False, pause=0) == [job.id]

    expected = _brute_force(engine, tenant, sent)
    assert _stored(engine, tenant) == expected
    with session_scope(engine) as session:
        done = session.get(PriceRecalculation, job.id)
        charged = [c["span_id"] for c in sent if c["status_code"] < 400]
        assert (done.status, done.events_seen) == ("done", len(sent))
        assert done.calls_changed == sum(stored_before[span] != expected[span] for span in expected)
        assert done.cost_before_nanos == sum(stored_before[s][0] or 0 for s in charged)
        assert done.cost_after_nanos == sum(expected[s][0] or 0 for s in charged)
    recalculated = rollup_snapshot(engine, tenant)
    with session_scope(engine) as session:
        rollups.rebuild_tenant(session, tenant)
    assert recalculated == rollup_snapshot(engine, tenant)
    assert recalculation.resume_due(engine, lease, background=False) == []  # nothing left running


def test_a_call_re_priced_by_another_runner_meanwhile_is_not_moved_twice(engine, make_account, monkeypatch) -> None:
    """A runner that stalled between its read of a chunk and its write, while another runner took the job over
    and finished it (an account has one job at a time, but a stalled runner's lease can expire): the stalled
    runner's write finds the calls no longer as it read them, rolls back and reads the chunk again (nothing left
    to change). Every rollup still equals a rebuild; nothing is counted twice, in the data or the audit."""
    tenant, _, _ = make_account()
    sent = _events(random.Random(17), 60)
    with session_scope(engine) as session:
        ingest_events(session, tenant, sent)
    _save(engine, tenant, provider="ollama", model="llama3.1:8b", input_per_mtok="0.2", output_per_mtok="0.6")
    window = (DAY0, DAY0 + timedelta(days=5))
    with session_scope(engine) as session:
        first = recalculation.start(session, tenant, *window).id
    read = recalculation._changes
    interleaved: list[bool] = []

    def read_then_another_runner_finishes_the_job(*args: Any) -> Any:
        changes = read(*args)
        if not interleaved:
            interleaved.append(True)  # once: the other runner reads through this function too
            recalculation.run(engine, first, pause=0, chunk_events=1000)
        return changes

    monkeypatch.setattr(recalculation, "_changes", read_then_another_runner_finishes_the_job)
    recalculation.run(engine, first, pause=0, chunk_events=1000)
    assert interleaved
    with session_scope(engine) as session:
        job = session.get(PriceRecalculation, first)
        assert (job.status, job.events_seen) == ("done", 60)
        assert 0 < job.calls_changed <= 60
    assert _stored(engine, tenant) == _brute_force(engine, tenant, sent)
    recalculated = rollup_snapshot(engine, tenant)
    with session_scope(engine) as session:
        rollups.rebuild_tenant(session, tenant)
    assert recalculated == rollup_snapshot(engine, tenant)


def test_the_minute_job_continues_a_job_in_a_background_process(engine, make_account) -> None:
    """``resume_due`` as the scheduler calls it: a job left running with no runner is taken up in a child process
    (``run_in_background``), which finishes it and gives its lease up."""
    tenant, _, _ = make_account()
    sent = _events(random.Random(23), 40)
    with session_scope(engine) as session:
        ingest_events(session, tenant, sent)
    _save(engine, tenant, provider="ollama", model="llama3.1:8b", input_per_mtok="0.3", output_per_mtok="0.9")
    with session_scope(engine) as session:
        job_id = recalculation.start(session, tenant, DAY0, DAY0 + timedelta(days=5)).id
    assert recalculation.resume_due(engine, timedelta(seconds=30), pause=0) == [job_id]
    deadline = time.monotonic() + 60
    while True:
        with engine.connect() as connection:
            status = connection.execute(sa.select(PriceRecalculation.status)
                                        .where(PriceRecalculation.id == job_id)).scalar_one()
        if status != "running":
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert status == "done"
    assert _stored(engine, tenant) == _brute_force(engine, tenant, sent)
    while leases.current_holder(engine, recalculation.lease_name(job_id)) is not None:  # given up after "done"
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_an_account_runs_one_recalculation_at_a_time(engine, make_account) -> None:
    """Each job runs in a process of its own: a second start while one runs is refused naming the running job
    (the unique index holds it even against a racing insert); another account, or the next job once the first
    ended, starts."""
    tenant, _, _ = make_account()
    other, _, _ = make_account("other")
    start, end = DAY0, DAY0 + timedelta(days=1)
    with session_scope(engine) as session:
        first = recalculation.start(session, tenant, start, end).id
    with session_scope(engine) as session, pytest.raises(recalculation.RecalculationRunning) as refused:
        recalculation.start(session, tenant, start, end)
    assert refused.value.job_id == first and f"job {first}" in refused.value.message
    with session_scope(engine) as session:
        others_job = recalculation.start(session, other, start, end).id
    assert others_job != first
    recalculation.run(engine, others_job, pause=0)  # nothing left running for the next tests' minute jobs
    with pytest.raises(sa.exc.IntegrityError), session_scope(engine) as session:  # what a racing insert meets
        session.add(PriceRecalculation(tenant_id=tenant, window_start=start, window_end=end))
    recalculation.run(engine, first, pause=0)
    with session_scope(engine) as session:
        second = recalculation.start(session, tenant, start, end).id
    assert second > first
    recalculation.run(engine, second, pause=0)


def test_a_job_process_prices_with_the_accepted_pricing_url_data(engine, database_url, make_account,
                                                                  fetched_prices) -> None:
    """A job's own process (the command line, as a background job runs) re-prices with the prices in force on
    the server: the newest accepted PRICING_URL document, not only the bundled data."""
    tenant, _, _ = make_account()
    call = event("remote-1", provider="openai", model="gpt-4o", started_at=(DAY0 + timedelta(hours=1)).isoformat(),
                 usage={"input_tokens": 1_000_000, "output_tokens": 0})
    with session_scope(engine) as session:
        ingest_events(session, tenant, [call])
    fetched_prices("2026-12-05.1", "100")  # accepted by another process: $100 per million input tokens
    done = subprocess.run(
        [sys.executable, "-m", "llmobserve_app.recalculate", "--tenant", str(tenant), "--from", DAY0.isoformat(),
         "--database-url", database_url, "--pause", "0"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with engine.connect() as connection:
        cost, price_id = connection.execute(sa.select(Event.cost_nanos, Event.price_id).where(
            Event.tenant_id == tenant)).one()
    assert cost == 100 * 10**9 and price_id.startswith("remote:"), (cost, price_id)


def test_a_job_whose_runners_keep_stopping_is_given_up(engine, make_account) -> None:
    tenant, _, _ = make_account()
    with session_scope(engine) as session:
        job_id = recalculation.start(session, tenant, DAY0, DAY0 + timedelta(days=1)).id
    with engine.begin() as connection:
        connection.execute(sa.update(PriceRecalculation).where(PriceRecalculation.id == job_id)
                           .values(attempts=recalculation.MAX_ATTEMPTS))
    recalculation.run(engine, job_id, pause=0)
    with session_scope(engine) as session:
        job = session.get(PriceRecalculation, job_id)
        assert (job.status, job.error) == ("failed", f"gave up after {recalculation.MAX_ATTEMPTS} attempts "
                                                     "(its runners kept stopping)")


def test_a_database_error_leaves_the_job_to_be_continued(engine, make_account, monkeypatch) -> None:
    """A busy or unreachable database is not the job's fault: it stays running, its lease is given up, and
    the minute job continues it."""
    tenant, _, _ = make_account()
    with session_scope(engine) as session:
        job_id = recalculation.start(session, tenant, DAY0, DAY0 + timedelta(days=1)).id

    def busy(*args: Any, **kwargs: Any) -> bool:
        raise sa.exc.OperationalError("UPDATE events", {}, Exception("database is locked"))

    monkeypatch.setattr(recalculation, "run_chunk", busy)
    holder = recalculation.claim(engine, job_id)
    with pytest.raises(sa.exc.OperationalError):
        recalculation.run(engine, job_id, pause=0, holder=holder)
    with session_scope(engine) as session:
        assert session.get(PriceRecalculation, job_id).status == "running"
    assert leases.current_holder(engine, recalculation.lease_name(job_id)) is None
    monkeypatch.undo()
    assert job_id in recalculation.resume_due(engine, background=False)
    with session_scope(engine) as session:
        assert session.get(PriceRecalculation, job_id).status == "done"


def test_background_job_processes_are_bounded_per_installation(engine, make_account) -> None:
    """At most MAX_BACKGROUND_JOBS job processes at once: a further job waits (running, no process) for the
    minute job to start it once one has ended."""
    tenant, _, _ = make_account()
    with session_scope(engine) as session:
        job_id = recalculation.start(session, tenant, DAY0, DAY0 + timedelta(days=1)).id
    others = [f"{recalculation.LEASE_PREFIX}busy-{index}-{job_id}"
              for index in range(recalculation.MAX_BACKGROUND_JOBS)]
    try:
        for name in others:
            assert leases.claim(engine, name, "elsewhere", timedelta(minutes=5))
        assert recalculation.run_in_background(engine, job_id) is False
        assert recalculation.resume_due(engine) == []
        assert leases.current_holder(engine, recalculation.lease_name(job_id)) is None
    finally:
        for name in others:
            leases.release(engine, name, "elsewhere")
    assert job_id in recalculation.resume_due(engine, background=False)
