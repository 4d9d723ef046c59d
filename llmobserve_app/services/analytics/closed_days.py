"""Sums over a window's closed UTC days, kept in process memory and merged with the open part read live.

The agents page and insights' models-and-agents pass sum two to four weeks of ``tenant_usage_hourly`` per
request, though only today's rows can change under ordinary ingest. Here the sums of the closed days (as
``customer_ranges`` defines closed: ended ``GRACE`` ago) are computed once and kept, keyed by the tenant's
late-day counter read *before* the rows: a late event for a closed day, ``invalidate`` (retention,
recalculation, rollup rebuilds) bump it, so the next reader sums the closed days again. Each request then
reads today's rows only and adds them key by key.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.services import customer_ranges
from llmobserve_app.services.analytics.scope import Scope

_KEPT = 256  # (query, tenant, window) entries: a few rows each (per agent and day, per model and agent…)
_found: OrderedDict[tuple, list[tuple]] = OrderedDict()
_lock = threading.Lock()


def _late_day_version(session: Session, tenant_id: int) -> int:
    v = customer_ranges.VERSIONS.c
    found = session.execute(sa.select(v.late_day_version).where(v.tenant_id == tenant_id)).scalar()
    return int(found or 0)


def _added(rows: list[tuple], more: list[tuple], keys: int) -> list[tuple]:
    """``rows`` and ``more`` (``keys`` key columns, then sums) with the sums of equal keys added."""
    merged: dict[tuple, list[int]] = {}
    for row in (*rows, *more):
        sums = merged.get(row[:keys])
        if sums is None:
            merged[row[:keys]] = [int(value or 0) for value in row[keys:]]
        else:
            for index, value in enumerate(row[keys:]):
                sums[index] += int(value or 0)
    return [(*key, *sums) for key, sums in merged.items()]


def summed(session: Session, scope: Scope, now: datetime, name: str, keys: int,
           read: Callable[[Scope], list[tuple]]) -> list[tuple]:
    """``read(scope)`` — rows of ``keys`` key columns then sums, one per key — with the closed days' part
    kept from an earlier request when still exact. Row order is not kept: callers sort."""
    split = min(scope.end, customer_ranges.closed_end(customer_ranges.DAY, now))
    if split <= scope.start:
        return [(*row[:keys], *(int(value or 0) for value in row[keys:])) for row in read(scope)]
    bind = session.get_bind()
    key = (name, str(bind.url), scope.tenant_id, scope.customer_id, scope.start, split,
           _late_day_version(session, scope.tenant_id))  # the counter before the rows: never a missed late event
    with _lock:
        closed = _found.get(key)
        if closed is not None:
            _found.move_to_end(key)
    if closed is None:
        closed = _added(read(replace(scope, end=split)), [], keys)
        with _lock:
            _found[key] = closed
            while len(_found) > _KEPT:
                _found.popitem(last=False)
    if split >= scope.end:
        return list(closed)
    return _added(closed, read(replace(scope, start=split)), keys)
