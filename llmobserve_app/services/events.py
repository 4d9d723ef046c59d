"""Ingest: validate SDK events one by one, price them, store them once, update rollups — one transaction.

A batch with bad events keeps the good ones; a retried batch is counted once (unique tenant + span_id);
rollups (``usage_hourly``, ``tenant_usage_hourly``, ``customer_usage_daily``, ``unit_usage_hourly``,
``tenant_unit_usage_hourly``, ``runs``) are written in the same transaction as the events they summarise.

Speed (see docs/BENCHMARKS.md): rows are written through the session's own DB-API connection (so inside
its transaction) with multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING span_id`` and ``executemany``
upserts, bypassing per-value SQLAlchemy type processing. On PostgreSQL each of those is ONE statement whose
rows travel as one array per column (``INSERT … SELECT * FROM unnest(%s::type[], …)``): one parse, plan and
round trip per table and batch instead of one per row (or 19,000 parameters per multi-row VALUES).
On SQLite the ingest API stores batches through ``ingest_api.sqlite_writer`` instead (same SQL and rows,
APSW, group commit); ``write_prepared`` serves PostgreSQL, in-memory SQLite and code that writes inside its
own session. Values are therefore converted here exactly as the column types of ``models.py`` would: UTC
datetimes (naive ``YYYY-MM-DD HH:MM:SS.ffffff`` text on SQLite), JSON text, booleans.
``tests/app/test_ingest_service.py`` reads every column back through the ORM.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Annotated, Any

import msgspec
import sqlalchemy as sa
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, SQLModel

from llmobserve_app.models import Event, utcnow
from llmobserve_app.services.customer_ranges import note_late_events
from llmobserve_app.services.fast_events import (
    INT_MAX,
    MAX_COST_NANOS_PER_CALL,
    MAX_TAGS,
    MAX_TOKENS_PER_CALL,
    FastEvent,
    decode_clean_batch,
)
from llmobserve_app.services.money import NANOS_EXPONENT, usd_to_nanos
from pricing import compute_cost, flat_prices

ShortStr = Annotated[str, StringConstraints(min_length=1, max_length=128)]
NOT_CHARGED_PRICE_ID = "not_charged"
_encode_json = msgspec.json.encode


NUL_MESSAGE = "event: text must not contain NUL (\\u0000) characters"
UnitName = Annotated[str, StringConstraints(max_length=64)]
UnitQuantity = Annotated[float, Field(ge=0, allow_inf_nan=False)]  # infinite units would poison the rollup sums


class UsageIn(BaseModel):
    """Canonical usage: ``input_tokens`` include cache reads and writes, ``output_tokens`` include reasoning;
    unknown keys are ignored for forward compatibility."""

    model_config = ConfigDict(extra="ignore")
    input_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS_PER_CALL)
    cached_input_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS_PER_CALL)
    cache_write_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS_PER_CALL)
    cache_write_1h_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS_PER_CALL)
    output_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS_PER_CALL)
    reasoning_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS_PER_CALL)
    audio_seconds: float = Field(default=0, ge=0, allow_inf_nan=False)
    web_searches: int = Field(default=0, ge=0, le=INT_MAX)
    requests: int = Field(default=1, ge=0, le=INT_MAX)
    units: dict[UnitName, UnitQuantity] = Field(default_factory=dict, max_length=20)


class EventIn(BaseModel):
    """One provider call as the SDK sends it."""

    model_config = ConfigDict(extra="ignore")
    span_id: ShortStr
    run_id: ShortStr | None = None
    parent_span_id: ShortStr | None = None
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    provider: Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
    model: Annotated[str, StringConstraints(max_length=200)] | None = None
    endpoint: Annotated[str, StringConstraints(max_length=64)] = "unknown"
    status_code: int | None = Field(default=None, ge=100, le=599)
    streamed: bool = False
    incomplete: bool = False
    error: Annotated[str, StringConstraints(max_length=200)] | None = None
    usage: UsageIn = Field(default_factory=UsageIn)
    customer_id: Annotated[str, StringConstraints(max_length=200)] | None = None
    section_path: Annotated[str, StringConstraints(max_length=500)] | None = None
    tags: dict[Annotated[str, StringConstraints(max_length=64)], Annotated[str, StringConstraints(max_length=200)]] = (
        Field(default_factory=dict)
    )
    batch: bool = False
    service_tier: Annotated[str, StringConstraints(max_length=40)] | None = None
    provider_reported_cost: Decimal | None = Field(default=None, ge=0)
    sdk_version: Annotated[str, StringConstraints(max_length=40)] | None = None

    @field_validator("tags")
    @classmethod
    def _few_tags(cls, tags: dict[str, str]) -> dict[str, str]:
        if len(tags) > MAX_TAGS:
            raise ValueError(f"at most {MAX_TAGS} tags")
        return tags

    @property
    def failed(self) -> bool:
        """Rate-limited, errored or never-answered calls: counted, but not charged."""
        if self.status_code is not None:
            return self.status_code >= 400
        return self.error is not None


class EventBatchIn(BaseModel):
    """A whole ``{"events": [...]}`` body, validated in one pass (the fast path of ``parse_valid_batch``)."""

    model_config = ConfigDict(extra="ignore")
    events: list[EventIn]


@dataclass
class Rejection:
    index: int
    error: str


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"]) or "event"
        parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts)


def agent_of(section_path: str | None) -> str | None:
    """The outermost agent named in a section path (``agent:research/tool:x`` → ``research``)."""
    for segment in (section_path or "").split("/"):
        kind, _, name = segment.partition(":")
        if kind == "agent" and name:
            return name[:200]
    return None


_section_agent = lru_cache(maxsize=4096)(agent_of)  # a few section paths repeat in every batch


# Columns written for one event, in the order of the tuples built by ``_event_row`` (``id`` is generated).
EVENT_COLUMNS: tuple[str, ...] = (
    "tenant_id", "span_id", "run_id", "parent_span_id", "started_at", "ended_at", "latency_ms", "provider",
    "model", "endpoint", "status_code", "streamed", "incomplete", "error", "input_tokens", "cached_input_tokens",
    "cache_write_tokens", "cache_write_1h_tokens", "output_tokens", "reasoning_tokens", "audio_seconds",
    "web_searches", "requests", "units", "customer_id", "section_path", "agent", "tags", "batch", "service_tier",
    "provider_reported_cost_nanos", "cost_nanos", "priced", "charged", "price_id", "sdk_version", "received_at",
)
_column = EVENT_COLUMNS.index
SPAN_COLUMN = _column("span_id")
_SPAN, _RUN, _STARTED, _ENDED, _LATENCY = (_column(name) for name in (
    "span_id", "run_id", "started_at", "ended_at", "latency_ms"))
_PROVIDER, _MODEL, _CUSTOMER, _SECTION, _AGENT = (_column(name) for name in (
    "provider", "model", "customer_id", "section_path", "agent"))
_INPUT, _CACHED, _OUTPUT, _REASONING = (_column(name) for name in (
    "input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens"))
_COST, _PRICED, _CHARGED = (_column(name) for name in ("cost_nanos", "priced", "charged"))
_HOURLY_KEY = ("tenant_id", "hour", "customer_id", "provider", "model", "section_path", "priced")
_HOURLY_SUMS = ("calls", "failed_calls", "cost_nanos", "input_tokens", "cached_input_tokens", "output_tokens",
                "reasoning_tokens", "latency_ms_sum")
_RUN_SUMS = ("calls", "failed_calls", "unpriced_calls", "cost_nanos")
_DAILY_SUMS = ("calls", "failed_calls", "unpriced_calls", "cost_nanos", "input_tokens", "output_tokens",
               "latency_ms_sum")
_UNITS = _column("units")


def _sqlite_time(value: datetime) -> str:
    """A UTC datetime (aware or naive) as SQLAlchemy's SQLite DATETIME stores it: naive UTC text, always with
    microseconds. The caller converts to UTC first. msgspec writes an aware UTC time as
    ``"YYYY-MM-DDTHH:MM:SS.ffffffZ"`` four times faster than ``isoformat`` (whole seconds lose the fraction)."""
    text = _encode_json(value).decode()
    if len(text) == 29:
        return text[1:27].replace("T", " ")
    return value.isoformat(" ", "microseconds")[:26]


def _aware(value: datetime) -> datetime:
    return value


def _json(value: dict[str, Any]) -> str:
    return _encode_json(value).decode() if value else "{}"  # msgspec: ~15× faster than json.dumps here


@dataclass(frozen=True)
class _Dialect:
    """What differs between SQLite and PostgreSQL when writing rows through the DB-API connection."""

    name: str
    placeholder: str
    max_params: int
    least: str
    greatest: str
    row_locks: bool  # concurrent writers lock rows (PostgreSQL); SQLite has one writer at a time


_SQLITE = _Dialect("sqlite", "?", 32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999, "min", "max", False)
_POSTGRES = _Dialect("postgresql", "%s", 65_535, "least", "greatest", True)


_DIALECTS = {"sqlite": _SQLITE, "postgresql": _POSTGRES}


def sql_dialect(name: str) -> _Dialect:
    """How rows are written for a SQLAlchemy dialect name (``sqlite`` or ``postgresql``)."""
    try:
        return _DIALECTS[name]
    except KeyError:
        raise NotImplementedError(f"ingest supports SQLite and PostgreSQL, not {name}") from None


def _event_row(
    tenant_id: int, event: EventIn | FastEvent, received_at: Any, db_time: Callable[[datetime], Any]
) -> tuple[Any, ...]:
    """One ``events`` row (``EVENT_COLUMNS`` order), priced. Raises ValueError for unpriceable usage."""
    usage = event.usage
    started, ended = event.started_at, event.ended_at
    if started.tzinfo is not UTC:
        started = started.astimezone(UTC)
    if ended is None:
        ended = started
    elif ended.tzinfo is not UTC:
        ended = ended.astimezone(UTC)
    reported = event.provider_reported_cost
    failed = event.failed
    if failed:
        cost_nanos, priced, price_id = 0, True, NOT_CHARGED_PRICE_ID
    elif (reported is None and not event.batch and event.service_tier is None and not usage.audio_seconds
          and not usage.units and (flat := flat_prices(event.provider, event.model or "", started)) is not None
          and (cost_nanos := flat.cost(usage.input_tokens, usage.cached_input_tokens, usage.cache_write_tokens,
                                       usage.cache_write_1h_tokens, usage.output_tokens, usage.reasoning_tokens,
                                       usage.web_searches, usage.requests, exponent=NANOS_EXPONENT)) is not None):
        priced, price_id = True, flat.price_id  # a plain token call: integer pricing (pricing.flat), same result
    else:
        cost = compute_cost(
            event.provider,
            event.model or "",
            {
                "input_tokens": usage.input_tokens,
                "cached_input_tokens": usage.cached_input_tokens,
                "cache_write_tokens": usage.cache_write_tokens,
                "cache_write_1h_tokens": usage.cache_write_1h_tokens,
                "output_tokens": usage.output_tokens,
                "reasoning_tokens": usage.reasoning_tokens,
                "audio_seconds": usage.audio_seconds or 0,  # 0.0 → 0: same count, skips a Decimal parse
                "web_searches": usage.web_searches,
                "requests": usage.requests,
                "units": usage.units,
            },
            at=started,
            batch=event.batch,
            service_tier=event.service_tier,
            provider_reported_cost=reported,
        )
        priced = bool(cost.priced and cost.usd is not None)
        cost_nanos = usd_to_nanos(cost.usd) if priced else None
        price_id = cost.price_id
    reported_nanos = None if reported is None else usd_to_nanos(reported)
    if (cost_nanos or 0) > MAX_COST_NANOS_PER_CALL or (reported_nanos or 0) > MAX_COST_NANOS_PER_CALL:
        raise ValueError("cost is beyond what one call can cost here (over $1,000,000)")
    latency_ms = max(0, int((ended - started).total_seconds() * 1000))
    if latency_ms > INT_MAX:  # the events column is INTEGER (PostgreSQL refused the whole batch)
        raise ValueError("ended_at: more than 24 days after started_at")
    section = event.section_path
    return (
        tenant_id, event.span_id, event.run_id, event.parent_span_id, db_time(started), db_time(ended),
        latency_ms, event.provider.lower(), event.model, event.endpoint,
        event.status_code, event.streamed, event.incomplete, event.error, usage.input_tokens,
        usage.cached_input_tokens, usage.cache_write_tokens, usage.cache_write_1h_tokens, usage.output_tokens,
        usage.reasoning_tokens, usage.audio_seconds, usage.web_searches, usage.requests, _json(usage.units),
        event.customer_id, section, _section_agent(section) if section else None, _json(event.tags), event.batch,
        event.service_tier, reported_nanos, cost_nanos, priced,
        not failed, (price_id or None) and str(price_id)[:200], event.sdk_version, received_at,
    )


@lru_cache(maxsize=64)
def _events_sql(dialect: _Dialect, rows: int) -> str:
    one = "(" + ", ".join([dialect.placeholder] * len(EVENT_COLUMNS)) + ")"
    return (
        f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES {', '.join([one] * rows)} "
        "ON CONFLICT (tenant_id, span_id) DO NOTHING RETURNING span_id"
    )


@lru_cache(maxsize=4)
def events_insert_sql(dialect: _Dialect) -> str:
    """One event row's INSERT, skipping a (tenant_id, span_id) already stored (for ``executemany``)."""
    return (
        f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) "
        f"VALUES ({', '.join([dialect.placeholder] * len(EVENT_COLUMNS))}) "
        "ON CONFLICT (tenant_id, span_id) DO NOTHING"
    )


