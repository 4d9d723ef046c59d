"""Re-pricing an account's past calls with the prices in force now (after a custom price was saved, or price
data was corrected), in bounded chunks that keep every rollup exact.

A recalculation (``price_recalculations`` row) walks the account's events of a window by ``started_at``, a
chunk at a time: [cursor, the start of the N-th call after it) — N sized by ``run`` so a chunk takes about
``CHUNK_SECONDS`` — and every chunk in two steps:

1. read (``_changes``, no lock held, a snapshot): the chunk's charged calls are grouped by provider, model and
   "plain token call" (no batch, tier, audio, units or reported cost), each group cut where its price may change
   (``Prices.price_changes``: period starts). A plain group with integer rates (``pricing.flat``) is priced in
   SQL (``flat_sql``: the same integer sum and half-even rounding as ingest's ``price_event``), and only the
   calls whose cost, priced flag or price id differ are read; a model with no price at all reads only the calls
   not already unpriced; everything else (tiered or daily prices, batch, audio…) is read and priced in Python
   with ``price_event``. So a window where most prices did not change costs a scan in SQL, not a row in Python;
2. write (``_write``), in pieces of at most ``WRITE_EVENTS`` changed calls (``FULL_SPEED_WRITES`` times as
   many with no pause; the calls of one instant never cut apart), each in one short transaction: the job's row
   is taken first (on SQLite by writing it: the write lock; on PostgreSQL ``FOR UPDATE``) and must still have
   its cursor where the piece starts; each call is updated only if its stored price is still the one read, else
   the transaction rolls back and the chunk is read again (another job or runner got there first: nothing is
   moved twice); the calls' measures move in every rollup they are summed in
   (``rollup_rows.repricing_statements``: the call as it was subtracted, as it is added; hourly buckets left
   at zero calls deleted); the per-customer range totals are invalidated; the cursor and the audit counters
   (calls seen and changed, cost and unpriced calls before → after) advance.

So each piece is all-or-nothing, and running the same window again changes nothing (idempotent). An event
ingested meanwhile is priced by ingest with the same prices. A runner holds the job's lease (``lease_name`` in
``job_leases``, renewed every quarter of its life); a job whose process died keeps ``status='running'`` and is
continued from its cursor by ``resume_due`` (the scheduler's minute job) once the lease has expired
(``MAX_ATTEMPTS`` runners at most; ``MAX_BACKGROUND_JOBS`` job processes at once). When a job
ends, the account's caps are evaluated (a cap crossed by newly priced calls fires, once). A job started from
the API or the page (``run_in_background``) runs in a child process at nice ``BACKGROUND_NICE``, and pauses
after each chunk (``run``'s ``pause``: ``BACKGROUND_PAUSE`` times as long as the chunk took), leaving the
database and the CPU to ingest (docs/BENCHMARKS.md: what that costs ingest, and the full speed).

    python -m llmobserve_app.recalculate --tenant ID --from 2026-11-01 [--to 2026-12-01] [--pause 4]
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.clock import app_clock
from llmobserve_app.models import NANOS_PER_USD, Event, PriceRecalculation, TenantUsageHourly, UsageHourly, utcnow
from llmobserve_app.services import custom_prices, customer_ranges, leases, price_updates
from llmobserve_app.services.caps import checks
from llmobserve_app.services.caps.registry import enabled_caps
from llmobserve_app.services.errors import UserFacingError
from llmobserve_app.services.ingest import writers
from llmobserve_app.services.ingest.fast_schema import INT_MAX
from llmobserve_app.services.ingest.rollup_rows import repricing_statements
from llmobserve_app.services.ingest.rows import COLUMN, EVENT_COLUMNS, STARTED, Prices, price_event
from llmobserve_app.services.ingest.sql import POSTGRES, SQLITE, Dialect, sql_dialect
from llmobserve_app.services.ingest.store import PostgresTarget, SqliteTarget
from llmobserve_app.services.money import NANOS_EXPONENT
from llmobserve_app.services.time_range import hour_floor
from pricing import FlatPrices

logger = logging.getLogger(__name__)
CHUNK_EVENTS = 5000  # events a chunk spans at first; ``run`` then sizes chunks to take about ``CHUNK_SECONDS``
CHUNK_SECONDS = 0.2
MAX_CHUNK_GROWTH = 20  # a chunk spans at most CHUNK_EVENTS × this
BACKGROUND_PAUSE = 4.0  # after each chunk, pause this many times as long as it took
LEASE_TTL = timedelta(seconds=60)  # a runner renews its job's lease every quarter of this
EVENTS = Event.__table__
JOBS = PriceRecalculation.__table__
# What pricing and the rollups read of an event (the rest of a row stays None: tags, span ids… are not read)
_READ = ("started_at", "ended_at", "latency_ms", "provider", "model", "input_tokens", "cached_input_tokens",
         "cache_write_tokens", "cache_write_1h_tokens", "output_tokens", "reasoning_tokens", "audio_seconds",
         "web_searches", "requests", "units", "customer_id", "section_path", "agent", "run_id", "batch",
         "service_tier", "provider_reported_cost_nanos", "cost_nanos", "priced", "charged", "price_id")
_SELECTED = (EVENTS.c.id, *(EVENTS.c[name] for name in _READ))
_POSITIONS = tuple(COLUMN[name] for name in _READ)
_ENDED, _COST, _PRICED, _PRICE_ID, _CHARGED = (
    COLUMN[name] for name in ("ended_at", "cost_nanos", "priced", "price_id", "charged"))
_USAGE = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens", "output_tokens",
          "reasoning_tokens", "audio_seconds", "web_searches", "requests", "units")
_PYTHON, _SQL, _UNPRICED = 0, 1, 2  # how a selected event's new price is known: priced here, by SQL, none
_SQL_BOUND = 2**62  # the SQL price of an event stays below this (SQLite's integers are 64-bit)
WRITE_EVENTS = 100  # changed calls stored per write transaction at most (a short hold of SQLite's write lock)
FULL_SPEED_WRITES = 10  # with no pause (nothing else writes), write transactions hold this many times as many
MAX_STALLED_CHUNKS = 100  # chunks in a row that found their calls changed by another writer: the job fails


@dataclass(frozen=True, slots=True)
class _Change:
    """One call whose price changes: as read, and its row (``EVENT_COLUMNS`` order) before and after."""

    started_at: datetime
    event_id: int
    old: tuple[Any, ...]
    new: tuple[Any, ...]
    was: list[Any]
    now: list[Any]


LEASE_PREFIX = "price-recalculation:"
MAX_BACKGROUND_JOBS = 2  # job processes at once on an installation (one per account at most: migration 0012)
MAX_ATTEMPTS = 10  # runners started for one job before it is marked failed
BACKGROUND_NICE = 10  # a background job's process runs at this nice value: ingest first
DATABASE_URL_VARIABLE = "LLMOBSERVE_RECALCULATION_DATABASE_URL"  # how a job's process learns its database
_ROOT = Path(__file__).resolve().parents[2]


class RecalculationRunning(UserFacingError):
    """The account already has a running recalculation (one at a time: each runs in a process of its own)."""

    def __init__(self, job_id: int | None) -> None:
        super().__init__(f"A recalculation of this account is already running (job {job_id}); start the next one "
                         "when it has finished.", "from", "recalculation_running")
        self.job_id = job_id


def start(session: Session, tenant_id: int, window_start: datetime, window_end: datetime) -> PriceRecalculation:
    """Create a job for ``tenant_id``'s calls that started in [window_start, window_end) (aware datetimes)."""
    if window_start >= window_end:
        raise UserFacingError("from must be before to.", "from")
    running = session.execute(sa.select(JOBS.c.id).where(JOBS.c.tenant_id == tenant_id,
                                                         JOBS.c.status == "running")).scalar()
    if running is None:
        job = PriceRecalculation(tenant_id=tenant_id, window_start=window_start, window_end=window_end)
        try:
            with session.begin_nested():  # a racing request's job wins the unique index: report it
                session.add(job)
                session.flush()
            return job
        except sa.exc.IntegrityError:
            running = session.execute(sa.select(JOBS.c.id).where(JOBS.c.tenant_id == tenant_id,
                                                                 JOBS.c.status == "running")).scalar()
    raise RecalculationRunning(running)


