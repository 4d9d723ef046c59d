"""The SQLite ingest writer: APSW group commit (same rows as the SQLAlchemy path) and the writer process."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import apsw
import pytest
import sqlalchemy as sa

from ingest_api import writer_process
from ingest_api.batches import BatchWriter, writer_process_for
from ingest_api.sqlite_writer import SqliteWriter
from ingest_api.writer_process import IngestWriteError, WriterProcess
from llmobserve_app.db import get_engine, migrate, session_scope
from llmobserve_app.models import utcnow
from llmobserve_app.services import accounts
from llmobserve_app.services.ingest.batch import IngestResult, PreparedBatch, prepare_events
from llmobserve_app.services.ingest.rows import EVENT_COLUMNS
from llmobserve_app.services.ingest.schema import validate_events
from llmobserve_app.services.ingest.store import write_prepared
from tests.factories import event, unique_email

TABLES = ("events", "usage_hourly", "tenant_usage_hourly", "customer_usage_daily", "unit_usage_hourly",
          "tenant_unit_usage_hourly", "runs", "tenant_late_versions")


def _database(tmp_path: Path, name: str) -> tuple[str, int]:
    """A migrated SQLite file with one account; returns (path, tenant id)."""
    path = tmp_path / f"{name}.db"
    url = f"sqlite:///{path}"
    migrate(url)
    with session_scope(get_engine(url)) as session:
        tenant = accounts.signup(session, unique_email(name), "correct horse", "Writer").id
    get_engine(url).dispose()
    return str(path), tenant


def _batch(tenant: int, events: list[dict]) -> PreparedBatch:
    validated, rejected = validate_events(events)
    return prepare_events(tenant, validated, rejected, "sqlite")


def _random_events(rng: random.Random, count: int, span_prefix: str) -> list[dict]:
    """Events of a few customers, agents, runs, units, failures and late hours (older than the current one)."""
    now = datetime.now(UTC)
    events = []
    for index in range(count):
        started = now - timedelta(minutes=rng.choice([0, 1, 5, 90, 60 * 30]), seconds=rng.randrange(60))
        usage: dict = {"input_tokens": rng.randrange(0, 5000), "output_tokens": rng.randrange(0, 900)}
        if rng.random() < 0.2:
            usage = {"units": {"read_units": rng.randrange(1, 9)}}
        events.append(event(
            f"{span_prefix}-{index}",
            run_id=f"run-{rng.randrange(5)}" if rng.random() < 0.8 else None,
            started_at=started.isoformat(),
            ended_at=(started + timedelta(milliseconds=rng.randrange(1, 4000))).isoformat(),
            provider="pinecone" if "units" in usage else rng.choice(["openai", "anthropic"]),
            model="serverless" if "units" in usage else rng.choice(["gpt-4o-mini", "claude-3-5-haiku-latest"]),
            status_code=rng.choice([200, 200, 200, 429]),
            usage=usage,
            customer_id=rng.choice([None, "acme", "globex", "initech"]),
            section_path=rng.choice([None, "agent:research", "agent:writer/tool:search"]),
            tags=rng.choice([{}, {"env": "prod"}]),
        ))
    return events


def _dump(path: str, tenant: int) -> dict[str, list[tuple]]:
    """Every ingest table's rows of one tenant, without surrogate ids, sorted."""
    connection = sqlite3.connect(path)
    try:
        dump = {}
        for table in TABLES:
            columns = [row[1] for row in connection.execute(f"PRAGMA table_info({table})") if row[1] != "id"]
            rows = connection.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE tenant_id = ?", (tenant,))
            dump[table] = sorted(rows, key=repr)
        return dump
    finally:
        connection.close()


