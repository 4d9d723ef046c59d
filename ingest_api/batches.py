"""From a request body to stored events: one-pass validation of clean batches, and group commit on SQLite.

Group commit: SQLite has one writer. Request threads that each open a write transaction wait for each
other in SQLite's sleeping busy handler, and every commit pays its own WAL write and checkpoint. Instead,
whichever request thread holds the write lock writes every batch waiting at that moment in one
transaction; if that transaction fails, each batch is written again alone, so one bad batch cannot fail
the others. A batch is still all-or-nothing, and its reply is sent only after its transaction commits.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import sqlalchemy as sa

from ingest_api.body import BodyError, parse_json
from llmobserve_app.db import session_scope
from llmobserve_app.services.events import (
    EventIn,
    IngestResult,
    PreparedBatch,
    Rejection,
    parse_valid_batch,
    prepare_events,
    validate_events,
    write_prepared,
)
from llmobserve_app.services.fast_events import FastEvent

MAX_GROUP_EVENTS = 10_000  # bounds one transaction's size and the wait of the first request in it


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


@dataclass(eq=False)
class _Waiting:
    batch: PreparedBatch
    result: IngestResult | None = None
    error: BaseException | None = None
    done: bool = False


class BatchWriter:
    """Writes prepared batches, grouping concurrent ones into one transaction on SQLite (PostgreSQL has
    row locks and many writers: each batch gets its own transaction there)."""

    def __init__(self, engine: Callable[[], sa.Engine]) -> None:
        self._engine = engine
        self._write_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Waiting] = []

    def ingest(self, tenant_id: int, raw: bytes, max_events: int) -> IngestResult:
        """Validate, price and store one request's body (BodyError when it is not an events batch)."""
        events, rejected = events_from_body(raw, max_events)
        return self.write(prepare_events(tenant_id, events, rejected, self._engine().dialect.name))

    def write(self, batch: PreparedBatch) -> IngestResult:
        if batch.dialect != "sqlite":
            return self._write_alone(batch)
        waiting = _Waiting(batch)
        with self._queue_lock:
            self._queue.append(waiting)
        with self._write_lock:
            if not waiting.done:  # nobody took it yet: lead a group, ours included
                self._write_group(self._take_group())
        if waiting.error is not None:
            raise waiting.error
        assert waiting.result is not None
        return waiting.result

    def _take_group(self) -> list[_Waiting]:
        with self._queue_lock:
            size, count = 0, 0
            for waiting in self._queue:
                if count and size + len(waiting.batch.rows) > MAX_GROUP_EVENTS:
                    break
                size += len(waiting.batch.rows)
                count += 1
            group, self._queue = self._queue[:count], self._queue[count:]
        return group

    def _write_alone(self, batch: PreparedBatch) -> IngestResult:
        with session_scope(self._engine()) as session:
            return write_prepared(session, batch)

    def _write_group(self, group: list[_Waiting]) -> None:
        try:
            if len(group) == 1:
                group[0].result = self._write_alone(group[0].batch)
            else:
                try:
                    with session_scope(self._engine()) as session:
                        results = [write_prepared(session, waiting.batch) for waiting in group]
                    for waiting, result in zip(group, results, strict=True):
                        waiting.result = result
                except Exception:  # noqa: BLE001 - rolled back: write each batch alone, each gets its own outcome
                    for waiting in group:
                        try:
                            waiting.result = self._write_alone(waiting.batch)
                        except Exception as error:  # noqa: BLE001 - re-raised in the request that sent it
                            waiting.error = error
        except Exception as error:  # noqa: BLE001
            group[0].error = error
        finally:
            for waiting in group:
                if waiting.result is None and waiting.error is None:
                    waiting.error = RuntimeError("ingest batch was not written")
                waiting.done = True
