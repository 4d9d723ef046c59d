"""Storing a prepared batch: ``store`` is the one routine, whatever the database and the driver.

A batch with bad events keeps the good ones; a retried batch is counted once (unique tenant + span_id);
rollups (``usage_hourly``, ``tenant_usage_hourly``, ``customer_usage_daily``, ``unit_usage_hourly``,
``tenant_unit_usage_hourly``, ``runs``) are written in the same transaction as the events they summarise, and
an event for a closed hour or day bumps the tenant's late counters (``customer_ranges``).

``store`` runs those steps through a ``Target``, which only says how a step runs on its connection:
``PostgresTarget`` and ``SqliteTarget`` write through a SQLAlchemy session's own DB-API connection (inside
its transaction, bypassing per-value type processing; ``write_prepared``), and the SQLite writer process has
its APSW one (``ingest_api.sqlite_writer``). On PostgreSQL each statement takes its rows as one array per
column (``sql.postgres_arrays_sql``) and the rollup upserts go in one round trip (psycopg pipeline mode).
``tests/app/test_ingest_service.py`` reads every column back through the ORM; ``test_sqlite_writer.py``
compares the two SQLite targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.models import utcnow
from llmobserve_app.services import custom_prices
from llmobserve_app.services.customer_ranges import LATE_SQL, late_event_params
from llmobserve_app.services.ingest import writers
from llmobserve_app.services.ingest.batch import IngestResult, PreparedBatch, oldest_started, prepare_events
from llmobserve_app.services.ingest.rows import SPAN
from llmobserve_app.services.ingest.schema import validate_events
from llmobserve_app.services.ingest.sql import (
    POSTGRES,
    SQLITE,
    events_insert_sql,
    events_returning_sql,
    execute_arrays,
    sql_dialect,
)

Row = tuple[Any, ...]
Statements = list[tuple[str, list[Row]]]
_LATE_SQL = sa.text(LATE_SQL)


class Target(Protocol):
    """How each step of ``store`` runs on one connection, inside the caller's transaction."""

    dialect: str

    def insert_new(self, rows: list[Row]) -> list[Row]:
        """Insert event rows, skipping (tenant_id, span_id) already stored; the rows actually inserted."""

    def upsert(self, statements: Statements) -> None:
        """Run each rollup upsert for its rows."""

    def note_late(self, params: dict[str, int]) -> None:
        """Run ``LATE_SQL`` with ``params``."""


def only_new(rows: list[Row], inserted: set[str]) -> list[Row]:
    """The rows whose span id was inserted."""
    return rows if len(inserted) == len(rows) else [row for row in rows if row[SPAN] in inserted]


def store(target: Target, batch: PreparedBatch, now: datetime) -> IngestResult:
    """Store a prepared batch, its rollups and late-event note through ``target`` (the caller commits); ``now``
    is the moment of writing (events older than its hour are late). Leaves ``batch`` untouched, so a batch whose
    transaction failed can be written again."""
    if batch.dialect != target.dialect:
        raise ValueError(f"batch prepared for {batch.dialect}, the database is {target.dialect}")
    result = IngestResult(duplicates=batch.duplicates, rejected=list(batch.rejected))
    rows = batch.rows
    if not rows:
        return result
    new_rows = target.insert_new(rows)
    result.duplicates += len(rows) - len(new_rows)  # already stored: a retried batch
    result.accepted = len(new_rows)
    if new_rows:
        target.upsert(batch.rollups_of(new_rows))
        # An event for a closed hour or day makes the per-customer range totals built over it stale.
        params = late_event_params(batch.tenant_id, oldest_started(new_rows), now)
        if params is not None:
            target.note_late(params)
    return result


class _SessionTarget:
    """Writes through a SQLAlchemy session's DB-API cursor, in the session's transaction."""

    def __init__(self, session: Session, cursor: Any) -> None:
        self._session, self._cursor = session, cursor

    def note_late(self, params: dict[str, int]) -> None:
        self._session.execute(_LATE_SQL, params)


class SqliteTarget(_SessionTarget):
    """SQLite through a session's ``sqlite3`` connection (in-memory databases, code with its own session)."""

    dialect = SQLITE.name

    def insert_new(self, rows: list[Row]) -> list[Row]:
        inserted: set[str] = set()
        for sql, values in events_returning_sql(SQLITE, rows):
            self._cursor.execute(sql, values)
            inserted.update(span for (span,) in self._cursor.fetchall())
        return only_new(rows, inserted)

    def upsert(self, statements: Statements) -> None:
        for sql, values in statements:
            self._cursor.executemany(sql, values)


class PostgresTarget(_SessionTarget):
    """PostgreSQL through a session's psycopg connection: one statement per table, rows as arrays."""

    dialect = POSTGRES.name

    def insert_new(self, rows: list[Row]) -> list[Row]:
        execute_arrays(self._cursor, events_insert_sql(POSTGRES) + " RETURNING span_id", rows)
        return only_new(rows, {span for (span,) in self._cursor.fetchall()})

    def upsert(self, statements: Statements) -> None:
        # One statement per rollup table (each rollup row has its own key: rows are summed per key, as one
        # statement needs), all sent in one round trip.
        with self._cursor.connection.pipeline():
            for sql, values in statements:
                execute_arrays(self._cursor, sql, values)


def dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name


def write_prepared(session: Session, batch: PreparedBatch, now: datetime) -> IngestResult:
    """``store`` a prepared batch in the session's transaction (the caller commits), written at ``now``."""
    target_class = PostgresTarget if sql_dialect(dialect_name(session)) is POSTGRES else SqliteTarget
    dbapi_error = session.get_bind().dialect.loaded_dbapi.Error
    cursor = session.connection().connection.cursor()
    try:
        return store(target_class(session, cursor), batch, now)
    except dbapi_error as error:  # the exception classes callers of SQLAlchemy expect (IntegrityError...)
        raise sa.exc.DBAPIError.instance(None, None, error, dbapi_error, hide_parameters=True) from error
    finally:
        cursor.close()


def ingest_events(session: Session, tenant_id: int, raw_events: Sequence[Any], now: datetime | None = None
                  ) -> IngestResult:
    """Validate, price and store a batch for one tenant, written at ``now`` (default: the clock). The caller's
    session commits (or rolls back)."""
    validated, rejected = validate_events(raw_events)
    prices = custom_prices.prices_for(session.get_bind(), tenant_id)  # type: ignore[arg-type]
    prepared = prepare_events(tenant_id, validated, rejected, dialect_name(session), prices)
    writers.changed_after_commit(session)  # not an ingest API batch: the caps' memory of spend is stale
    return write_prepared(session, prepared, now or utcnow())
