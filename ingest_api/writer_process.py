"""The SQLite writer process: the ingest API's second core.

SQLite has one writer, and validating and pricing a batch is pure Python (one core, the GIL). So on SQLite
the web process parses and prices each request's batch, then hands the prepared rows to this process over
a private socket; it writes every batch waiting at that moment in one transaction (group commit, see
``sqlite_writer``) and answers each with its own result after the commit. Parsing the next requests
and writing the previous ones then run on two cores (docs/BENCHMARKS.md).

The child is started when the server starts (``start``, from the ingest app's lifespan, which waits until it
answers), else on first use, as a fresh interpreter (not multiprocessing: the web server's main module
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
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

import msgspec

from llmobserve_app.services.ingest.batch import IngestResult, PreparedBatch

ROOT = Path(__file__).resolve().parent.parent
WRITE_TIMEOUT_SECONDS = 120.0
SEND_TIMEOUT_SECONDS = 30  # a child that reads nothing for this long is considered stuck
RESTART_DELAY_SECONDS = 5.0
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


@dataclass(eq=False)
class _Child:
    """One running writer child and what was sent to it. Only its reply thread closes its socket."""

    process: subprocess.Popen[bytes]
    socket: socket.socket
    connection: Connection
    started: float
    pending: dict[int, Future[IngestResult]] = field(default_factory=dict)  # sent, not yet answered
    ended: bool = False  # we stopped using it (closed, or gave up on it), as opposed to it dying


def _settle(future: Future[IngestResult], outcome: IngestResult | _Failure) -> None:
    with contextlib.suppress(InvalidStateError):  # settled already (cannot happen: futures are not cancellable)
        if isinstance(outcome, _Failure):
            future.set_exception(IngestWriteError(f"{outcome.kind}: {outcome.message}"))
        else:
            future.set_result(outcome)


class WriterProcess:
    """Thread-safe handle on one writer child for one SQLite database file."""

    def __init__(self, database_path: str) -> None:
        self._database_path = database_path
        self._lock = threading.Lock()  # start-up and sending
        self._ids = itertools.count()
        self._child: _Child | None = None
        self._no_start_until = 0.0  # time.monotonic(): a child that died young is not restarted at once

    def start(self, timeout: float = WRITE_TIMEOUT_SECONDS) -> int:
        """Start the child now if none is running and wait until it answers (an empty batch, after it has
        imported what it needs and opened the database), so that the first batches do not wait for a fresh
        interpreter (1–4 s on a busy machine); its process id. IngestWriteError when it cannot start."""
        with self._lock:
            pid = self._running_child().process.pid
        try:
            self.submit(PreparedBatch(tenant_id=0, dialect="sqlite", rows=[])).result(timeout)
        except TimeoutError:
            raise self.gave_up(timeout) from None
        return pid

    def submit(self, batch: PreparedBatch) -> Future[IngestResult]:
        """Send ``batch`` to the writer; the future completes once its transaction has committed, or with
        IngestWriteError. It cannot be cancelled: a reply always finds it."""
        request_id = next(self._ids)
        payload = _encode_request((request_id, batch))  # outside the lock: the next batch can be sent meanwhile
        future: Future[IngestResult] = Future()
        future.set_running_or_notify_cancel()
        with self._lock:
            child = self._running_child()
            child.pending[request_id] = future
            try:
                child.connection.send_bytes(payload)  # SO_SNDTIMEO bounds a child that stopped reading
            except OSError as error:
                child.pending.pop(request_id, None)
                self._end(child, kill=True)  # half a message may be in the socket: this child is done
                raise IngestWriteError(f"could not hand the batch to the writer process: {error}") from None
        return future

    def gave_up(self, timeout: float) -> IngestWriteError:
        """A batch's reply did not come in ``timeout`` s: the child is stuck, so end it (its other batches
        fail now; the next write starts a new child). The batch may or may not have been stored."""
        with self._lock:
            if self._child is not None:
                self._end(self._child, kill=True)
        return IngestWriteError(f"the writer process did not answer within {timeout:.0f} s; the batch may not "
                                "be stored — send it again (span ids make that safe)")

    def close(self) -> None:
        """Let the child finish the group it is writing and exit (it sees the end of its input); wait for it."""
        with self._lock:
            child, self._child = self._child, None
            if child is not None:
                self._end(child, kill=False)
        if child is not None:
            try:
                child.process.wait(30)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()

    def _running_child(self) -> _Child:
        """The live child, or a new one (the lock is held). IngestWriteError when none can be started."""
        child = self._child
        if child is not None and child.process.poll() is None:
            return child
        if child is not None:
            self._note_exit(child)
            self._end(child, kill=False)
        if time.monotonic() < self._no_start_until:
            raise IngestWriteError("the writer process keeps exiting at start-up; see the server log")
        try:
            child = self._child = self._start()
        except OSError as error:
            raise IngestWriteError(f"could not start the writer process: {error}") from None
        return child

    def _start(self) -> _Child:
        ours, theirs = socket.socketpair()
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", SEND_TIMEOUT_SECONDS, 0))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", "from ingest_api.writer_process import main; raise SystemExit(main())",
                 "--fd", str(theirs.fileno()), "--database", self._database_path],
                pass_fds=[theirs.fileno()], env=env, cwd=ROOT,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        child = _Child(process, ours, Connection(os.dup(ours.fileno())), time.monotonic())
        threading.Thread(target=self._receive, args=(child,), name="ingest-writer-replies", daemon=True).start()
        return child

    def _note_exit(self, child: _Child) -> None:
        """A child that exited on its own soon after starting (cannot open the database, broken install…)
        is not restarted for a while: each start costs a whole interpreter (the lock is held)."""
        now = time.monotonic()
        if not child.ended and now - child.started < RESTART_DELAY_SECONDS:
            self._no_start_until = now + RESTART_DELAY_SECONDS

    def _end(self, child: _Child, *, kill: bool) -> None:
        """Stop using ``child`` (the lock is held): shut its socket down, which wakes its reply thread (that
        thread closes the socket and fails what is unanswered) and ends the child's input."""
        if self._child is child:
            self._child = None
        child.ended = True
        with contextlib.suppress(OSError):
            child.socket.shutdown(socket.SHUT_RDWR)
        if kill:
            with contextlib.suppress(OSError):
                child.process.kill()

    def _receive(self, child: _Child) -> None:
        """Hand each reply to the batch waiting for it; when the socket ends (or anything goes wrong reading
        it), fail what this child left unanswered and close its socket."""
        try:
            while True:
                request_id, outcome = child.connection.recv()
                future = child.pending.pop(request_id, None)
                if future is not None:
                    _settle(future, outcome)
        except BaseException:  # EOF, a reset, a torn message: this child is finished
            pass
        finally:
            with self._lock:
                self._note_exit(child)
                self._end(child, kill=False)
                orphans = list(child.pending.values())
                child.pending.clear()
            child.connection.close()
            child.socket.close()
            for future in orphans:
                _settle(future, _Failure("WriterGone", "the writer process ended before storing the batch"))


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
