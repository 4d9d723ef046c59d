"""The SQLite writer process: the ingest API's second core.

SQLite has one writer, and validating and pricing a batch is pure Python (one core, the GIL). So on SQLite
the web process parses and prices each request's batch, then hands the prepared rows to this process over
a private socket; it writes every batch waiting at that moment in one transaction (group commit, see
``sqlite_writer``) and answers each with its own result after the commit. Parsing the next requests
and writing the previous ones then run on two cores (docs/BENCHMARKS.md).

The child is started on first use as a fresh interpreter (not multiprocessing: the web server's main module
must not be re-imported) and ends when its socket closes, i.e. with the web
process. If it dies, the batches it had not answered fail (the SDK retries them; span ids make that
idempotent) and the next write starts a new one.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import os
import socket
import subprocess
import sys
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import msgspec

from llmobserve_app.services.events import IngestResult, PreparedBatch

ROOT = Path(__file__).resolve().parent.parent
WRITE_TIMEOUT_SECONDS = 120.0
MAX_GROUP_EVENTS = 10_000  # bounds one transaction's size and the wait of the first batch in it
# Batches cross the socket as MessagePack (a third of pickle's cost to encode in the busy web process);
# replies, few and small, are pickled.
_encode_request = msgspec.msgpack.Encoder().encode
_decode_request = msgspec.msgpack.Decoder(tuple[int, PreparedBatch]).decode


class IngestWriteError(RuntimeError):
    """The writer process could not store a batch (the message says why); nothing of it was stored."""


@dataclass
class _Failure:
    """A write error as it crosses the socket (database exceptions do not all pickle)."""

    kind: str
    message: str


class WriterProcess:
    """Thread-safe handle on one writer child for one SQLite database file."""

    def __init__(self, database_path: str) -> None:
        self._database_path = database_path
        self._lock = threading.Lock()  # start-up and sending
        self._pending: dict[int, Future[IngestResult]] = {}  # sent to the current child, not yet answered
        self._ids = itertools.count()
        self._connection: Connection | None = None
        self._socket: socket.socket | None = None  # shut down to wake the reply thread and end the child
        self._child: subprocess.Popen[bytes] | None = None

    def write(self, batch: PreparedBatch, timeout: float | None = WRITE_TIMEOUT_SECONDS) -> IngestResult:
        """Store ``batch`` and its rollups; returns once its transaction has committed."""
        try:
            return self.submit(batch).result(timeout)
        except TimeoutError:
            raise IngestWriteError(f"the writer process did not answer within {timeout} s") from None

    def submit(self, batch: PreparedBatch) -> Future[IngestResult]:
        """Send ``batch`` to the writer; the future completes once its transaction has committed (or with
        IngestWriteError)."""
        future: Future[IngestResult] = Future()
        with self._lock:
            connection = self._connection if self._child_alive() else self._start()
            request_id = next(self._ids)
            self._pending[request_id] = future
            try:
                connection.send_bytes(_encode_request((request_id, batch)))
            except OSError as error:
                self._pending.pop(request_id, None)
                raise IngestWriteError(f"ingest writer process is gone: {error}") from None
        return future

    def close(self) -> None:
        """Close the socket (the child finishes its current group and exits) and wait for the child."""
        with self._lock:
            child = self._child
            self._disconnect()
            self._child = None
        if child is not None:
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def _child_alive(self) -> bool:
        return self._connection is not None and self._child is not None and self._child.poll() is None

    def _disconnect(self) -> None:
        """Close our end (the lock is held). A shutdown first: closing alone would neither wake the reply
        thread blocked reading it nor let the child see the end of its input."""
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
            self._socket.close()
        if self._connection is not None:
            self._connection.close()
        self._socket = self._connection = None

    def _start(self) -> Connection:
        """Start a child (the lock is held); the previous one, if any, has died."""
        self._disconnect()
        ours, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        self._child = subprocess.Popen(
            [sys.executable, "-c", "from ingest_api.writer_process import main; raise SystemExit(main())",
             "--fd", str(theirs.fileno()), "--database", self._database_path],
            pass_fds=[theirs.fileno()], env=env, cwd=ROOT,
        )
        theirs.close()
        self._socket = ours
        connection = self._connection = Connection(os.dup(ours.fileno()))
        pending = self._pending = {}  # each child answers only what was sent to it
        threading.Thread(target=self._receive, args=(connection, pending), name="ingest-writer-replies",
                         daemon=True).start()
        return connection

    def _receive(self, connection: Connection, pending: dict[int, Future[IngestResult]]) -> None:
        """Hand each reply to the request waiting for it; when the socket ends, fail whatever it left
        unanswered (a newer child's batches are not this thread's)."""
        try:
            while True:
                request_id, outcome = connection.recv()
                future = pending.pop(request_id, None)
                if future is None:
                    continue
                if isinstance(outcome, _Failure):
                    future.set_exception(IngestWriteError(f"{outcome.kind}: {outcome.message}"))
                else:
                    future.set_result(outcome)
        except (EOFError, OSError):
            pass
        with self._lock:
            if self._connection is connection:
                self._disconnect()
            orphans = list(pending.items())
            pending.clear()
        for _request_id, future in orphans:
            if not future.done():
                future.set_exception(IngestWriteError("ingest writer process ended before storing the batch"))


# --------------------------------------------------------------------------------------------- the child
def serve(connection: Connection, database_path: str) -> None:
    """Write batches as they arrive, grouping those already waiting, until the socket closes."""
    from ingest_api.sqlite_writer import SqliteWriter

    writer = SqliteWriter(database_path)
    try:
        while True:
            try:
                group = [_decode_request(connection.recv_bytes())]
                size = len(group[0][1].rows)
                while size < MAX_GROUP_EVENTS and connection.poll():
                    group.append(_decode_request(connection.recv_bytes()))
                    size += len(group[-1][1].rows)
            except (EOFError, OSError):
                return
            outcomes = writer.write_group([batch for _request_id, batch in group])
            for (request_id, _batch), outcome in zip(group, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    outcome = _Failure(type(outcome).__name__, str(outcome)[:2000])
                connection.send((request_id, outcome))
    finally:
        writer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="LLM Observe ingest writer (started by the ingest API)")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--database", required=True, help="path of the SQLite database file")
    args = parser.parse_args(argv)
    gc.freeze()  # start-up objects out of the collector's way, as in the web process
    # Decoding a batch allocates ~5,000 tuples and strings, none of them in a cycle; at the default threshold
    # (700) the young generation was collected seven times per batch (0.5 µs per event).
    gc.set_threshold(50_000, 20, 20)
    serve(Connection(args.fd), args.database)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
