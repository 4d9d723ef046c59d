"""The SQL that stores event rows and their rollups, for SQLite (``?``) and PostgreSQL (``%s``).

Rollup columns are read off the models (the measures a rollup adds up are its model's measure fields), so a
measure added to ``models.py`` is summed and upserted without touching this file (``rollup_rows`` sums it).
On PostgreSQL each one-row INSERT is rewritten to take all its rows as one array per column
(``postgres_arrays_sql``): one parse, plan and round trip per table and batch.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import SQLModel

from llmobserve_app.models import CustomerMeasures, Run, UsageMeasures
from llmobserve_app.services.ingest.rows import EVENT_COLUMNS

# Rollup columns: key, then the measures each sums (names and order of the models' fields).
HOURLY_KEY = ("tenant_id", "hour", "customer_id", "provider", "model", "section_path", "priced")
TENANT_HOURLY_KEY = tuple(name for name in HOURLY_KEY if name != "customer_id")
HOURLY_SUMS = tuple(UsageMeasures.model_fields)  # calls, failed_calls, cost_nanos, … latency_ms_sum
HOURLY_COLUMNS = (*HOURLY_KEY, "agent", *HOURLY_SUMS)
TENANT_HOURLY_COLUMNS = (*TENANT_HOURLY_KEY, "agent", *HOURLY_SUMS)
SEEN = ("first_seen", "last_seen")
DAILY_SUMS = tuple(name for name in CustomerMeasures.model_fields if name not in SEEN)
DAILY_COLUMNS = ("tenant_id", "customer_id", "day", *DAILY_SUMS, *SEEN)
_RUN_FIELDS = tuple(Run.model_fields)
RUN_SUMS = _RUN_FIELDS[_RUN_FIELDS.index("last_seen") + 1:]  # calls, failed_calls, unpriced_calls, cost_nanos
RUN_COLUMNS = ("tenant_id", "run_id", "customer_id", "agent", *SEEN, *RUN_SUMS)
UNIT_COLUMNS = ("tenant_id", "hour", "customer_id", "provider", "unit", "quantity")
TENANT_UNIT_COLUMNS = ("tenant_id", "hour", "provider", "unit", "quantity")


@dataclass(frozen=True)
class Dialect:
    """What differs between SQLite and PostgreSQL when writing rows through the DB-API connection."""

    name: str
    placeholder: str
    max_params: int
    least: str
    greatest: str
    row_locks: bool  # concurrent writers lock rows (PostgreSQL); SQLite has one writer at a time


SQLITE = Dialect("sqlite", "?", 32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999, "min", "max", False)
POSTGRES = Dialect("postgresql", "%s", 65_535, "least", "greatest", True)
_DIALECTS = {"sqlite": SQLITE, "postgresql": POSTGRES}


def sql_dialect(name: str) -> Dialect:
    """How rows are written for a SQLAlchemy dialect name (``sqlite`` or ``postgresql``)."""
    try:
        return _DIALECTS[name]
    except KeyError:
        raise NotImplementedError(f"ingest supports SQLite and PostgreSQL, not {name}") from None


def _insert(dialect: Dialect, table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([dialect.placeholder] * len(columns))})"


def _add(table: str, sums: tuple[str, ...]) -> str:
    return ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in sums)


@lru_cache(maxsize=64)
def _events_sql(dialect: Dialect, rows: int) -> str:
    one = "(" + ", ".join([dialect.placeholder] * len(EVENT_COLUMNS)) + ")"
    return (
        f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES {', '.join([one] * rows)} "
        "ON CONFLICT (tenant_id, span_id) DO NOTHING RETURNING span_id"
    )


@lru_cache(maxsize=4)
def events_insert_sql(dialect: Dialect) -> str:
    """One event row's INSERT, skipping a (tenant_id, span_id) already stored (for ``executemany``)."""
    return f"{_insert(dialect, 'events', EVENT_COLUMNS)} ON CONFLICT (tenant_id, span_id) DO NOTHING"


