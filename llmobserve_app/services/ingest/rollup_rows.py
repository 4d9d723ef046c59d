"""Event rows summed into the rows of each rollup table, and the upserts that add them (``rollup_statements``).

Every measure a rollup sums is named by its column: ``MEASURES`` are what one event adds to each measure, and
each table picks its own (``sql.HOURLY_SUMS`` … read off the models) by name. Rollup rows are tuples in the
column order of their statement in ``sql``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from operator import add, itemgetter
from typing import Any

from llmobserve_app.services.ingest.rows import COLUMN, STARTED
from llmobserve_app.services.ingest.sql import (
    DAILY_SUMS,
    HOURLY_KEY,
    HOURLY_SUMS,
    RUN_SUMS,
    TENANT_HOURLY_KEY,
    Dialect,
    customer_daily_sql,
    hourly_sql,
    runs_sql,
    tenant_hourly_sql,
    tenant_unit_hourly_sql,
    unit_hourly_sql,
)

Row = tuple[Any, ...]
_RUN, _ENDED, _PROVIDER, _MODEL, _CUSTOMER, _SECTION, _AGENT, _UNITS = (COLUMN[name] for name in (
    "run_id", "ended_at", "provider", "model", "customer_id", "section_path", "agent", "units"))
_COST, _PRICED, _CHARGED = COLUMN["cost_nanos"], COLUMN["priced"], COLUMN["charged"]
# Measures copied from an event column (measure → column); the others are worked out in ``_measures``.
_COPIED = {"input_tokens": "input_tokens", "cached_input_tokens": "cached_input_tokens",
           "output_tokens": "output_tokens", "reasoning_tokens": "reasoning_tokens", "latency_ms_sum": "latency_ms"}
MEASURES = ("calls", "failed_calls", "unpriced_calls", "cost_nanos", *_COPIED)
_copied = itemgetter(*(COLUMN[column] for column in _COPIED.values()))


def _measures(row: Row) -> Row:
    """What one event row adds to each of ``MEASURES``, in that order."""
    return (1, 0 if row[_CHARGED] else 1, 0 if row[_PRICED] else 1, row[_COST] or 0, *_copied(row))


def _picker(sums: Sequence[str]) -> itemgetter[Any]:
    """The values of ``sums`` (measure names, several) out of a ``_measures`` tuple, in that order."""
    return itemgetter(*(MEASURES.index(name) for name in sums))


_hourly_sums, _daily_sums, _run_sums = (_picker(sums) for sums in (HOURLY_SUMS, DAILY_SUMS, RUN_SUMS))
_HOURLY_N, _DAILY_N, _RUN_N = len(HOURLY_SUMS), len(DAILY_SUMS), len(RUN_SUMS)
_tenant_key = itemgetter(*(HOURLY_KEY.index(name) for name in TENANT_HOURLY_KEY))
# A bucket is one list: its sums first (``map(add, bucket, sums)`` stops at the last sum), then the rest.
_FIRST_SEEN, _LAST_SEEN = _DAILY_N, _DAILY_N + 1  # in a day's bucket
_RUN_CUSTOMER, _RUN_AGENT, _RUN_FIRST, _RUN_LAST = range(_RUN_N, _RUN_N + 4)  # in a run's bucket


def _hour_of(started: Any) -> Any:
    if isinstance(started, str):  # SQLite text: "YYYY-MM-DD HH:" + "00:00.000000"
        return started[:14] + "00:00.000000"
    return started.replace(minute=0, second=0, microsecond=0)


def _day_of(started: Any) -> Any:
    if isinstance(started, str):
        return started[:10] + " 00:00:00.000000"
    return started.replace(hour=0, minute=0, second=0, microsecond=0)


def hourly_rows(tenant_id: int, rows: list[Row], measures: list[Row]) -> tuple[list[Row], list[Row]]:
    """``usage_hourly`` rows (event rows summed per hour bucket, ``HOURLY_KEY``, with the first agent) and
    ``tenant_usage_hourly`` rows (those summed over customers)."""
    buckets: dict[Row, list[Any]] = {}
    for row, measured in zip(rows, measures, strict=True):
        key = (tenant_id, _hour_of(row[STARTED]), row[_CUSTOMER] or "", row[_PROVIDER], row[_MODEL] or "",
               row[_SECTION] or "", row[_PRICED])
        bucket = buckets.get(key)
        if bucket is None:
            buckets[key] = [*_hourly_sums(measured), row[_AGENT] or ""]
        else:
            bucket[:_HOURLY_N] = map(add, bucket, _hourly_sums(measured))
    totals: dict[Row, list[Any]] = {}
    for key, bucket in buckets.items():
        tenant_key = _tenant_key(key)
        total = totals.get(tenant_key)
        if total is None:
            totals[tenant_key] = bucket.copy()
        else:
            total[:_HOURLY_N] = map(add, total, bucket[:_HOURLY_N])
    return ([(*key, bucket.pop(), *bucket) for key, bucket in buckets.items()],
            [(*key, total.pop(), *total) for key, total in totals.items()])


def customer_daily_rows(tenant_id: int, rows: list[Row], measures: list[Row]) -> list[Row]:
    """Per customer and UTC day: sums, first and last call start (calls without a customer are left out)."""
    days: dict[Row, list[Any]] = {}
    for row, measured in zip(rows, measures, strict=True):
        customer = row[_CUSTOMER]
        if not customer:
            continue
        started = row[STARTED]
        key = (tenant_id, customer, _day_of(started))
        day = days.get(key)
        if day is None:
            days[key] = [*_daily_sums(measured), started, started]
            continue
        day[:_DAILY_N] = map(add, day, _daily_sums(measured))
        if started < day[_FIRST_SEEN]:
            day[_FIRST_SEEN] = started
        if started > day[_LAST_SEEN]:
            day[_LAST_SEEN] = started
    return [(*key, *day) for key, day in days.items()]


def unit_rows(tenant_id: int, rows: list[Row]) -> list[Row]:
    """Non-token units (``usage.units``) summed per hour, customer ('' for none), provider and unit."""
    quantities: dict[Row, float] = {}
    for row in rows:
        if row[_UNITS] == "{}":
            continue
        prefix = (tenant_id, _hour_of(row[STARTED]), row[_CUSTOMER] or "", row[_PROVIDER])
        for unit, quantity in json.loads(row[_UNITS]).items():
            key = (*prefix, unit)
            quantities[key] = quantities.get(key, 0.0) + quantity
    return [(*key, quantity) for key, quantity in quantities.items()]


def tenant_unit_rows(units: list[Row]) -> list[Row]:
    """Per-customer unit rows (``unit_rows``) summed over customers."""
    quantities: dict[Row, float] = {}
    for tenant_id, hour, _customer, provider, unit, quantity in units:
        key = (tenant_id, hour, provider, unit)
        quantities[key] = quantities.get(key, 0.0) + quantity
    return [(*key, quantity) for key, quantity in quantities.items()]


def run_rows(tenant_id: int, rows: list[Row], measures: list[Row]) -> list[Row]:
    """Per run id: first non-empty customer and agent (arrival order), first/last seen and sums
    (``sql.RUN_COLUMNS`` order)."""
    runs: dict[str, list[Any]] = {}
    for row, measured in zip(rows, measures, strict=True):
        run_id = row[_RUN]
        if not run_id:
            continue
        run = runs.get(run_id)
        if run is None:
            runs[run_id] = [*_run_sums(measured), row[_CUSTOMER] or None, row[_AGENT], row[STARTED], row[_ENDED]]
            continue
        run[:_RUN_N] = map(add, run, _run_sums(measured))
        if row[STARTED] < run[_RUN_FIRST]:
            run[_RUN_FIRST] = row[STARTED]
        if row[_ENDED] > run[_RUN_LAST]:
            run[_RUN_LAST] = row[_ENDED]
        run[_RUN_CUSTOMER] = run[_RUN_CUSTOMER] or row[_CUSTOMER]
        run[_RUN_AGENT] = run[_RUN_AGENT] or row[_AGENT]
    return [(tenant_id, run_id, *run[_RUN_N:], *run[:_RUN_N]) for run_id, run in runs.items()]


def rollup_statements(dialect: Dialect, tenant_id: int, rows: list[Row]) -> list[tuple[str, list[Row]]]:
    """The upserts that add newly stored event rows to every rollup table: (SQL, parameter rows) pairs."""
    measures = [_measures(row) for row in rows]
    hourly, tenant_hourly = hourly_rows(tenant_id, rows, measures)
    units = unit_rows(tenant_id, rows)
    statements = [
        (hourly_sql(dialect), hourly),
        (tenant_hourly_sql(dialect), tenant_hourly),
        (customer_daily_sql(dialect), customer_daily_rows(tenant_id, rows, measures)),
        (unit_hourly_sql(dialect), units),
        (tenant_unit_hourly_sql(dialect), tenant_unit_rows(units)),
        (runs_sql(dialect), run_rows(tenant_id, rows, measures)),
    ]
    if dialect.row_locks:  # one lock order for every writer: concurrent batches cannot deadlock
        return [(sql, sorted(values, key=repr)) for sql, values in statements if values]
    return [(sql, values) for sql, values in statements if values]


def repricing_statements(dialect: Dialect, tenant_id: int, before: list[Row],
                         after: list[Row]) -> list[tuple[str, list[Row]]]:
    """The upserts that move re-priced events' measures in every rollup they are summed in: each event as it was
    (``before``) is subtracted, as it is now (``after``, same events, same order) added. Only the cost and the
    priced flag differ, so units are untouched, and an hourly bucket keyed by ``priced`` may be left at zero
    calls (the caller deletes those)."""
    rows = [*before, *after]
    measures = [tuple(-value for value in _measures(row)) for row in before] + [_measures(row) for row in after]
    hourly, tenant_hourly = hourly_rows(tenant_id, rows, measures)
    statements = [
        (hourly_sql(dialect), hourly),
        (tenant_hourly_sql(dialect), tenant_hourly),
        (customer_daily_sql(dialect), customer_daily_rows(tenant_id, rows, measures)),
        (runs_sql(dialect), run_rows(tenant_id, rows, measures)),
    ]
    if dialect.row_locks:  # the lock order of ingest: a re-pricing chunk and a batch cannot deadlock
        return [(sql, sorted(values, key=repr)) for sql, values in statements if values]
    return [(sql, values) for sql, values in statements if values]