def test_apsw_groups_store_exactly_what_the_sqlalchemy_path_stores(tmp_path: Path) -> None:
    """Random batches (retries, in-batch duplicates, late hours, units, failed calls) written by the writer
    process's group commit and by ``write_prepared`` leave identical events and rollups."""
    rng = random.Random(7)
    reference_path, reference_tenant = _database(tmp_path, "reference")
    apsw_path, apsw_tenant = _database(tmp_path, "apsw")
    batches = []
    for number in range(12):
        events = _random_events(rng, rng.randrange(1, 60), f"b{number}")
        if batches and rng.random() < 0.4:  # a retry overlapping an earlier batch
            events += [dict(one) for one in rng.sample(batches[-1], min(5, len(batches[-1])))]
        if rng.random() < 0.3:  # the same span twice in one batch
            events.append(dict(events[0]))
        batches.append(events)
    reference_engine = get_engine(f"sqlite:///{reference_path}")
    reference_results = []
    for events in batches:
        with session_scope(reference_engine) as session:
            reference_results.append(write_prepared(session, _batch(reference_tenant, events), utcnow()))
    writer = SqliteWriter(apsw_path)
    try:
        apsw_results = []
        for start in range(0, len(batches), 3):
            apsw_results += writer.write_group([_batch(apsw_tenant, events) for events in batches[start:start + 3]])
    finally:
        writer.close()
    assert [(r.accepted, r.duplicates) for r in apsw_results] == [(r.accepted, r.duplicates) for r in reference_results]
    assert sum(r.duplicates for r in apsw_results) > 0
    reference, written = _dump(reference_path, reference_tenant), _dump(apsw_path, apsw_tenant)
    for table in TABLES:  # received_at differs: each path priced its own copy of the batches
        strip = (lambda rows: [row[:-1] for row in rows]) if table == "events" else (lambda rows: rows)
        if table == "tenant_late_versions":
            assert [row[1:] for row in written[table]] == [row[1:] for row in reference[table]]
            continue
        assert strip(written[table]) == strip(reference[table]), table
    assert len(written["events"]) == sum(r.accepted for r in apsw_results)


def test_a_failing_batch_in_a_group_fails_alone(tmp_path: Path) -> None:
    path, tenant = _database(tmp_path, "group")
    writer = SqliteWriter(path)
    try:
        good = [_batch(tenant, [event(f"ok{i}", run_id="shared")]) for i in range(3)]
        orphan = _batch(2**31 - 7, [event("orphan")])  # no such tenant: the foreign key refuses it
        outcomes = writer.write_group([good[0], orphan, *good[1:]])
    finally:
        writer.close()
    assert isinstance(outcomes[1], apsw.ConstraintError)
    assert [outcome.accepted for outcome in (outcomes[0], *outcomes[2:])] == [1, 1, 1]
    connection = sqlite3.connect(path)
    assert connection.execute("SELECT calls FROM runs WHERE run_id = 'shared'").fetchone() == (3,)
    assert connection.execute("SELECT count(*) FROM events WHERE span_id = 'orphan'").fetchone() == (0,)
    connection.close()


def _ingest_all(path: str, tenant: int, batches: list[list[dict]]) -> list[IngestResult]:
    """Store batches as the API does, all at once (``BatchWriter.ingest``: the file's writer process); each
    result comes after its commit. IngestWriteError as the API would raise it."""
    engine = sa.create_engine(f"sqlite:///{path}")  # not get_engine: that would create a missing folder
    batch_writer = BatchWriter(lambda: engine)

    async def send_all() -> list[IngestResult]:
        bodies = [json.dumps({"events": events}).encode() for events in batches]
        stored = await asyncio.gather(*(batch_writer.ingest(tenant, body, 1000) for body in bodies))
        return [batch.result for batch in stored]

    return asyncio.run(send_all())


def _ingest(path: str, tenant: int, events: list[dict]) -> IngestResult:
    return _ingest_all(path, tenant, [events])[0]


def test_the_writer_process_groups_concurrent_batches_and_answers_each(tmp_path: Path) -> None:
    path, tenant = _database(tmp_path, "process")
    batches = [[event(f"p{i}-{j}", run_id=f"run-{i % 2}") for j in range(20)] for i in range(6)]
    batches.append([event("p0-0"), {"span_id": "bad"}])
    try:
        results = _ingest_all(path, tenant, batches)
    finally:
        writer_process_for(path).close()
    assert sum(r.accepted for r in results) == 120 and sum(r.duplicates for r in results) == 1
    assert [r.index for r in results[-1].rejected] == [1] and not any(r.rejected for r in results[:-1])
    connection = sqlite3.connect(path)
    assert sorted(connection.execute("SELECT calls FROM runs")) == [(60,), (60,)]
    connection.close()