def get(session: Session, tenant_id: int, job_id: int) -> PriceRecalculation | None:
    job = session.get(PriceRecalculation, job_id)
    return job if job is not None and job.tenant_id == tenant_id else None


def _stored_call(row: dict[str, Any]) -> SimpleNamespace:
    """A stored event with the attributes ``price_event`` reads of a validated one."""
    reported = row["provider_reported_cost_nanos"]
    return SimpleNamespace(
        provider=row["provider"], model=row["model"], batch=row["batch"], service_tier=row["service_tier"],
        provider_reported_cost=None if reported is None else Decimal(reported) / NANOS_PER_USD,
        usage=SimpleNamespace(**{name: row[name] for name in _USAGE}))


def _lock_job(session: Session, job_id: int, postgres: bool) -> Any:
    if not postgres:  # the first write takes SQLite's write lock: the chunk reads a database no one else writes
        session.execute(sa.update(JOBS).where(JOBS.c.id == job_id).values(updated_at=utcnow()))
    return session.execute(sa.select(JOBS).where(JOBS.c.id == job_id).with_for_update()).mappings().one()


# -- pricing in SQL -------------------------------------------------------------------------------------------

def _count(column: str) -> str:
    return f"CAST({column} AS BIGINT)"


_LEAF_IN = (f"({_count('input_tokens')} - {_count('cached_input_tokens')} - {_count('cache_write_tokens')} - "
            f"{_count('cache_write_1h_tokens')})")
