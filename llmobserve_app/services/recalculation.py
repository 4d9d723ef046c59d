"""Re-pricing an account's past calls with the prices in force now (after a custom price was saved, or price
data was corrected), in bounded chunks that keep every rollup exact.

A recalculation (``price_recalculations`` row) walks the account's events of a window in (started_at, id)
order, ``CHUNK_EVENTS`` at a time, each chunk in one transaction:

1. it takes the job's row first — on SQLite by writing it, which takes the database's write lock, so nothing
   read below changes before the commit; on PostgreSQL with ``FOR UPDATE`` on the job and on the chunk's events;
2. prices each charged event again (``ingest.rows.price_event``, the account's prices as ingest applies them);
3. updates the events whose cost, priced flag or price id changed, and moves their measures in every rollup
   they are summed in (``rollup_rows.repricing_statements``: the event as it was subtracted, as it is added;
   hourly buckets left at zero calls deleted), and invalidates the per-customer range totals;
4. advances the job's cursor and its audit counters (calls changed, cost and unpriced calls before → after).

So a chunk is all-or-nothing, and running the same window again changes nothing (idempotent). A job whose
process stopped (a restart) keeps ``status='running'`` and is not picked up by itself: start the same window
again (the finished chunks then change nothing). An event ingested meanwhile is priced by ingest with the same prices. A
pause after each chunk (``run``'s ``pause``: ``BACKGROUND_PAUSE`` times as long as the chunk took) leaves the
database to ingest 80 % of the time (docs/BENCHMARKS.md: what that costs ingest, and the full speed).

    python -m llmobserve_app.services.recalculation --tenant ID --from 2026-11-01 [--to 2026-12-01] [--pause 4]
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.models import NANOS_PER_USD, Event, PriceRecalculation, TenantUsageHourly, UsageHourly, utcnow
from llmobserve_app.services import custom_prices, customer_ranges
from llmobserve_app.services.errors import UserFacingError
from llmobserve_app.services.ingest.rollup_rows import repricing_statements
from llmobserve_app.services.ingest.rows import (
    COLUMN,
    EVENT_COLUMNS,
    STARTED,
    Prices,
    aware_time,
    price_event,
    sqlite_time,
)
from llmobserve_app.services.ingest.sql import POSTGRES, sql_dialect
from llmobserve_app.services.ingest.store import PostgresTarget, SqliteTarget
from llmobserve_app.services.time_range import hour_floor

logger = logging.getLogger(__name__)
CHUNK_EVENTS = 1000
BACKGROUND_PAUSE = 4.0  # after each chunk, pause this many times as long as it took
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
_running: set[int] = set()  # job ids this process is running in a background thread
_running_lock = threading.Lock()


def start(session: Session, tenant_id: int, window_start: datetime, window_end: datetime) -> PriceRecalculation:
    """Create a job for ``tenant_id``'s calls that started in [window_start, window_end) (aware datetimes)."""
    if window_start >= window_end:
        raise UserFacingError("from must be before to.", "from")
    job = PriceRecalculation(tenant_id=tenant_id, window_start=window_start, window_end=window_end)
    session.add(job)
    session.flush()
    return job


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


def _storage_row(row: Any, db_time: Any) -> list[Any]:
    """An event as ``rows.event_row`` builds it (EVENT_COLUMNS order, times in storage form), as far as the
    rollups read it."""
    values: list[Any] = [None] * len(EVENT_COLUMNS)
    for position, value in zip(_POSITIONS, row[1:], strict=True):
        values[position] = value
    values[STARTED], values[_ENDED] = db_time(values[STARTED]), db_time(values[_ENDED])
    return values


def _lock_job(session: Session, job_id: int, postgres: bool) -> Any:
    if not postgres:  # the first write takes SQLite's write lock: the chunk reads a database no one else writes
        session.execute(sa.update(JOBS).where(JOBS.c.id == job_id).values(updated_at=utcnow()))
    return session.execute(sa.select(JOBS).where(JOBS.c.id == job_id).with_for_update()).mappings().one()