def test_a_dead_writer_process_fails_its_batches_and_is_replaced(tmp_path: Path, monkeypatch) -> None:
    path, tenant = _database(tmp_path, "restart")
    monkeypatch.setattr(writer_process, "RESTART_DELAY_SECONDS", 0.0)
    writer = writer_process_for(path)
    try:
        assert _ingest(path, tenant, [event("before")]).accepted == 1
        child = writer._child
        assert child is not None
        os.kill(child.process.pid, signal.SIGKILL)
        child.process.wait(10)
        time.sleep(0.2)  # the reply thread sees the socket end
        assert _ingest(path, tenant, [event("after"), event("before")]).accepted == 1  # a new child
        assert writer._child is not child
    finally:
        writer.close()


def test_a_stuck_writer_process_is_given_up_on_and_replaced(tmp_path: Path, monkeypatch) -> None:
    path, tenant = _database(tmp_path, "stuck")
    writer = writer_process_for(path)
    try:
        _ingest(path, tenant, [event("first")])
        child = writer._child
        assert child is not None
        child.process.send_signal(signal.SIGSTOP)  # it reads nothing and answers nothing
        with monkeypatch.context() as patch, pytest.raises(IngestWriteError, match="did not answer within"):
            patch.setattr("ingest_api.batches.WRITE_TIMEOUT_SECONDS", 0.5)
            _ingest(path, tenant, [event("lost")])
        assert child.process.wait(10) == -signal.SIGKILL  # ended, so its batches fail instead of hanging
        assert _ingest(path, tenant, [event("next"), event("lost")]).accepted >= 1  # a new child
    finally:
        writer.close()


def test_a_cancelled_wait_neither_loses_the_reply_nor_stops_later_ones(tmp_path: Path) -> None:
    """An awaiting request that times out or is cancelled must not break the reply thread (it did: setting
    the result of a cancelled future raised there, and every later batch hung)."""
    path, tenant = _database(tmp_path, "cancel")
    writer = writer_process_for(path)

    async def give_up_waiting():
        future = writer.submit(_batch(tenant, [event("awaited")]))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.wrap_future(future), 0.000_001)
        return future

    try:
        future = asyncio.run(give_up_waiting())
        assert not future.cancelled() and future.result(30).accepted == 1
        assert _ingest(path, tenant, [event("later")]).accepted == 1
    finally:
        writer.close()


def test_a_writer_that_cannot_start_fails_batches_and_is_not_respawned_per_request(tmp_path: Path) -> None:
    path = str(tmp_path / "no-such-folder" / "db.sqlite")
    try:
        with pytest.raises(IngestWriteError, match="ended before storing"):
            _ingest(path, 1, [event("x")])
        time.sleep(0.2)
        with pytest.raises(IngestWriteError, match="keeps exiting at start-up"):
            _ingest(path, 1, [event("y")])
    finally:
        writer_process_for(path).close()


def test_start_returns_once_the_writer_has_opened_the_database(tmp_path: Path) -> None:
    """The server starts the writer as it starts and waits for its answer: the first batches find it ready."""
    path, tenant = _database(tmp_path, "start")
    assert not Path(path + "-wal").exists()
    writer = writer_process_for(path)
    try:
        pid = writer.start()
        child = writer._child
        assert child is not None and child.process.pid == pid and child.process.poll() is None
        assert Path(path + "-wal").exists()  # the child has the database open (WAL mode)
        assert writer.start() == pid  # already running: the same child
        assert _ingest(path, tenant, [event("first")]).accepted == 1 and writer._child is child
    finally:
        writer.close()
    with pytest.raises(IngestWriteError, match="ended before storing"):
        writer_process_for(str(tmp_path / "no-such-folder" / "db.sqlite")).start()