_LEAF_OUT = f"({_count('output_tokens')} - {_count('reasoning_tokens')})"
_COUNTED = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens", "output_tokens",
            "reasoning_tokens", "web_searches", "requests")
# A plain token call (``price_event``'s flat path): 1, else 0 (never NULL: a NULL anywhere makes it not plain)
_plain_call = sa.case((sa.and_(EVENTS.c.provider_reported_cost_nanos.is_(None), EVENTS.c.batch.is_(sa.false()),
                          EVENTS.c.service_tier.is_(None), EVENTS.c.audio_seconds == 0,
                          sa.cast(EVENTS.c.units, sa.Text) == "{}"), 1), else_=0)


def flat_sql(flat: FlatPrices, exponent: int = NANOS_EXPONENT) -> tuple[str, str] | None:
    """SQL (condition, cost) computing exactly what ``flat.cost`` gives an event's counts, in integers on both
    SQLite and PostgreSQL: the condition holds where ``flat.cost`` returns a cost (every count within
    [0, INT_MAX], consistent counts, a rate for every count present), the cost is then its value — the same
    integer sum of products, scaled and rounded half-even. None when the SQL could exceed 64-bit integers (or
    ``flat.cost`` never answers): those events are priced in Python."""
    components = ((_LEAF_IN, flat.input), ("cached_input_tokens", flat.cached_input),
                  ("cache_write_tokens", flat.cache_write), ("cache_write_1h_tokens", flat.cache_write_1h),
                  (_LEAF_OUT, flat.output), ("reasoning_tokens", flat.reasoning), ("web_searches", flat.web_searches))
    conditions = [f"{column} BETWEEN 0 AND {INT_MAX}" for column in _COUNTED]
    conditions += [f"{_LEAF_IN} >= 0", f"{_LEAF_OUT} >= 0"]
    terms: list[str] = []
    present: list[str] = []
    rate_sum = 0
    for count, rate in components:
        if rate is None:
            conditions.append(f"{count} = 0")
            continue
        present.append(f"{count} <> 0")
        rate_sum += rate
        if rate:
            terms.append(f"{_count(count) if count in _COUNTED else count} * {rate}")
    if flat.has_request_fee:
        if flat.requests is None:
            return None
        rate_sum += flat.requests
        if flat.requests:
            terms.append(f"(CASE WHEN requests = 0 THEN 1 ELSE {_count('requests')} END) * {flat.requests}")
    elif present:
        conditions.append(f"({' OR '.join(present)})")
    else:
        return None
    shift = exponent - flat.scale
    if INT_MAX * rate_sum * 10 ** max(shift, 0) >= _SQL_BOUND:
        return None
    total = f"({' + '.join(terms) or '0'})"
    if shift >= 0:
        cost = f"({total} * {10 ** shift})"
    else:
        unit = 10 ** -shift
        cost = (f"({total} / {unit} + CASE WHEN 2 * ({total} % {unit}) > {unit} OR (2 * ({total} % {unit}) = {unit} "
                f"AND ({total} / {unit}) % 2 = 1) THEN 1 ELSE 0 END)")
    return " AND ".join(f"({condition})" for condition in conditions), cost


def _segments(prices: Prices, provider: str, model: str, start: datetime,
              end: datetime) -> list[tuple[datetime, datetime]] | None:
    """[start, end) cut where the price of ``provider``/``model`` may change, or None when it changes daily."""
    changes = prices.price_changes(provider, model)
    if changes is None:
        return None
    cuts = [start, *(moment for moment in changes if start < moment < end), end]
    return list(itertools.pairwise(cuts))


def _truncated(price_id: str | None) -> str | None:
    return (price_id or None) and str(price_id)[:200]