def run_chunk(engine: sa.Engine, job_id: int) -> bool:
    """Re-price the job's next chunk in one transaction; True when the job is over."""
    with Session(engine) as session:
        tenant_id = session.execute(sa.select(JOBS.c.tenant_id).where(JOBS.c.id == job_id)).scalar_one()
    prices: Prices = custom_prices.load_prices(engine, tenant_id)  # as ingest prices now, read afresh
    postgres = sql_dialect(engine.dialect.name) is POSTGRES
    db_time = aware_time if postgres else sqlite_time
    with Session(engine) as session, session.begin():
        job = _lock_job(session, job_id, postgres)
        if job["status"] != "running":
            return True
        query = sa.select(*_SELECTED).where(EVENTS.c.tenant_id == tenant_id, EVENTS.c.started_at >= job["window_start"],
                                            EVENTS.c.started_at < job["window_end"])
        if job["cursor_id"] is not None:
            query = query.where(sa.tuple_(EVENTS.c.started_at, EVENTS.c.id)
                                > sa.tuple_(sa.literal(job["cursor_started"], EVENTS.c.started_at.type),
                                            sa.literal(job["cursor_id"], EVENTS.c.id.type)))
        query = query.order_by(EVENTS.c.started_at, EVENTS.c.id).limit(CHUNK_EVENTS)
        if postgres:
            query = query.with_for_update()
        found = session.execute(query).all()
        before: list[list[Any]] = []
        after: list[list[Any]] = []
        updates: list[dict[str, Any]] = []
        cost_before = cost_after = unpriced_before = unpriced_after = 0
        for row in found:
            stored = row._mapping
            if not stored["charged"]:
                continue  # a failed call costs nothing, whatever the prices
            old = (stored["cost_nanos"], stored["priced"], stored["price_id"])
            try:
                new = price_event(_stored_call(stored), stored["started_at"], prices)
            except (ValueError, ArithmeticError):
                new = old  # usage no price can read (it was stored before a rule tightened): left as it is
            new = (new[0], new[1], (new[2] or None) and str(new[2])[:200])
            cost_before, cost_after = cost_before + (old[0] or 0), cost_after + (new[0] or 0)
            unpriced_before, unpriced_after = unpriced_before + (not old[1]), unpriced_after + (not new[1])
            if new == old:
                continue
            was = _storage_row(row, db_time)
            now = was.copy()
            now[_COST], now[_PRICED], now[_PRICE_ID] = new
            before.append(was)
            after.append(now)
            updates.append({"event_id": row[0], "new_cost": new[0], "new_priced": new[1], "new_price_id": new[2]})
        if updates:
            _apply(session, tenant_id, before, after, updates, postgres)
        done = len(found) < CHUNK_EVENTS
        last = found[-1] if found else None
        session.execute(sa.update(JOBS).where(JOBS.c.id == job_id).values(
            events_seen=JOBS.c.events_seen + len(found), calls_changed=JOBS.c.calls_changed + len(updates),
            cost_before_nanos=JOBS.c.cost_before_nanos + cost_before,
            cost_after_nanos=JOBS.c.cost_after_nanos + cost_after,
            unpriced_before=JOBS.c.unpriced_before + unpriced_before,
            unpriced_after=JOBS.c.unpriced_after + unpriced_after,
            cursor_started=last.started_at if last else job["cursor_started"],
            cursor_id=last.id if last else job["cursor_id"],
            status="done" if done else "running", updated_at=utcnow(), finished_at=utcnow() if done else None))
    return done