@lru_cache(maxsize=4)
def _hourly_sql(dialect: _Dialect) -> str:
    columns = (*_HOURLY_KEY, "agent", *_HOURLY_SUMS)
    updates = ", ".join(f"{name} = usage_hourly.{name} + excluded.{name}" for name in _HOURLY_SUMS)
    return (
        f"INSERT INTO usage_hourly ({', '.join(columns)}) VALUES ({', '.join([dialect.placeholder] * len(columns))}) "
        f"ON CONFLICT ({', '.join(_HOURLY_KEY)}) DO UPDATE SET {updates}"
    )


@lru_cache(maxsize=4)
def _tenant_hourly_sql(dialect: _Dialect) -> str:
    key = tuple(name for name in _HOURLY_KEY if name != "customer_id")
    columns = (*key, "agent", *_HOURLY_SUMS)
    updates = ", ".join(f"{name} = tenant_usage_hourly.{name} + excluded.{name}" for name in _HOURLY_SUMS)
    return (
        f"INSERT INTO tenant_usage_hourly ({', '.join(columns)}) "
        f"VALUES ({', '.join([dialect.placeholder] * len(columns))}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


@lru_cache(maxsize=4)
def _customer_daily_sql(dialect: _Dialect) -> str:
    columns = ("tenant_id", "customer_id", "day", *_DAILY_SUMS, "first_seen", "last_seen")
    sums = ", ".join(f"{name} = customer_usage_daily.{name} + excluded.{name}" for name in _DAILY_SUMS)
    return (
        f"INSERT INTO customer_usage_daily ({', '.join(columns)}) "
        f"VALUES ({', '.join([dialect.placeholder] * len(columns))}) "
        f"ON CONFLICT (tenant_id, customer_id, day) DO UPDATE SET {sums}, "
        f"first_seen = {dialect.least}(customer_usage_daily.first_seen, excluded.first_seen), "
        f"last_seen = {dialect.greatest}(customer_usage_daily.last_seen, excluded.last_seen)"
    )


@lru_cache(maxsize=4)
def _unit_hourly_sql(dialect: _Dialect) -> str:
    columns = ("tenant_id", "hour", "customer_id", "provider", "unit", "quantity")
    return (
        f"INSERT INTO unit_usage_hourly ({', '.join(columns)}) "
        f"VALUES ({', '.join([dialect.placeholder] * len(columns))}) "
        "ON CONFLICT (tenant_id, hour, customer_id, provider, unit) "
        "DO UPDATE SET quantity = unit_usage_hourly.quantity + excluded.quantity"
    )


@lru_cache(maxsize=4)
def _tenant_unit_hourly_sql(dialect: _Dialect) -> str:
    columns = ("tenant_id", "hour", "provider", "unit", "quantity")
    return (
        f"INSERT INTO tenant_unit_usage_hourly ({', '.join(columns)}) "
        f"VALUES ({', '.join([dialect.placeholder] * len(columns))}) "
        "ON CONFLICT (tenant_id, hour, provider, unit) "
        "DO UPDATE SET quantity = tenant_unit_usage_hourly.quantity + excluded.quantity"
    )


@lru_cache(maxsize=4)
def _runs_sql(dialect: _Dialect) -> str:
    columns = ("tenant_id", "run_id", "customer_id", "agent", "first_seen", "last_seen", *_RUN_SUMS)
    sums = ", ".join(f"{name} = runs.{name} + excluded.{name}" for name in _RUN_SUMS)
    return (
        f"INSERT INTO runs ({', '.join(columns)}) VALUES ({', '.join([dialect.placeholder] * len(columns))}) "
        "ON CONFLICT (tenant_id, run_id) DO UPDATE SET "
        f"first_seen = {dialect.least}(runs.first_seen, excluded.first_seen), "
        f"last_seen = {dialect.greatest}(runs.last_seen, excluded.last_seen), "
        "customer_id = COALESCE(runs.customer_id, excluded.customer_id), "
        f"agent = COALESCE(runs.agent, excluded.agent), {sums}"
    )


def events_returning_sql(dialect: _Dialect, rows: list[tuple[Any, ...]]) -> Iterator[tuple[str, list[Any]]]:
    """Multi-row INSERTs of ``rows`` (SQL and flat parameters, within the dialect's parameter limit) that
    skip span ids already stored and return the span ids they inserted."""
    chunk = min(500, dialect.max_params // len(EVENT_COLUMNS))
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        yield _events_sql(dialect, len(part)), [value for row in part for value in row]


def _insert_returning(cursor: Any, dialect: _Dialect, rows: list[tuple[Any, ...]]) -> set[str]:
    """Insert rows, skipping (tenant_id, span_id) already stored; returns the span ids actually inserted."""
    inserted: set[str] = set()
    for sql, values in events_returning_sql(dialect, rows):
        cursor.execute(sql, values)
        inserted.update(span for (span,) in cursor.fetchall())
    return inserted


def _insert_new(cursor: Any, dialect: _Dialect, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Insert rows, skipping (tenant_id, span_id) already stored; returns the rows actually inserted."""
    inserted = _insert_returning(cursor, dialect, rows)
    return rows if len(inserted) == len(rows) else [row for row in rows if row[_SPAN] in inserted]


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


def _execute_arrays(cursor: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Run a one-row INSERT for all ``rows`` in one statement (``postgres_arrays_sql``)."""
    arrays_sql, floats = postgres_arrays_sql(sql)
    columns = [list(column) for column in zip(*rows, strict=True)]
    for index in floats:
        columns[index] = [None if value is None else float(value) for value in columns[index]]
    cursor.execute(arrays_sql, columns)


def _postgres_insert_new(cursor: Any, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """``_insert_new`` in one statement on PostgreSQL."""
    _execute_arrays(cursor, events_insert_sql(_POSTGRES) + " RETURNING span_id", rows)
    inserted = {span for (span,) in cursor.fetchall()}
    return rows if len(inserted) == len(rows) else [row for row in rows if row[_SPAN] in inserted]


def _hour_of(started: Any) -> Any:
    if isinstance(started, str):  # SQLite text: "YYYY-MM-DD HH:" + "00:00.000000"
        return started[:14] + "00:00.000000"
    return started.replace(minute=0, second=0, microsecond=0)


def _hourly_rows(tenant_id: int, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Sum rows into their hour bucket (key order of ``_HOURLY_KEY``, then agent and ``_HOURLY_SUMS``)."""
    buckets: dict[tuple[Any, ...], list[Any]] = {}
    for row in rows:
        key = (tenant_id, _hour_of(row[_STARTED]), row[_CUSTOMER] or "", row[_PROVIDER], row[_MODEL] or "",
               row[_SECTION] or "", row[_PRICED])
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = [row[_AGENT] or "", 0, 0, 0, 0, 0, 0, 0, 0]
        bucket[1] += 1
        if not row[_CHARGED]:
            bucket[2] += 1
        bucket[3] += row[_COST] or 0
        bucket[4] += row[_INPUT]
        bucket[5] += row[_CACHED]
        bucket[6] += row[_OUTPUT]
        bucket[7] += row[_REASONING]
        bucket[8] += row[_LATENCY]
    return [(*key, *bucket) for key, bucket in buckets.items()]


def _tenant_hourly_rows(hourly: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The per-customer hour buckets summed over customers (``usage_hourly`` rows → ``tenant_usage_hourly``)."""
    buckets: dict[tuple[Any, ...], list[Any]] = {}
    for row in hourly:  # tenant, hour, customer, provider, model, section, priced | agent, calls … latency
        key = (row[0], row[1], row[3], row[4], row[5], row[6])  # without customer_id
        bucket = buckets.get(key)
        if bucket is None:
            buckets[key] = list(row[7:])
            continue
        bucket[1] += row[8]
        bucket[2] += row[9]
        bucket[3] += row[10]
        bucket[4] += row[11]
        bucket[5] += row[12]
        bucket[6] += row[13]
        bucket[7] += row[14]
        bucket[8] += row[15]
    return [(*key, *bucket) for key, bucket in buckets.items()]


def _day_of(started: Any) -> Any:
    if isinstance(started, str):
        return started[:10] + " 00:00:00.000000"
    return started.replace(hour=0, minute=0, second=0, microsecond=0)


def _customer_daily_rows(tenant_id: int, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Per customer and UTC day: sums, first and last call start (calls without a customer are left out)."""
    days: dict[tuple[Any, ...], list[Any]] = {}
    for row in rows:
        customer = row[_CUSTOMER]
        if not customer:
            continue
        started = row[_STARTED]
        key = (tenant_id, customer, _day_of(started))
        day = days.get(key)
        if day is None:
            day = days[key] = [0, 0, 0, 0, 0, 0, 0, started, started]
        day[0] += 1
        day[1] += 0 if row[_CHARGED] else 1
        day[2] += 0 if row[_PRICED] else 1
        day[3] += row[_COST] or 0
        day[4] += row[_INPUT]
        day[5] += row[_OUTPUT]
        day[6] += row[_LATENCY]
        if started < day[7]:
            day[7] = started
        if started > day[8]:
            day[8] = started
    return [(*key, *day) for key, day in days.items()]


def _unit_rows(tenant_id: int, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Non-token units (``usage.units``) summed per hour, customer ('' for none), provider and unit."""
    quantities: dict[tuple[Any, ...], float] = {}
    for row in rows:
        if row[_UNITS] == "{}":
            continue
        prefix = (tenant_id, _hour_of(row[_STARTED]), row[_CUSTOMER] or "", row[_PROVIDER])
        for unit, quantity in json.loads(row[_UNITS]).items():
            key = (*prefix, unit)
            quantities[key] = quantities.get(key, 0.0) + quantity
    return [(*key, quantity) for key, quantity in quantities.items()]


def _tenant_unit_rows(unit_rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Per-customer unit rows (``_unit_rows``) summed over customers."""
    quantities: dict[tuple[Any, ...], float] = {}
    for tenant_id, hour, _customer, provider, unit, quantity in unit_rows:
        key = (tenant_id, hour, provider, unit)
        quantities[key] = quantities.get(key, 0.0) + quantity
    return [(*key, quantity) for key, quantity in quantities.items()]


def _run_rows(tenant_id: int, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Per run id: first non-empty customer and agent (arrival order), first/last seen and sums, in the
    column order of ``_runs_sql``."""
    runs: dict[str, list[Any]] = {}
    for row in rows:
        run_id = row[_RUN]
        if not run_id:
            continue
        run = runs.get(run_id)
        if run is None:
            runs[run_id] = [tenant_id, run_id, row[_CUSTOMER] or None, row[_AGENT], row[_STARTED], row[_ENDED],
                            1, 0 if row[_CHARGED] else 1, 0 if row[_PRICED] else 1, row[_COST] or 0]
            continue
        if row[_STARTED] < run[4]:
            run[4] = row[_STARTED]
        if row[_ENDED] > run[5]:
            run[5] = row[_ENDED]
        run[2] = run[2] or row[_CUSTOMER]
        run[3] = run[3] or row[_AGENT]
        run[6] += 1
        run[7] += 0 if row[_CHARGED] else 1
        run[8] += 0 if row[_PRICED] else 1
        run[9] += row[_COST] or 0
    return [tuple(run) for run in runs.values()]


def _escapes_nul(body: bytes | str) -> bool:
    """True when the JSON text has a ``\\u0000`` escape (JSON cannot hold a raw NUL). Jumps from backslash
    to backslash, which clean bodies rarely have (a memchr), rather than searching for the six characters."""
    backslash, nul = (b"\\", b"u0000") if isinstance(body, bytes) else ("\\", "u0000")
    at = body.find(backslash)  # type: ignore[arg-type]
    while at != -1:
        if body.startswith(nul, at + 1):  # type: ignore[arg-type]
            return True
        at = body.find(backslash, at + 2)  # type: ignore[arg-type]  # skip the escaped character
    return False


def parse_valid_batch(body: bytes | str) -> list[EventIn] | list[FastEvent] | None:
    """The events of a ``{"events": [...]}`` JSON body when every one is valid, parsed and validated in one
    pass (msgspec when it can vouch for the batch, else pydantic); None when anything is off, so the caller
    takes the careful path (``json.loads`` then ``ingest_events``), which names each bad event's field."""
    if _escapes_nul(body):
        return None  # a NUL character somewhere: the careful path finds the event and says so
    fast = decode_clean_batch(body)
    if fast is not None:
        return fast
    try:
        return EventBatchIn.model_validate_json(body).events
    except ValueError:  # ValidationError is a ValueError
        return None


def _contains_nul(value: Any) -> bool:
    """True when a NUL character is in any string of a decoded JSON value (PostgreSQL text cannot hold it).
    Walks with a stack, not recursion: an ignored field may nest as deep as ``json.loads`` allows."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def validate_events(raw_events: Sequence[Any]) -> tuple[list[EventIn | None], list[Rejection]]:
    """Validate events one by one: a model per position (None where rejected) and the rejections."""
    validated: list[EventIn | None] = []
    rejected: list[Rejection] = []
    validate = EventIn.model_validate
    for index, raw in enumerate(raw_events):
        if not isinstance(raw, dict):
            rejected.append(Rejection(index, "event: must be a JSON object"))
            validated.append(None)
            continue
        if _contains_nul(raw):
            rejected.append(Rejection(index, NUL_MESSAGE))
            validated.append(None)
            continue
        try:
            validated.append(validate(raw))
        except ValidationError as error:
            rejected.append(Rejection(index, _describe(error)))
            validated.append(None)
    return validated, rejected


@dataclass
class PreparedBatch:
    """One tenant's events, validated and priced into rows, not yet written (built without the database)."""

    tenant_id: int
    dialect: str
    rows: list[tuple[Any, ...]]
    duplicates: int = 0  # repeated span ids inside the batch
    rejected: list[Rejection] = field(default_factory=list)
    # The rollup upserts of ``rows`` (``rollup_statements``), worked out with the rows: on SQLite that is the
    # web process's share, not the writer's. Valid when every row turns out new (no retry), as usual.
    rollups: list[tuple[str, list[tuple[Any, ...]]]] = field(default_factory=list, repr=False)

    def rollups_of(self, new_rows: list[tuple[Any, ...]]) -> list[tuple[str, list[tuple[Any, ...]]]]:
        """The upserts for the rows actually inserted (``new_rows``, a subset of ``rows``)."""
        if len(new_rows) == len(self.rows) and self.rollups:
            return self.rollups
        return rollup_statements(sql_dialect(self.dialect), self.tenant_id, new_rows)


def dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name


def prepare_events(
    tenant_id: int,
    events: Sequence[EventIn | FastEvent | None],
    rejected: Sequence[Rejection] = (),
    dialect: str = "sqlite",
) -> PreparedBatch:
    """Price validated events (None entries were rejected already) into rows for ``dialect``. Events whose
    usage cannot be priced (e.g. cached > input tokens) are rejected here, naming the field."""
    db_time = _sqlite_time if sql_dialect(dialect) is _SQLITE else _aware
    received_at = db_time(utcnow())
    batch = PreparedBatch(tenant_id, dialect, [], rejected=list(rejected))
    seen: set[str] = set()
    for index, event in enumerate(events):
        if event is None:
            continue
        try:
            row = _event_row(tenant_id, event, received_at, db_time)
        except (InvalidOperation, OverflowError, ValueError) as error:
            batch.rejected.append(Rejection(index, f"event: {error}"))
            continue
        if event.span_id in seen:
            batch.duplicates += 1
            continue
        seen.add(event.span_id)
        batch.rows.append(row)
    batch.rejected.sort(key=lambda rejection: rejection.index)
    if batch.rows:
        batch.rollups = rollup_statements(sql_dialect(dialect), tenant_id, batch.rows)
    return batch


def write_prepared(session: Session, batch: PreparedBatch) -> IngestResult:
    """Store a prepared batch and its rollups in the session's transaction (the caller commits). Leaves
    ``batch`` untouched, so a batch whose transaction failed can be written again."""
    dialect = sql_dialect(dialect_name(session))
    if dialect.name != batch.dialect:
        raise ValueError(f"batch prepared for {batch.dialect}, session is {dialect.name}")
    result = IngestResult(duplicates=batch.duplicates, rejected=list(batch.rejected))
    rows = batch.rows
    if not rows:
        return result
    dbapi_error = session.get_bind().dialect.loaded_dbapi.Error
    cursor = session.connection().connection.cursor()
    arrays = dialect is _POSTGRES
    try:
        new_rows = _postgres_insert_new(cursor, rows) if arrays else _insert_new(cursor, dialect, rows)
        result.duplicates += len(rows) - len(new_rows)  # already stored: a retried batch
        result.accepted = len(new_rows)
        if new_rows and arrays:
            # One statement per rollup table (each rollup row has its own key: rows are summed per key, as one
            # statement needs), all sent in one round trip (psycopg pipeline mode).
            with cursor.connection.pipeline():
                for sql, values in batch.rollups_of(new_rows):
                    _execute_arrays(cursor, sql, values)
        elif new_rows:
            for sql, values in batch.rollups_of(new_rows):
                cursor.executemany(sql, values)
        if new_rows:
            # An event for a closed hour or day makes the per-customer range totals built over it stale.
            note_late_events(session, batch.tenant_id, oldest_started(new_rows))
    except dbapi_error as error:  # the exception classes callers of SQLAlchemy expect (IntegrityError...)
        raise sa.exc.DBAPIError.instance(None, None, error, dbapi_error, hide_parameters=True) from error
    finally:
        cursor.close()
    return result


def rollup_statements(
    dialect: _Dialect, tenant_id: int, rows: list[tuple[Any, ...]]
) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """The upserts that add newly stored event rows to every rollup table: (SQL, parameter rows) pairs."""
    hourly = _hourly_rows(tenant_id, rows)
    units = _unit_rows(tenant_id, rows)
    statements = [
        (_hourly_sql(dialect), hourly),
        (_tenant_hourly_sql(dialect), _tenant_hourly_rows(hourly)),
        (_customer_daily_sql(dialect), _customer_daily_rows(tenant_id, rows)),
        (_unit_hourly_sql(dialect), units),
        (_tenant_unit_hourly_sql(dialect), _tenant_unit_rows(units)),
        (_runs_sql(dialect), _run_rows(tenant_id, rows)),
    ]
    if dialect.row_locks:  # one lock order for every writer: concurrent batches cannot deadlock
        return [(sql, sorted(values, key=repr)) for sql, values in statements if values]
    return [(sql, values) for sql, values in statements if values]


def oldest_started(rows: list[tuple[Any, ...]]) -> Any:
    """The earliest ``started_at`` of event rows, in storage form."""
    return min(row[_STARTED] for row in rows)


def ingest_events(session: Session, tenant_id: int, raw_events: Sequence[Any]) -> IngestResult:
    """Validate, price and store a batch for one tenant. The caller's session commits (or rolls back)."""
    validated, rejected = validate_events(raw_events)
    return write_prepared(session, prepare_events(tenant_id, validated, rejected, dialect_name(session)))


if set(EVENT_COLUMNS) != {column.name for column in Event.__table__.columns} - {"id"}:
    raise RuntimeError("services/events.py: EVENT_COLUMNS no longer matches the events table in models.py")