def _selection(prices: Prices, groups: list[Any], start: datetime, end: datetime) -> tuple[list[Any], list[Any],
                                                                                          list[Any], list[Any]]:
    """For a chunk's (provider, model, plain) groups: the WHERE terms selecting the events whose price may change,
    and the CASE branches of each selected event's mode, new cost and new price id."""
    where: list[Any] = []
    modes: list[Any] = []
    costs: list[Any] = []
    price_ids: list[Any] = []
    for provider, model, plain in groups:
        key = sa.and_(EVENTS.c.provider == provider, EVENTS.c.model.is_(None) if model is None
                      else EVENTS.c.model == model, _plain_call == plain)
        cuts = _segments(prices, provider, model or "", start, end) if plain else None
        if cuts is None:  # priced in Python: everything but plain token calls, and daily prices
            where.append(key)
            modes.append((key, _PYTHON))
            continue
        for first, last in cuts:
            scope = sa.and_(key, EVENTS.c.started_at >= first, EVENTS.c.started_at < last)
            flat = prices.flat_prices(provider, model or "", first)
            in_sql = flat_sql(flat) if flat is not None else None
            if in_sql is not None:
                assert flat is not None
                condition, cost_text = in_sql
                fits, cost = sa.text(condition), sa.literal_column(cost_text, sa.BigInteger)
                price_id = _truncated(flat.price_id)
                changed = sa.or_(EVENTS.c.cost_nanos.is_distinct_from(cost), EVENTS.c.priced.is_not(sa.true()),
                                 EVENTS.c.price_id.is_distinct_from(price_id))
                where.append(sa.and_(scope, sa.case((fits, changed), else_=sa.true())))
                modes += [(sa.and_(scope, fits), _SQL), (scope, _PYTHON)]
                costs.append((sa.and_(scope, fits), cost))
                price_ids.append((scope, sa.literal(price_id, sa.String)))
            elif flat is None and prices.unknown_model(provider, model or ""):
                where.append(sa.and_(scope, sa.or_(EVENTS.c.cost_nanos.is_not(None), EVENTS.c.priced.is_not(sa.false()),
                                                   EVENTS.c.price_id.is_not(None))))
                modes.append((scope, _UNPRICED))
            else:
                where.append(scope)
                modes.append((scope, _PYTHON))
    return where, modes, costs, price_ids


def _chunk_end(connection: sa.Connection, tenant_id: int, start: datetime, window_end: datetime,
               events: int) -> datetime:
    """Where a chunk from ``start`` ends: at the start of the ``events``-th call after it (all calls of one instant
    in one chunk), or at the window's end."""
    in_window = (EVENTS.c.tenant_id == tenant_id, EVENTS.c.started_at < window_end)
    nth = connection.execute(sa.select(EVENTS.c.started_at).where(*in_window, EVENTS.c.started_at >= start)
                          .order_by(EVENTS.c.started_at).offset(events).limit(1)).scalar()
    if nth is None:
        return window_end
    if nth > start:
        return nth
    after = connection.execute(sa.select(sa.func.min(EVENTS.c.started_at))
                            .where(*in_window, EVENTS.c.started_at > start)).scalar()
    return after if after is not None else window_end


class _Moved(Exception):
    """What a write piece found was no longer as read (another runner or job got there first)."""


def _aware(value: Any) -> datetime:
    """A time as the driver returns it (SQLite: naive UTC text; PostgreSQL: aware, in the session's time zone)
    as an aware UTC datetime."""
    return value.astimezone(UTC) if isinstance(value, datetime) else datetime.fromisoformat(value).replace(tzinfo=UTC)


_MODE, _NEW_COST, _NEW_PRICE_ID = len(_SELECTED), len(_SELECTED) + 1, len(_SELECTED) + 2
_ID, _OLD_COST, _OLD_PRICED, _OLD_PRICE_ID, _STARTED_AT = (
    0, *(1 + _READ.index(name) for name in ("cost_nanos", "priced", "price_id", "started_at")))