def test_one_writer_process_per_database_file_and_in_memory_databases_write_in_process(tmp_path: Path) -> None:
    path, _ = _database(tmp_path, "shared")
    assert writer_process_for(path) is writer_process_for(path)
    # One connection shared by every thread: the batch is written in a worker thread.
    memory = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool, connect_args={"check_same_thread": False})
    from sqlmodel import SQLModel

    SQLModel.metadata.create_all(memory)
    with session_scope(memory) as session:
        tenant = accounts.signup(session, unique_email("memory"), "correct horse", "Memory").id
    body = json.dumps({"events": [event(uuid.uuid4().hex)]}).encode()
    stored = asyncio.run(BatchWriter(lambda: memory).ingest(tenant, body, 100))
    assert (stored.result.accepted, len(stored.rows)) == (1, 1)


@pytest.mark.parametrize("stored", [0, 3])
def test_retried_batches_count_duplicates_through_the_savepoint(tmp_path: Path, stored: int) -> None:
    path, tenant = _database(tmp_path, f"retry{stored}")
    writer = SqliteWriter(path)
    try:
        events = [event(f"r{i}") for i in range(5)]
        if stored:
            writer.write_group([_batch(tenant, events[:stored])])
        [result] = writer.write_group([_batch(tenant, events)])
    finally:
        writer.close()
    assert (result.accepted, result.duplicates) == (5 - stored, stored)


def test_the_checkpointer_keeps_the_wal_bounded_and_loses_nothing(tmp_path: Path, monkeypatch) -> None:
    """With a tiny threshold the checkpointer runs many passes while batches keep coming: the WAL keeps
    starting over (it never holds much more than a threshold and a pass's worth of pages), and every event
    and rollup is in the database file once the writer closes."""
    path, tenant = _database(tmp_path, "checkpoint")
    monkeypatch.setattr(SqliteWriter, "CHECKPOINT_PAGES", 40)
    writer = SqliteWriter(path)
    largest = 0
    try:
        for number in range(60):
            writer.write_group([_batch(tenant, [event(f"c{number}-{i}", run_id=f"run-{number % 7}",
                                                      customer_id=f"cust-{i % 13}") for i in range(40)])])
            largest = max(largest, writer._wal_pages)
        passes = writer._checkpointer.passes
    finally:
        writer.close()
    assert passes >= 3
    assert largest < 400, largest  # without checkpoints: thousands of pages
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert connection.execute("SELECT count(*) FROM events WHERE tenant_id = ?", (tenant,)).fetchone() == (2400,)
        assert connection.execute("SELECT sum(calls) FROM runs WHERE tenant_id = ?", (tenant,)).fetchone() == (2400,)
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        connection.close()


def test_a_starved_checkpointer_does_not_let_the_wal_grow_without_bound(tmp_path: Path, monkeypatch) -> None:
    """If the checkpointer thread never gets to run (a CPU-starved machine), the writer copies the WAL back
    itself once it is STARVED_FACTOR thresholds long: the WAL stays bounded and nothing is lost."""
    path, tenant = _database(tmp_path, "starved")
    monkeypatch.setattr(SqliteWriter, "CHECKPOINT_PAGES", 40)
    writer = SqliteWriter(path)
    monkeypatch.setattr(writer._checkpointer, "nudge", lambda: None)  # the thread is never woken
    largest = 0
    try:
        for number in range(60):
            writer.write_group([_batch(tenant, [event(f"s{number}-{i}", customer_id=f"cust-{i % 13}")
                                                for i in range(40)])])
            largest = max(largest, writer._wal_pages)
        assert writer._checkpointer.passes == 0
    finally:
        writer.close()
    assert largest < 40 * SqliteWriter.STARVED_FACTOR + 200, largest  # without the fallback: thousands of pages
    connection = sqlite3.connect(path)
    try:
        assert connection.execute("SELECT count(*) FROM events WHERE tenant_id = ?", (tenant,)).fetchone() == (2400,)
    finally:
        connection.close()


