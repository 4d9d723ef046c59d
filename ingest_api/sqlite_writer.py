"""Group commit of prepared batches into SQLite through APSW (the writer process's whole job).

Why APSW and not the ``sqlite3`` module: binding a 37-value event row costs 1.7 µs with APSW against 5.8 µs
with ``sqlite3`` (which sends every None and bool through its adapter lookup), and ingest binds ~40 values
per event plus its rollup rows. The steps, the SQL, the rows and the rollups are those of
``services.ingest.store.store`` — the routine ``write_prepared`` runs through SQLAlchemy — with ``ApswTarget``
saying how each step runs on APSW, so both paths store identical rows (``tests/app/test_sqlite_writer.py``
compares them).

APSW bundles its own, newer SQLite; the file format and the WAL are shared across SQLite versions. Never open
one database through both libraries at once in one process: each keeps its own POSIX locks, and closing a
file through one drops the other's (seen here as "file is not a database"). The server only uses APSW in the
writer process; ``bench/bench_analytics.py`` closes its SQLAlchemy pool before writing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import apsw

from llmobserve_app.db import sqlite_pragmas
from llmobserve_app.models import utcnow
from llmobserve_app.services.customer_ranges import LATE_SQL
from llmobserve_app.services.ingest.batch import IngestResult, PreparedBatch
from llmobserve_app.services.ingest.sql import SQLITE, events_insert_sql, events_returning_sql
from llmobserve_app.services.ingest.store import Row, Statements, only_new, store

logger = logging.getLogger(__name__)


def _connect(path: str, *, writer: bool = False) -> apsw.Connection:
    connection = apsw.Connection(path)
    for pragma in sqlite_pragmas(writer=writer):
        connection.execute(f"PRAGMA {pragma}").fetchall()
    return connection


class _Checkpointer(threading.Thread):
    """Copies the WAL back into the database from its own connection, beside the writer.

    Left to SQLite, the commit that crosses the checkpoint threshold copies the pages and fsyncs the database
    itself, and every batch waiting stalls behind it (a tenth of the throughput on this machine's disk).
    APSW releases the GIL inside SQLite, so here the copy overlaps the next transactions. PASSIVE: it never
    blocks the writer or readers; SQLite starts the WAL over once a checkpoint has caught up.
    """

    def __init__(self, path: str) -> None:
        super().__init__(name="wal-checkpointer", daemon=True)
        self._connection = _connect(path)
        self._wake = threading.Event()
        self.done = threading.Event()  # a pass has finished since the writer last looked
        self.copying = threading.Event()  # a pass is under way
        self.passes = 0
        self._stopping = False

    def nudge(self) -> None:
        self._wake.set()

    def run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopping:
                break
            self.copying.set()
            try:
                # Twice: the second copies what was committed during the first, a much shorter pass, so
                # the writer is left little to finish.
                for _ in range(2):
                    self._connection.wal_checkpoint(mode=apsw.SQLITE_CHECKPOINT_PASSIVE)
            except apsw.BusyError:
                pass  # another checkpoint is running: it does the work
            except apsw.Error:
                logger.exception("WAL checkpoint failed; the next full WAL tries again")
            finally:
                self.passes += 1
                self.copying.clear()
                self.done.set()
        self._connection.close()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self.join(60)


class SqliteWriter:
    """One APSW connection that writes groups of prepared batches, each group in one transaction."""

    CHECKPOINT_PAGES = 30_000  # WAL pages (4 KiB) at which the checkpointer copies them back
    STARVED_FACTOR = 3  # a WAL this many thresholds long while the checkpointer has not finished: catch up
    STARVED_WAIT_SECONDS = 30.0

    def __init__(self, path: str) -> None:
        self._connection = _connect(path, writer=True)
        self._connection.execute("PRAGMA wal_autocheckpoint=0").fetchall()  # the checkpointer's job
        # Once the WAL starts over, it is cut back to this size (else its file keeps its largest size).
        self._connection.execute(f"PRAGMA journal_size_limit={self.CHECKPOINT_PAGES * 4096 * 2}").fetchall()
        self._wal_pages = 0
        self._checkpointing = False
        self._connection.set_wal_hook(self._wal_grew)
        self._checkpointer = _Checkpointer(path)
        self._checkpointer.start()
        self._target = ApswTarget(self._connection)

    def close(self) -> None:
        self._checkpointer.stop()
        self._connection.close()

    def _wal_grew(self, _connection: apsw.Connection, _database: str, pages: int) -> int:
        """After each commit: the WAL holds ``pages`` pages."""
        self._wal_pages = pages
        return apsw.SQLITE_OK

    def _after_commit(self) -> None:
        """Hand a full WAL to the checkpointer; once it is done, finish the job between two transactions.

        The WAL starts over only when a checkpoint has caught up with its end, which a checkpoint running
        beside a busy writer never does. So the writer itself copies the pages committed during the
        checkpointer's pass (a fraction of the WAL), and the next transaction starts the WAL over."""
        if (self._checkpointing and not self._checkpointer.done.is_set()
                and self._wal_pages >= self.CHECKPOINT_PAGES * self.STARVED_FACTOR):
            self._catch_up_with_a_slow_checkpointer()
        if self._checkpointing and self._checkpointer.done.is_set():
            self._checkpointer.done.clear()
            self._checkpointing = False
            try:  # the batches are committed whatever happens here
                self._connection.wal_checkpoint(mode=apsw.SQLITE_CHECKPOINT_PASSIVE)
            except apsw.BusyError:
                pass  # a web process is checkpointing: it finishes the job
            except apsw.Error:
                logger.exception("WAL checkpoint failed; the next full WAL tries again")
        elif not self._checkpointing and self._wal_pages >= self.CHECKPOINT_PAGES:
            self._checkpointing = True
            self._checkpointer.nudge()

    def _catch_up_with_a_slow_checkpointer(self) -> None:
        """The WAL is STARVED_FACTOR thresholds long and the checkpointer has not finished (a CPU-starved
        machine): wait for a pass under way, as SQLite's own checkpoint in the commit would make us wait, or
        copy the pages here if its pass has not started. Either way the WAL stays bounded."""
        if self._checkpointer.copying.is_set():
            self._checkpointer.done.wait(self.STARVED_WAIT_SECONDS)
            return
        try:
            self._connection.wal_checkpoint(mode=apsw.SQLITE_CHECKPOINT_PASSIVE)
        except apsw.BusyError:
            self._checkpointer.done.wait(self.STARVED_WAIT_SECONDS)  # its pass started meanwhile
        except apsw.Error:
            logger.exception("WAL checkpoint failed; the next full WAL tries again")

    def write_group(self, batches: Sequence[PreparedBatch]) -> list[IngestResult | Exception]:
        """Write batches in one transaction; if it fails, each alone. Each batch's result, or the exception
        that kept it out (a failed batch stored nothing)."""
        if len(batches) > 1:
            try:
                return self._transaction(batches)
            except Exception:  # rolled back: each batch is written alone, with its own outcome
                pass
        outcomes: list[IngestResult | Exception] = []
        for batch in batches:
            try:
                outcomes.append(self._transaction([batch])[0])
            except Exception as error:  # e.g. a value SQLite cannot bind: that batch alone fails
                outcomes.append(error)
        return outcomes

    def _transaction(self, batches: Sequence[PreparedBatch]) -> list[IngestResult]:
        connection = self._connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            now = utcnow()  # one moment for the transaction: what is late is judged against it
            results = [store(self._target, batch, now) for batch in batches]
            connection.execute("COMMIT")
        except BaseException:
            if not connection.in_transaction:
                raise
            connection.execute("ROLLBACK")
            raise
        self._after_commit()
        return results


class ApswTarget:
    """How each step of ``store`` runs on an APSW connection, inside its open transaction."""

    dialect = SQLITE.name

    def __init__(self, connection: apsw.Connection) -> None:
        self._connection = connection

    def insert_new(self, rows: list[Row]) -> list[Row]:
        """Common case first: one plain ``executemany``. If some span ids were stored already (a retry), undo
        it to a savepoint and insert with RETURNING to learn which rows are new."""
        connection = self._connection
        connection.execute("SAVEPOINT ingest_events")
        before = connection.total_changes()
        connection.executemany(events_insert_sql(SQLITE), rows)
        if connection.total_changes() - before == len(rows):
            connection.execute("RELEASE ingest_events")
            return rows
        connection.execute("ROLLBACK TO ingest_events")
        connection.execute("RELEASE ingest_events")
        inserted: set[str] = set()
        for sql, values in events_returning_sql(SQLITE, rows):
            inserted.update(span for (span,) in connection.execute(sql, values))
        return only_new(rows, inserted)

    def upsert(self, statements: Statements) -> None:
        execute_many = self._connection.executemany
        for sql, values in statements:
            execute_many(sql, values)

    def note_late(self, params: dict[str, int]) -> None:
        self._connection.execute(LATE_SQL, params)