def _changes(engine: sa.Engine, job: Any, start: datetime, end: datetime, prices: Prices) -> list[_Change]:
    """Read [start, end) of the job's window (a snapshot, no lock): the calls whose price changes, with their
    rows before and after, in (started_at, id) order. Rows come as the driver returns them (SQLite: times as
    the naive UTC text they are stored as, booleans as 0/1, JSON as text), which is what the rollup statements
    take; the few values pricing in Python reads are converted."""
    in_chunk = (EVENTS.c.tenant_id == job["tenant_id"], EVENTS.c.started_at >= start, EVENTS.c.started_at < end)
    charged = EVENTS.c.charged.is_(sa.true())
    postgres = sql_dialect(engine.dialect.name) is POSTGRES
    changes: list[_Change] = []
    with engine.connect() as connection:
        groups = connection.execute(sa.select(EVENTS.c.provider, EVENTS.c.model, _plain_call).where(*in_chunk, charged)
                                    .group_by(EVENTS.c.provider, EVENTS.c.model, _plain_call)).all()
        where, modes, costs, price_ids = _selection(prices, [tuple(group) for group in groups], start, end)
        if not where:
            return changes
        query = sa.select(*_SELECTED, sa.case(*modes, else_=_PYTHON),
                          sa.case(*costs, else_=None) if costs else sa.null(),
                          sa.case(*price_ids, else_=None) if price_ids else sa.null(),
                          ).where(*in_chunk, charged, sa.or_(*where)).order_by(EVENTS.c.started_at, EVENTS.c.id)
        result = connection.execute(query)
        rows = result.cursor.fetchall()  # the driver's values, without SQLAlchemy's per-value processing
        result.close()
    for row in rows:
        old = (row[_OLD_COST], bool(row[_OLD_PRICED]), row[_OLD_PRICE_ID])
        mode = row[_MODE]
        if mode == _SQL:
            new = (row[_NEW_COST], True, row[_NEW_PRICE_ID])
        elif mode == _UNPRICED:
            new = (None, False, None)
        else:
            stored = dict(zip(_READ, row[1:_MODE], strict=True))
            units = stored["units"]
            stored["units"] = json.loads(units) if isinstance(units, str) else units
            try:
                priced = price_event(_stored_call(stored), _aware(stored["started_at"]), prices)
                new = (priced[0], priced[1], _truncated(priced[2]))
            except (ValueError, ArithmeticError):
                new = old  # usage no price can read (it was stored before a rule tightened): left as it is
        if new == old:
            continue
        was: list[Any] = [None] * len(EVENT_COLUMNS)
        for position, value in zip(_POSITIONS, row[1:_MODE], strict=True):
            was[position] = value
        if postgres:  # as ingest builds rows: UTC datetimes (the rollups' hours and days are UTC)
            was[STARTED], was[_ENDED] = _aware(was[STARTED]), _aware(was[_ENDED])
        now = was.copy()
        now[_COST], now[_PRICED], now[_PRICE_ID] = new
        changes.append(_Change(_aware(row[_STARTED_AT]), row[_ID], old, new, was, now))
    return changes


def _pieces(changes: list[_Change], start: datetime, end: datetime,
            size: int) -> list[tuple[datetime, datetime, list[_Change]]]:
    """[start, end) cut into ranges of about ``size`` changes each (the calls of one instant are never
    cut apart): one write transaction each."""
    pieces = []
    first, taken, index = start, 0, size
    while index < len(changes):
        while index < len(changes) and changes[index].started_at == changes[index - 1].started_at:
            index += 1
        if index == len(changes):
            break
        cut = changes[index].started_at  # after every call of the piece, so after ``first``
        pieces.append((first, cut, changes[taken:index]))
        first, taken, index = cut, index, index + size
    pieces.append((first, end, changes[taken:]))
    return pieces


def _write(engine: sa.Engine, job_id: int, first: datetime, last: datetime, changes: list[_Change]) -> None:
    """Store one piece in one short transaction: the changed calls' new prices (each only if still as read),
    their measures moved in the rollups, the job's cursor moved to ``last`` and its audit counters. Raises
    ``_Moved`` (the transaction rolled back) when the job or a call is no longer as read."""
    postgres = sql_dialect(engine.dialect.name) is POSTGRES
    with Session(engine) as session, session.begin():
        job = _lock_job(session, job_id, postgres)
        if job["status"] != "running" or (job["cursor_started"] or job["window_start"]) != first:
            raise _Moved
        tenant_id = job["tenant_id"]
        charged = EVENTS.c.charged.is_(sa.true())
        seen, cost_before, unpriced_before = session.execute(sa.select(
            sa.func.count(), sa.func.sum(sa.case((charged, sa.func.coalesce(EVENTS.c.cost_nanos, 0)), else_=0)),
            sa.func.sum(sa.case((sa.and_(charged, EVENTS.c.priced.is_(sa.false())), 1), else_=0)),
        ).where(EVENTS.c.tenant_id == tenant_id, EVENTS.c.started_at >= first, EVENTS.c.started_at < last)).one()
        cost_after, unpriced_after = int(cost_before or 0), int(unpriced_before or 0)
        if changes:
            _apply(session, tenant_id, changes, postgres)
            cost_after += sum((change.new[0] or 0) - (change.old[0] or 0) for change in changes)
            unpriced_after += sum((not change.new[1]) - (not change.old[1]) for change in changes)
        session.execute(sa.update(JOBS).where(JOBS.c.id == job_id).values(
            events_seen=JOBS.c.events_seen + seen, calls_changed=JOBS.c.calls_changed + len(changes),
            cost_before_nanos=JOBS.c.cost_before_nanos + int(cost_before or 0),
            cost_after_nanos=JOBS.c.cost_after_nanos + cost_after,
            unpriced_before=JOBS.c.unpriced_before + int(unpriced_before or 0),
            unpriced_after=JOBS.c.unpriced_after + unpriced_after,
            cursor_started=last, updated_at=utcnow()))