def test_a_value_sqlite_cannot_store_fails_its_batch_alone(tmp_path: Path) -> None:
    """Validation keeps sums within BIGINT, but if a batch still held a value SQLite cannot bind, only that
    batch fails (an OverflowError is not an apsw.Error; it used to escape and end the writer process)."""
    path, tenant = _database(tmp_path, "overflow")
    writer = SqliteWriter(path)
    try:
        bad = _batch(tenant, [event("bad")])
        bad.rows[0] = tuple(2**64 if name == "cost_nanos" else value
                            for name, value in zip(EVENT_COLUMNS, bad.rows[0], strict=True))
        bad.rollups = []
        outcomes = writer.write_group([_batch(tenant, [event("good-1")]), bad, _batch(tenant, [event("good-2")])])
        assert isinstance(outcomes[1], OverflowError)
        assert [outcomes[0].accepted, outcomes[2].accepted] == [1, 1]
        assert writer.write_group([_batch(tenant, [event("after")])])[0].accepted == 1
    finally:
        writer.close()


def test_a_reply_means_the_batch_survives_a_kill_9_of_the_writer(tmp_path: Path, monkeypatch) -> None:
    """The writer answers a batch only after its COMMIT has reached the WAL file (the OS's page cache, which a
    crash of the process does not lose): a writer killed the instant its reply arrives has stored the batch
    and its rollups. Three rounds, each killing the child and starting a new one."""
    path, tenant = _database(tmp_path, "ack")
    monkeypatch.setattr(writer_process, "RESTART_DELAY_SECONDS", 0.0)
    writer = WriterProcess(path)
    rng = random.Random(11)
    try:
        for round_ in range(1, 4):
            future = writer.submit(_batch(tenant, _random_events(rng, 400, f"ack{round_}")))
            child = writer._child
            assert child is not None
            future.add_done_callback(lambda _future, pid=child.process.pid: os.kill(pid, signal.SIGKILL))
            assert future.result(60).accepted == 400
            child.process.wait(10)
            connection = sqlite3.connect(path)
            try:
                stored = connection.execute("SELECT count(*) FROM events WHERE tenant_id = ?", (tenant,)).fetchone()
                calls = connection.execute("SELECT sum(calls) FROM tenant_usage_hourly WHERE tenant_id = ?",
                                           (tenant,)).fetchone()
            finally:
                connection.close()
            assert stored == calls == (400 * round_,)
    finally:
        writer.close()


def test_the_writer_process_starts_with_the_server_and_stores_its_first_batch(tmp_path: Path) -> None:
    """Cold start: the writer child is running once the app's lifespan has started, before any request, and
    that child stores the first batch (no fresh interpreter is started for it)."""
    from fastapi.testclient import TestClient

    from ingest_api import create_ingest_app
    from llmobserve_app.services import api_keys

    path, tenant = _database(tmp_path, "coldstart")
    url = f"sqlite:///{path}"
    with session_scope(get_engine(url)) as session:
        _, key = api_keys.create_api_key(session, tenant, "cold start")
    get_engine(url).dispose()
    writer = writer_process_for(str(Path(path).resolve()))
    assert writer._child is None  # nothing started it yet
    try:
        with TestClient(create_ingest_app(url)) as client:
            child = writer._child
            assert child is not None and child.process.poll() is None
            response = client.post("/v1/events", json={"events": [event("cold-1")]},
                                   headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 200 and response.json()["accepted"] == 1
            assert writer._child is child  # the child started with the server wrote it
    finally:
        writer.close()
    # In-memory databases write in the request's thread: there is no writer process to start.
    memory = create_ingest_app("sqlite://")
    assert memory.state.batch_writer.start_writer() is None


def test_only_the_ingest_writer_connection_has_the_large_page_cache(tmp_path) -> None:
    """SQLite's page cache is private to each connection: 32 MiB for the ingest writer's hot index pages, SQLite's
    default 2 MiB (``cache_size=-2000``, in KiB) for its checkpointer and for every connection of the app's pool,
    which would otherwise hold 32 MiB per thread that ever ran a page query."""
    path, _ = _database(tmp_path, "caches")
    writer = SqliteWriter(path)
    try:
        assert writer._connection.execute("PRAGMA cache_size").fetchall() == [(-32768,)]
        assert writer._checkpointer._connection.execute("PRAGMA cache_size").fetchall() == [(-2000,)]
    finally:
        writer.close()
    engine = get_engine(f"sqlite:///{path}")
    with engine.connect() as first, engine.connect() as second:
        assert [connection.exec_driver_sql("PRAGMA cache_size").scalar() for connection in (first, second)] == [
            -2000, -2000]
    engine.dispose()
