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
    HOURLY_COLUMNS,
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
_AGENT_AT = len(HOURLY_KEY)  # in a usage_hourly row: key, agent, sums
_tenant_key = itemgetter(*(HOURLY_COLUMNS.index(name) for name in TENANT_HOURLY_KEY))


def _hour_of(started: Any) -> Any:
    if isinstance(started, str):  # SQLite text: "YYYY-MM-DD HH:" + "00:00.000000"
        return started[:14] + "00:00.000000"
    return started.replace(minute=0, second=0, microsecond=0)


def _day_of(started: Any) -> Any:
    if isinstance(started, str):
        return started[:10] + " 00:00:00.000000"
    return started.replace(hour=0, minute=0, second=0, microsecond=0)


def hourly_rows(tenant_id: int, rows: list[Row], measures: list[Row]) -> list[Row]:
    """``usage_hourly`` rows: event rows summed per hour bucket (``HOURLY_KEY``), with the first agent."""
    buckets: dict[Row, tuple[str, list[Any]]] = {}
    for row, measured in zip(rows, measures, strict=True):
        key = (tenant_id, _hour_of(row[STARTED]), row[_CUSTOMER] or "", row[_PROVIDER], row[_MODEL] or "",
               row[_SECTION] or "", row[_PRICED])
        bucket = buckets.get(key)
        if bucket is None:
            buckets[key] = (row[_AGENT] or "", list(_hourly_sums(measured)))
        else:
            bucket[1][:] = map(add, bucket[1], _hourly_sums(measured))
    return [(*key, agent, *sums) for key, (agent, sums) in buckets.items()]


def tenant_hourly_rows(hourly: list[Row]) -> list[Row]:
    """``usage_hourly`` rows summed over customers: ``tenant_usage_hourly`` rows."""
    buckets: dict[Row, tuple[str, list[Any]]] = {}
    for row in hourly:
        key = _tenant_key(row)
        bucket = buckets.get(key)
        if bucket is None:
            buckets[key] = (row[_AGENT_AT], list(row[_AGENT_AT + 1:]))
        else:
            bucket[1][:] = map(add, bucket[1], row[_AGENT_AT + 1:])
    return [(*key, agent, *sums) for key, (agent, sums) in buckets.items()]


def customer_daily_rows(tenant_id: int, rows: list[Row], measures: list[Row]) -> list[Row]:
    """Per customer and UTC day: sums, first and last call start (calls without a customer are left out)."""
    days: dict[Row, tuple[list[Any], list[Any]]] = {}
    for row, measured in zip(rows, measures, strict=True):
        customer = row[_CUSTOMER]
        if not customer:
            continue
        started = row[STARTED]
        key = (tenant_id, customer, _day_of(started))
        day = days.get(key)
        if day is None:
            days[key] = (list(_daily_sums(measured)), [started, started])
            continue
        sums, seen = day
        sums[:] = map(add, sums, _daily_sums(measured))
        if started < seen[0]:
            seen[0] = started
        if started > seen[1]:
            seen[1] = started
    return [(*key, *sums, *seen) for key, (sums, seen) in days.items()]


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
    runs: dict[str, tuple[list[Any], list[Any]]] = {}
    for row, measured in zip(rows, measures, strict=True):
        run_id = row[_RUN]
        if not run_id:
            continue
        run = runs.get(run_id)
        if run is None:  # customer, agent, first_seen, last_seen
            runs[run_id] = ([row[_CUSTOMER] or None, row[_AGENT], row[STARTED], row[_ENDED]],
                            list(_run_sums(measured)))
            continue
        seen, sums = run
        if row[STARTED] < seen[2]:
            seen[2] = row[STARTED]
        if row[_ENDED] > seen[3]:
            seen[3] = row[_ENDED]
        seen[0] = seen[0] or row[_CUSTOMER]
        seen[1] = seen[1] or row[_AGENT]
        sums[:] = map(add, sums, _run_sums(measured))
    return [(tenant_id, run_id, *seen, *sums) for run_id, (seen, sums) in runs.items()]


def rollup_statements(dialect: Dialect, tenant_id: int, rows: list[Row]) -> list[tuple[str, list[Row]]]:
    """The upserts that add newly stored event rows to every rollup table: (SQL, parameter rows) pairs."""
    measures = [_measures(row) for row in rows]
    hourly = hourly_rows(tenant_id, rows, measures)
    units = unit_rows(tenant_id, rows)
    statements = [
        (hourly_sql(dialect), hourly),
        (tenant_hourly_sql(dialect), tenant_hourly_rows(hourly)),
        (customer_daily_sql(dialect), customer_daily_rows(tenant_id, rows, measures)),
        (unit_hourly_sql(dialect), units),
        (tenant_unit_hourly_sql(dialect), tenant_unit_rows(units)),
        (runs_sql(dialect), run_rows(tenant_id, rows, measures)),
    ]
    if dialect.row_locks:  # one lock order for every writer: concurrent batches cannot deadlock
        return [(sql, sorted(values, key=repr)) for sql, values in statements if values]
    return [(sql, values) for sql, values in statements if values]