def run_chunk(engine: sa.Engine, job_id: int, events: int | None = None, write_events: int | None = None) -> bool:
    """Re-price the job's next chunk (about ``events`` calls, ``CHUNK_EVENTS`` by default): read it without
    holding any lock, then write what changed in pieces of at most ``write_events`` (``WRITE_EVENTS``) calls, one
    short transaction each. True when the job is over (after the last chunk: its caps evaluated, the job done); a
    chunk another runner got to first is left to be read again."""
    with engine.connect() as connection:
        job = connection.execute(sa.select(JOBS).where(JOBS.c.id == job_id)).mappings().one()
        if job["status"] != "running":
            return True
        start = job["cursor_started"] or job["window_start"]
        end = _chunk_end(connection, job["tenant_id"], start, job["window_end"], events or CHUNK_EVENTS)
    prices: Prices = custom_prices.load_prices(engine, job["tenant_id"])  # as ingest prices now, read afresh
    try:
        changed = _changes(engine, job, start, end, prices)
        for first, last, changes in _pieces(changed, start, end, write_events or WRITE_EVENTS):
            _write(engine, job_id, first, last, changes)
    except _Moved:
        return False
    if end < job["window_end"]:
        return False
    _finish(engine, job_id)
    return True


def _finish(engine: sa.Engine, job_id: int) -> None:
    """The window is done: evaluate the account's caps, then mark the job done (so a job seen done has had its
    caps evaluated; a process that stops in between leaves the job to be finished by the next runner)."""
    _check_caps(engine, job_id)
    with engine.begin() as connection:
        connection.execute(sa.update(JOBS).where(JOBS.c.id == job_id, JOBS.c.status == "running").values(
            status="done", updated_at=utcnow(), finished_at=utcnow()))


@lru_cache(maxsize=2)
def _update_sql(dialect: Dialect) -> str:
    """One call's new price, only where its stored price is still the one read (NULL-safe comparisons)."""
    same = "IS" if dialect is SQLITE else "IS NOT DISTINCT FROM"
    mark = dialect.placeholder
    return (f"UPDATE events SET cost_nanos = {mark}, priced = {mark}, price_id = {mark} WHERE id = {mark} AND "
            f"cost_nanos {same} {mark} AND priced = {mark} AND price_id {same} {mark}")


def _apply(session: Session, tenant_id: int, changes: list[_Change], postgres: bool) -> None:
    """Store the new prices of changed calls (each only if its stored price is still the one read: else
    ``_Moved``) and move their measures in the rollups."""
    dialect = sql_dialect("postgresql" if postgres else "sqlite")
    cursor = session.connection().connection.cursor()
    try:
        cursor.executemany(_update_sql(dialect), [(*change.new, change.event_id, *change.old) for change in changes])
        updated = cursor.rowcount
        if updated != len(changes):
            raise _Moved
        before, after = [tuple(change.was) for change in changes], [tuple(change.now) for change in changes]
        target = (PostgresTarget if postgres else SqliteTarget)(session, cursor)
        target.upsert(repricing_statements(dialect, tenant_id, before, after))
    finally:
        cursor.close()
    first, last = changes[0].started_at, changes[-1].started_at
    for table in (UsageHourly.__table__, TenantUsageHourly.__table__):  # a bucket of priced=false emptied
        session.execute(sa.delete(table).where(table.c.tenant_id == tenant_id, table.c.calls == 0,
                                               table.c.hour >= hour_floor(first), table.c.hour <= last))
    customer_ranges.invalidate(session, tenant_id)  # closed days' per-customer totals were summed before
    writers.changed_after_commit(session)  # spend changed: the caps' memory of it is stale


def lease_name(job_id: int) -> str:
    """The ``job_leases`` row of one job's runner: held while a process runs the job, renewed every chunk or
    so; once it expires (the process died), ``resume_due`` lets another process continue the job."""
    return f"{LEASE_PREFIX}{job_id}"