def _apply(session: Session, tenant_id: int, before: list[list[Any]], after: list[list[Any]],
           updates: list[dict[str, Any]], postgres: bool) -> None:
    """Store the new prices of a chunk's changed events and move their measures in the rollups."""
    session.execute(
        sa.update(EVENTS).where(EVENTS.c.id == sa.bindparam("event_id")).values(
            cost_nanos=sa.bindparam("new_cost"), priced=sa.bindparam("new_priced"),
            price_id=sa.bindparam("new_price_id")),
        updates)
    dialect = sql_dialect("postgresql" if postgres else "sqlite")
    cursor = session.connection().connection.cursor()
    try:
        target = (PostgresTarget if postgres else SqliteTarget)(session, cursor)
        target.upsert(repricing_statements(dialect, tenant_id, [tuple(r) for r in before], [tuple(r) for r in after]))
    finally:
        cursor.close()
    first, last = (min(row[STARTED] for row in before), max(row[STARTED] for row in before))
    if not postgres:  # storage text back to aware datetimes for the query
        first, last = (datetime.fromisoformat(text + "+00:00") for text in (first, last))
    for table in (UsageHourly.__table__, TenantUsageHourly.__table__):  # a bucket of priced=false emptied
        session.execute(sa.delete(table).where(table.c.tenant_id == tenant_id, table.c.calls == 0,
                                               table.c.hour >= hour_floor(first), table.c.hour <= last))
    customer_ranges.invalidate(session, tenant_id)  # closed days' per-customer totals were summed before


def run(engine: sa.Engine, job_id: int, pause: float = BACKGROUND_PAUSE, sleep: Any = time.sleep) -> None:
    """Run a job to its end; after each chunk, pause ``pause`` times as long as the chunk took (ingest gets
    the database meanwhile). A failure marks the job failed with the reason."""
    try:
        while True:
            began = time.monotonic()
            if run_chunk(engine, job_id):
                return
            if pause:
                sleep((time.monotonic() - began) * pause)
    except Exception as error:
        logger.exception("price recalculation %s failed", job_id)
        with Session(engine) as session, session.begin():
            session.execute(sa.update(JOBS).where(JOBS.c.id == job_id).values(
                status="failed", error=f"{type(error).__name__}: {error}"[:300], finished_at=utcnow(),
                updated_at=utcnow()))
        raise


def run_in_background(engine: sa.Engine, job_id: int) -> bool:
    """Run a job in a daemon thread of this process (once per job); False when it already runs here."""
    with _running_lock:
        if job_id in _running:
            return False
        _running.add(job_id)

    def work() -> None:
        try:
            run(engine, job_id)
        except Exception:  # noqa: S110 — logged and recorded on the job by ``run``
            pass
        finally:
            with _running_lock:
                _running.discard(job_id)

    threading.Thread(target=work, name=f"price-recalculation-{job_id}", daemon=True).start()
    return True


def recalculate(engine: sa.Engine, tenant_id: int, window_start: datetime, window_end: datetime,
                pause: float = 0.0) -> PriceRecalculation:
    """Create a job and run it here to its end; returns the finished job (its audit record)."""
    with Session(engine) as session, session.begin():
        job_id = start(session, tenant_id, window_start, window_end).id
    assert job_id is not None
    run(engine, job_id, pause=pause)
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


def main(argv: list[str] | None = None) -> int:
    from llmobserve_app.db import get_engine  # the CLI reads the configured database; the service does not

    parser = argparse.ArgumentParser(
        prog="python -m llmobserve_app.services.recalculation",
        description="Re-price an account's calls in a window with the prices now in force.")
    parser.add_argument("--tenant", type=int, required=True, help="the account (user) id")
    parser.add_argument("--from", dest="start", required=True, help="ISO date or datetime (UTC unless given)")
    parser.add_argument("--to", dest="end", help="ISO date or datetime, exclusive (default: now)")
    parser.add_argument("--database-url", help="default: DATABASE_URL")
    parser.add_argument("--pause", type=float, default=BACKGROUND_PAUSE,
                        help="after each chunk, pause this many times as long as it took "
                        f"(default {BACKGROUND_PAUSE:g}; 0: full speed, for a database nothing else writes)")
    args = parser.parse_args(argv)
    try:
        window_start = custom_prices.parse_when(args.start, "from")
        window_end = custom_prices.parse_when(args.end, "to") or utcnow()
        assert window_start is not None
        job = recalculate(get_engine(args.database_url), args.tenant, window_start, window_end, args.pause)
    except UserFacingError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2
    print(as_json(job))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
