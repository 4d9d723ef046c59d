"""From a request body to stored events: one-pass validation of clean batches, and group commit on SQLite.

Group commit: SQLite has one writer, and every commit pays its own WAL write. So on SQLite every batch goes
to one writer process (``writer_process``), which writes all the batches waiting at that moment in one
transaction; if that transaction fails, each batch is written again alone, so one bad batch cannot fail the
others. A batch is still all-or-nothing, and its reply is sent only after its transaction commits.
PostgreSQL has row locks and many writers: each batch gets its own transaction in the request's thread.
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.concurrency import run_in_threadpool

from ingest_api.body import BodyError, parse_json
from ingest_api.writer_process import WRITE_TIMEOUT_SECONDS, WriterProcess
from llmobserve_app.db import session_scope
from llmobserve_app.models import utcnow
from llmobserve_app.services import custom_prices
from llmobserve_app.services.ingest import writers
from llmobserve_app.services.ingest.batch import IngestResult, PreparedBatch, prepare_events
from llmobserve_app.services.ingest.fast_schema import FastEvent
from llmobserve_app.services.ingest.schema import EventIn, Rejection, parse_valid_batch, validate_events
from llmobserve_app.services.ingest.store import write_prepared


@cache
def freeze_startup_heap() -> None:
    """Once per process, after start-up: move the objects alive now (modules, FastAPI, SQLAlchemy and
    pydantic machinery — 100k+ of them) out of the cyclic collector's reach. A 500-event batch allocates
    thousands of objects, so full collections run often, and each scanned that whole heap: this halves the
    CPU time of validating and pricing a batch (docs/BENCHMARKS.md). Frozen objects are never collected,
    which is what start-up objects are anyway."""
    gc.freeze()


def events_from_body(raw: bytes, max_events: int) -> tuple[list[EventIn | FastEvent | None], list[Rejection]]:
    """Validated events of a ``{"events": [...]}`` body (None where rejected) and the rejections.

    A clean batch is parsed and validated in one pass; anything else takes the careful path (``json.loads``,
    then event by event), which names each bad event's field. BodyError for a body that is not such JSON."""
    events: list[EventIn | FastEvent | None] | None = parse_valid_batch(raw)  # type: ignore[assignment]
    rejected: list[Rejection] = []
    if events is None:
        payload = parse_json(raw)
        if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
            raise BodyError(422, "invalid_body", "body must be a JSON object with an 'events' array")
        raw_events = payload["events"]
        _check_count(len(raw_events), max_events)
        events, rejected = validate_events(raw_events)
    _check_count(len(events), max_events)
    return events, rejected


def _check_count(count: int, max_events: int) -> None:
    if count > max_events:
        raise BodyError(413, "too_many_events", f"events: at most {max_events} per batch, got {count}")


@lru_cache(maxsize=16)
def _sqlite_file(engine: sa.Engine) -> str | None:
    """The file of a SQLite database a writer process can open (not an in-memory one), else None."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or "mode=memory" in str(url):
        return None
    return str(Path(url.database).resolve())


_writers: dict[str, WriterProcess] = {}
_writers_lock = threading.Lock()


def writer_process_for(database_path: str) -> WriterProcess:
    """The process's one writer child for a SQLite database file (every ingest app on it shares it)."""
    with _writers_lock:
        writer = _writers.get(database_path)
        if writer is None:
            writer = _writers[database_path] = WriterProcess(database_path)
        return writer


@atexit.register
def close_writer_processes() -> None:
    """Stop every writer child (each finishes the group it is writing)."""
    with _writers_lock:
        children = list(_writers.values())
        _writers.clear()
    for writer in children:
        writer.close()


@dataclass(frozen=True)
class StoredBatch:
    """What storing a request's body did, and the event rows it held (the caps check reads their scopes)."""

    result: IngestResult
    rows: list[tuple[Any, ...]]


class BatchWriter:
    """Stores request bodies' batches: through the writer process on SQLite in a file, in a worker thread
    elsewhere (PostgreSQL, in-memory SQLite)."""

    def __init__(self, engine: Callable[[], sa.Engine]) -> None:
        self._engine = engine
        # Parsing and pricing is pure Python: a second thread at it only takes turns with the first for the
        # GIL. One at a time, and no thread waits for the writer process (see ``ingest``).
        self._preparing = threading.Lock()

    async def ingest(self, tenant_id: int, raw: bytes, max_events: int) -> StoredBatch:
        """Validate, price and store one request's body. A worker thread parses and prices it and hands it
        to the writer process; the event loop, not a thread, awaits the commit. BodyError when the body is
        not an events batch, IngestWriteError when it could not be stored."""
        prepared = await run_in_threadpool(self._prepare_and_submit, tenant_id, raw, max_events)
        if isinstance(prepared, PreparedBatch):
            return StoredBatch(await run_in_threadpool(self._write_here, prepared), prepared.rows)
        batch, writer, future = prepared
        try:
            return StoredBatch(await asyncio.wait_for(asyncio.wrap_future(future), WRITE_TIMEOUT_SECONDS),
                               batch.rows)
        except TimeoutError:
            raise writer.gave_up(WRITE_TIMEOUT_SECONDS) from None

    def start_writer(self) -> int | None:
        """Start the writer process of a SQLite database file now (its process id); None elsewhere."""
        path = _sqlite_file(self._engine())
        return None if path is None else writer_process_for(path).start()

    def _prepare_and_submit(
        self, tenant_id: int, raw: bytes, max_events: int
    ) -> PreparedBatch | tuple[PreparedBatch, WriterProcess, Future[IngestResult]]:
        """The prepared batch, already sent to the writer process (with its reply's future) when there is one."""
        with self._preparing:
            events, rejected = events_from_body(raw, max_events)
            engine = self._engine()
            writers.serve(engine)  # before this process stores its first batch (see services/ingest/writers)
            prices = custom_prices.prices_for(engine, tenant_id)
            batch = prepare_events(tenant_id, events, rejected, engine.dialect.name, prices)
            path = _sqlite_file(engine)
            if path is None:
                return batch
            writer = writer_process_for(path)
            return batch, writer, writer.submit(batch)

    def _write_here(self, batch: PreparedBatch) -> IngestResult:
        with session_scope(self._engine()) as session:
            return write_prepared(session, batch, utcnow())