def _check_caps(engine: sa.Engine, job_id: int) -> None:
    """Evaluate the account's caps once its calls were re-priced: a cap crossed by newly priced calls fires
    its alert (once: alerts have a unique key) and blocks as it would after an ingest batch."""
    with Session(engine) as session:
        tenant_id = session.execute(sa.select(JOBS.c.tenant_id).where(JOBS.c.id == job_id)).scalar_one()
    try:
        enabled_caps.forget(engine, tenant_id)
        rules = enabled_caps.rules(engine, tenant_id)
        if rules:
            checks.check(engine, rules, app_clock()())
    except Exception:  # the job is done; the minute catch-up (jobs.evaluate_caps) evaluates the caps again
        logger.exception("price recalculation %s: evaluating the caps failed", job_id)


def _cursor(engine: sa.Engine, job_id: int) -> datetime | None:
    with engine.connect() as connection:
        return connection.execute(sa.select(JOBS.c.cursor_started).where(JOBS.c.id == job_id)).scalar()


def run(engine: sa.Engine, job_id: int, pause: float = BACKGROUND_PAUSE, sleep: Any = time.sleep,
        holder: str | None = None, ttl: timedelta = LEASE_TTL, chunk_events: int | None = None) -> None:
    """Run a job to its end (``run_chunk``: the last chunk evaluates the account's caps). Each chunk takes
    about ``CHUNK_SECONDS`` (its size follows the time the last one took); after each, pause ``pause`` times as
    long as it took (ingest has the database meanwhile). With ``holder``, the job's lease (``lease_name``,
    taken by the caller) is renewed every quarter of ``ttl`` and given up at the end; a runner that lost it (it
    stalled for longer than ``ttl`` and another took over) stops. ``chunk_events`` fixes the chunks' size
    instead. A failure marks the job failed with the reason."""
    size, largest = chunk_events or CHUNK_EVENTS, chunk_events or CHUNK_EVENTS * MAX_CHUNK_GROWTH
    smallest = chunk_events or max(1, CHUNK_EVENTS // 10)
    renewed = time.monotonic()
    stalled, last_cursor = 0, _cursor(engine, job_id)
    price_updates.refresh(engine)  # the prices in force: the newest accepted PRICING_URL data too
    if _count_attempt(engine, job_id) > MAX_ATTEMPTS:
        _fail(engine, job_id, f"gave up after {MAX_ATTEMPTS} attempts (its runners kept stopping)")
        if holder is not None:
            leases.release(engine, lease_name(job_id), holder)
        return
    try:
        while True:
            if holder is not None and time.monotonic() - renewed >= ttl.total_seconds() / 4:
                if not leases.claim(engine, lease_name(job_id), holder, ttl):
                    logger.warning("price recalculation %s: lease lost, another process continues it", job_id)
                    return
                renewed = time.monotonic()
            began = time.monotonic()
            done = run_chunk(engine, job_id, size, WRITE_EVENTS * (1 if pause else FULL_SPEED_WRITES))
            took = time.monotonic() - began
            if done:
                return
            cursor = _cursor(engine, job_id)
            stalled = stalled + 1 if cursor == last_cursor else 0
            if stalled >= MAX_STALLED_CHUNKS:
                raise RuntimeError(f"no progress in {stalled} chunks (calls changed by another writer each time)")
            last_cursor = cursor
            if took < CHUNK_SECONDS / 2:
                size = min(size * 2, largest)
            elif took > CHUNK_SECONDS * 2:
                size = max(size // 2, smallest)
            if pause:
                sleep(took * pause)
    except sa.exc.OperationalError:
        # the database was busy or unreachable: not the job's fault; it stays running, and once this runner's
        # lease is given up (below) or expires, ``resume_due`` continues it (``MAX_ATTEMPTS`` bounds the tries)
        logger.exception("price recalculation %s stopped; it is continued later", job_id)
        raise
    except Exception as error:
        logger.exception("price recalculation %s failed", job_id)
        if holder is None or leases.current_holder(engine, lease_name(job_id)) in (holder, None):
            _fail(engine, job_id, f"{type(error).__name__}: {error}")  # not when another runner took it over
        raise
    finally:
        if holder is not None:
            leases.release(engine, lease_name(job_id), holder)


def _count_attempt(engine: sa.Engine, job_id: int) -> int:
    """One more runner started the job: how many have (a job whose runners keep dying is given up)."""
    with engine.begin() as connection:
        connection.execute(sa.update(JOBS).where(JOBS.c.id == job_id).values(attempts=JOBS.c.attempts + 1))
        return connection.execute(sa.select(JOBS.c.attempts).where(JOBS.c.id == job_id)).scalar_one()


def _fail(engine: sa.Engine, job_id: int, reason: str) -> None:
    with Session(engine) as session, session.begin():
        session.execute(sa.update(JOBS).where(JOBS.c.id == job_id, JOBS.c.status == "running").values(
            status="failed", error=reason[:300], finished_at=utcnow(), updated_at=utcnow()))


def claim(engine: sa.Engine, job_id: int, ttl: timedelta = LEASE_TTL) -> str | None:
    """Take the job's lease for a new runner of this process; its holder name, or None when another holds it."""
    holder = leases.new_holder()
    return holder if leases.claim(engine, lease_name(job_id), holder, ttl) else None


def run_in_background(engine: sa.Engine, job_id: int, holder: str | None = None, ttl: timedelta = LEASE_TTL,
                      pause: float = BACKGROUND_PAUSE) -> bool:
    """Run a job in a child process at a lower CPU priority (``BACKGROUND_NICE``), holding its lease
    (``holder``: already taken, else taken here): ingest's processes keep the CPU and their interpreter's lock;
    the job uses what they leave. False when another runner holds the lease. If the child cannot run, its
    lease expires and ``resume_due`` starts it again."""
    if holder is None and leases.held_count(engine, LEASE_PREFIX) >= MAX_BACKGROUND_JOBS:
        return False  # enough job processes on this installation: the minute job starts it when one ends
    holder = holder or claim(engine, job_id, ttl)
    if holder is None:
        return False
    env = {**os.environ, DATABASE_URL_VARIABLE: engine.url.render_as_string(hide_password=False),
           "PYTHONPATH": os.pathsep.join(filter(None, (str(_ROOT), os.environ.get("PYTHONPATH"))))}
    child = subprocess.Popen(  # noqa: S603 — our own module, arguments we made
        [sys.executable, "-m", "llmobserve_app.recalculate", "--job", str(job_id), "--holder", holder,
         "--pause", str(pause), "--lease-seconds", str(ttl.total_seconds()), "--nice", str(BACKGROUND_NICE)],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    threading.Thread(target=child.wait, name=f"price-recalculation-{job_id}", daemon=True).start()  # reaped
    return True


def resume_due(engine: sa.Engine, ttl: timedelta = LEASE_TTL, background: bool = True,
               pause: float = BACKGROUND_PAUSE) -> list[int]:
    """Continue every job left running by a process that stopped (its lease expired, or it never took one)
    from its stored cursor: the job runner of the scheduler's minute job. Returns the jobs taken up (run in
    background processes, or here to their end with ``background=False``)."""
    with engine.connect() as connection:
        running = connection.execute(sa.select(JOBS.c.id).where(JOBS.c.status == "running")
                                     .order_by(JOBS.c.id)).scalars().all()
    taken = []
    for job_id in running:
        if background and leases.held_count(engine, LEASE_PREFIX) >= MAX_BACKGROUND_JOBS:
            break  # the rest wait for a later minute
        holder = claim(engine, job_id, ttl)
        if holder is None:
            continue
        logger.info("price recalculation %s: continued from its cursor", job_id)
        taken.append(job_id)
        if background:
            run_in_background(engine, job_id, holder, ttl, pause)
        else:
            run(engine, job_id, pause=pause, holder=holder, ttl=ttl)
    return taken


def recalculate(engine: sa.Engine, tenant_id: int, window_start: datetime, window_end: datetime,
                pause: float = 0.0, ttl: timedelta = LEASE_TTL, chunk_events: int | None = None) -> PriceRecalculation:
    """Create a job and run it here to its end (holding its lease); returns the finished job (its audit
    record)."""
    with Session(engine) as session, session.begin():
        job_id = start(session, tenant_id, window_start, window_end).id
    assert job_id is not None
    run(engine, job_id, pause=pause, holder=claim(engine, job_id, ttl), ttl=ttl, chunk_events=chunk_events)
    with Session(engine) as session:
        job = session.get(PriceRecalculation, job_id)
        assert job is not None
        session.expunge(job)
        return job


def as_json(job: PriceRecalculation) -> dict[str, Any]:
    """A job as the API shows it: its window, progress and totals before → after (USD decimal strings)."""
    return {
        "id": job.id, "status": job.status, "from": job.window_start.isoformat(), "to": job.window_end.isoformat(),
        "events_seen": job.events_seen, "calls_changed": job.calls_changed,
        "cost_before_usd": custom_prices.usd_text(job.cost_before_nanos),
        "cost_after_usd": custom_prices.usd_text(job.cost_after_nanos),
        "unpriced_before": job.unpriced_before, "unpriced_after": job.unpriced_after,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "error": job.error,
    }