def events_returning_sql(dialect: Dialect, rows: list[tuple[Any, ...]]) -> Iterator[tuple[str, list[Any]]]:
    """Multi-row INSERTs of ``rows`` (SQL and flat parameters, within the dialect's parameter limit) that
    skip span ids already stored and return the span ids they inserted."""
    chunk = min(500, dialect.max_params // len(EVENT_COLUMNS))
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        yield _events_sql(dialect, len(part)), [value for row in part for value in row]


@lru_cache(maxsize=4)
def hourly_sql(dialect: Dialect) -> str:
    return (f"{_insert(dialect, 'usage_hourly', HOURLY_COLUMNS)} "
            f"ON CONFLICT ({', '.join(HOURLY_KEY)}) DO UPDATE SET {_add('usage_hourly', HOURLY_SUMS)}")


@lru_cache(maxsize=4)
def tenant_hourly_sql(dialect: Dialect) -> str:
    return (f"{_insert(dialect, 'tenant_usage_hourly', TENANT_HOURLY_COLUMNS)} "
            f"ON CONFLICT ({', '.join(TENANT_HOURLY_KEY)}) DO UPDATE SET {_add('tenant_usage_hourly', HOURLY_SUMS)}")


@lru_cache(maxsize=4)
def customer_daily_sql(dialect: Dialect) -> str:
    return (
        f"{_insert(dialect, 'customer_usage_daily', DAILY_COLUMNS)} "
        f"ON CONFLICT (tenant_id, customer_id, day) DO UPDATE SET {_add('customer_usage_daily', DAILY_SUMS)}, "
        f"first_seen = {dialect.least}(customer_usage_daily.first_seen, excluded.first_seen), "
        f"last_seen = {dialect.greatest}(customer_usage_daily.last_seen, excluded.last_seen)"
    )


def _quantity_sql(dialect: Dialect, table: str, columns: tuple[str, ...]) -> str:
    return (f"{_insert(dialect, table, columns)} ON CONFLICT ({', '.join(columns[:-1])}) "
            f"DO UPDATE SET quantity = {table}.quantity + excluded.quantity")


@lru_cache(maxsize=4)
def unit_hourly_sql(dialect: Dialect) -> str:
    return _quantity_sql(dialect, "unit_usage_hourly", UNIT_COLUMNS)


@lru_cache(maxsize=4)
def tenant_unit_hourly_sql(dialect: Dialect) -> str:
    return _quantity_sql(dialect, "tenant_unit_usage_hourly", TENANT_UNIT_COLUMNS)


@lru_cache(maxsize=4)
def runs_sql(dialect: Dialect) -> str:
    return (
        f"{_insert(dialect, 'runs', RUN_COLUMNS)} "
        "ON CONFLICT (tenant_id, run_id) DO UPDATE SET "
        f"first_seen = {dialect.least}(runs.first_seen, excluded.first_seen), "
        f"last_seen = {dialect.greatest}(runs.last_seen, excluded.last_seen), "
        "customer_id = COALESCE(runs.customer_id, excluded.customer_id), "
        f"agent = COALESCE(runs.agent, excluded.agent), {_add('runs', RUN_SUMS)}"
    )


_ONE_ROW_INSERT = re.compile(r"^INSERT INTO (\w+) \(([^)]*)\) VALUES \([^)]*\)")


@lru_cache(maxsize=16)
def postgres_arrays_sql(sql: str) -> tuple[str, tuple[int, ...]]:
    """A one-row ``INSERT INTO t (a, b) VALUES (%s, %s) …`` made to take its rows as one array per column:
    ``INSERT INTO t (a, b) SELECT * FROM unnest(%s::type_a[], %s::type_b[]) …`` (column types from the models);
    and the positions of the float columns (an array holds one type: their ints must become floats)."""
    match = _ONE_ROW_INSERT.match(sql)
    if match is None:
        raise ValueError(f"not a one-row INSERT: {sql[:80]}")
    table = SQLModel.metadata.tables[match[1]]
    columns = [table.c[name.strip()] for name in match[2].split(",")]
    dialect = postgresql.dialect()
    casts = ", ".join(f"%s::{column.type.compile(dialect=dialect)}[]" for column in columns)
    floats = tuple(index for index, column in enumerate(columns) if isinstance(column.type, sa.Float))
    return f"INSERT INTO {match[1]} ({match[2]}) SELECT * FROM unnest({casts}){sql[match.end():]}", floats


def execute_arrays(cursor: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Run a one-row INSERT for all ``rows`` in one statement (``postgres_arrays_sql``)."""
    arrays_sql, floats = postgres_arrays_sql(sql)
    columns = [list(column) for column in zip(*rows, strict=True)]
    for index in floats:
        columns[index] = [None if value is None else float(value) for value in columns[index]]
    cursor.execute(arrays_sql, columns)
