"""Per-customer totals over closed time ranges, built once and reused: a materialised view kept exact.

Pages that rank every customer (the customers table, top customers, insights' movers) would otherwise sum
one row per customer-day on every request: ~300k rows for 10k customers over 30 days. Most of a window is
*closed* — before the current UTC day (grain ``day``, from ``customer_usage_daily``, exact first/last call)
or hour (grain ``hour``, from ``usage_hourly``, first/last seen to the hour) — and ordinary ingest never
writes there. So the closed part's per-customer totals are built once, on first read, into
``customer_range_totals``; readers add the open part (this hour's rows) live
(services/analytics/per_customer.py).

A whole-day window that ends now would leave today's rows (most customers, by the afternoon) to every
reader; its base is grain ``dayhour`` instead: the closed days' ``day`` base plus today's closed hours,
summed from ``usage_hourly``, with first/last call times from today's ``customer_usage_daily`` row (exact;
read when built, so a customer seen after the base's end has them read again, live, from that row).
Rebuilt every hour by the warm-up job; the open part left to readers is the last hour or so.

Exactness:

- Ingest bumps the tenant's late counter (``tenant_late_versions``) in the same transaction as any event for
  an already-closed hour (and day): ``note_late_events``. A base records the counter it was built against,
  read *before* its data, so a late event committed meanwhile only causes a needless rebuild; a base whose
  counter is not the current one is rebuilt on its next read.
- "Closed" means ended at least ``GRACE`` ago: an ingest transaction that judged its events current by its
  own clock may commit just after the hour turns (or on a server whose clock is a little behind).
- A reader takes a ``Base`` (its random build id) before reading the rows and checks it is still in place
  afterwards (``still_valid``): a base evicted or rebuilt meanwhile is detected and the reader falls
  back to the raw rollups. Any failure to build (two builders at once, SQLite's lock) falls back the same way.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.models import (
    CustomerMeasures,
    CustomerRangeState,
    CustomerRangeTotals,
    CustomerUsageDaily,
    TenantLateVersion,
    UsageHourly,
)
from llmobserve_app.services.time_range import day_floor, hour_floor

logger = logging.getLogger(__name__)

TOTALS = CustomerRangeTotals.__table__
STATE = CustomerRangeState.__table__
VERSIONS = TenantLateVersion.__table__
DAY, HOUR, DAYHOUR = "day", "hour", "dayhour"
GRACE = timedelta(minutes=5)
MAX_AGE = timedelta(days=2)  # a base built longer ago than this is evicted by the next build
MAX_RANGES = {DAY: 12, HOUR: 4, DAYHOUR: 6}  # per tenant, newest kept (hourly and dayhour windows move hourly)
MEASURES = tuple(CustomerMeasures.model_fields)  # calls … last_seen, as customer_usage_daily sums them
LATE_SQL = (  # named parameters :tenant and :day (0 or 1), as ``late_event_params`` gives them
    "INSERT INTO tenant_late_versions (tenant_id, late_day_version, late_hour_version) VALUES (:tenant, :day, 1) "
    "ON CONFLICT (tenant_id) DO UPDATE SET "
    "late_day_version = tenant_late_versions.late_day_version + excluded.late_day_version, "
    "late_hour_version = tenant_late_versions.late_hour_version + 1"
)
_LATE_SQL = sa.text(LATE_SQL)


@dataclass(frozen=True)
class RangeKey:
    tenant_id: int
    grain: str
    start: datetime
    end: datetime  # exclusive

    def where(self, table: sa.Table) -> list[sa.ColumnElement[bool]]:
        return [table.c.tenant_id == self.tenant_id, table.c.grain == self.grain,
                table.c.range_start == self.start, table.c.range_end == self.end]


@dataclass(frozen=True)
class Base:
    """A built range as a reader found it: its rows are valid while its state row is unchanged."""

    key: RangeKey
    build_id: int


def closed_end(grain: str, now: datetime) -> datetime:
    """Where the closed periods of a grain end (exclusive) at ``now`` (``dayhour`` ends at the closed hour)."""
    moment = now - GRACE
    return day_floor(moment) if grain == DAY else hour_floor(moment)


def day_part(key: RangeKey) -> RangeKey | None:
    """The ``day`` range a ``dayhour`` range is built on (its whole days), or None (it starts today)."""
    end = day_floor(key.end)
    return RangeKey(key.tenant_id, DAY, key.start, end) if end > key.start else None


# --- ingest --------------------------------------------------------------------------------------------------

def _sqlite_text(moment: datetime) -> str:
    """A UTC datetime as ingest stores it on SQLite (naive, always with microseconds)."""
    return moment.replace(tzinfo=None).isoformat(" ", "microseconds")


def late_event_params(tenant_id: int, oldest_started: datetime | str, now: datetime) -> dict[str, int] | None:
    """The parameters of ``LATE_SQL`` when a batch's oldest event is in an hour (and day) already over at
    ``now`` (the moment the batch is written), else None.

    ``oldest_started`` is in storage form (SQLite text or an aware datetime). A batch of current events costs
    two comparisons and no query.
    """
    hour, day = hour_floor(now), day_floor(now)
    if isinstance(oldest_started, str):
        hour_late, day_late = oldest_started < _sqlite_text(hour), oldest_started < _sqlite_text(day)
    else:
        hour_late, day_late = oldest_started < hour, oldest_started < day
    return {"tenant": tenant_id, "day": int(day_late)} if hour_late else None


def note_late_events(session: Session, tenant_id: int, oldest_started: datetime | str, now: datetime) -> None:
    """Bump the tenant's late counters (``late_event_params``), in the batch's transaction."""
    params = late_event_params(tenant_id, oldest_started, now)
    if params is not None:
        session.execute(_LATE_SQL, params)


def invalidate(session: Session, tenant_id: int) -> None:
    """Make every base of a tenant stale (its rollups were rewritten), in the caller's transaction."""
    session.execute(_LATE_SQL, {"tenant": tenant_id, "day": 1})


# --- readers ---------------------------------------------------------------------------------------------

def _late_counter(grain: str) -> sa.Column:
    return VERSIONS.c.late_day_version if grain == DAY else VERSIONS.c.late_hour_version


def _current_version(key: RangeKey) -> sa.ScalarSelect:
    counter = sa.select(_late_counter(key.grain)).where(VERSIONS.c.tenant_id == key.tenant_id).scalar_subquery()
    return sa.func.coalesce(counter, 0)


def _stored(session: Session, key: RangeKey) -> Base | None:
    """The built base of ``key`` if its late version is the tenant's current one."""
    row = session.execute(
        sa.select(STATE.c.build_id, STATE.c.late_version, _current_version(key)).where(*key.where(STATE))
    ).first()
    if row is None or row[1] != row[2]:
        return None
    return Base(key, row[0])


def still_valid(session: Session, base: Base) -> bool:
    """True when the base a reader used is still in place (not evicted or rebuilt since it was taken)."""
    build_id = session.execute(sa.select(STATE.c.build_id).where(*base.key.where(STATE))).scalar()
    return build_id == base.build_id


def acquire(session: Session, key: RangeKey, now: datetime) -> Base | None:
    """A current base for ``key``: the stored one, else one built now; None when it cannot be built."""
    found = _stored(session, key)
    if found is not None:
        return found
    days = day_part(key) if key.grain == DAYHOUR else None
    if days is None:
        return _build(session, key, now)
    day_base = acquire(session, days, now)
    return None if day_base is None else _build(session, key, now, day_base)


def rows(base: Base, *conditions: sa.ColumnElement[bool]) -> sa.Select:
    """The base's per-customer rows: ``customer_id`` and ``MEASURES``, in key (customer) order."""
    return (sa.select(TOTALS.c.customer_id, *(TOTALS.c[name] for name in MEASURES))
            .where(*base.key.where(TOTALS), *conditions))


# --- building --------------------------------------------------------------------------------------------

def _dayhour_aggregate(key: RangeKey, day_base: Base | None) -> sa.Select:
    """Per-customer totals of a ``dayhour`` range, as ``customer_range_totals`` rows: the day base's rows, the
    day's closed hours from ``usage_hourly`` and, for their customers, first/last call from the day's
    ``customer_usage_daily`` row."""
    h, d = UsageHourly, CustomerUsageDaily
    day = day_floor(key.end)
    hours_where = [h.tenant_id == key.tenant_id, h.hour >= max(key.start, day), h.hour < key.end, h.customer_id != ""]
    no_time = sa.cast(sa.null(), TOTALS.c.first_seen.type)
    zero = sa.literal(0, sa.BigInteger)
    hour_values = [h.calls, h.failed_calls, sa.case((h.priced.is_(False), h.calls), else_=0), h.cost_nanos,
                   h.input_tokens, h.output_tokens, h.latency_ms_sum, no_time, no_time]
    arms = [sa.select(h.customer_id, *(value.label(name) for value, name in zip(hour_values, MEASURES, strict=True)))
            .where(*hours_where),
            sa.select(d.customer_id, *([zero] * 7), d.first_seen, d.last_seen)
            .where(d.tenant_id == key.tenant_id, d.day == day,
                   d.customer_id.in_(sa.select(h.customer_id).where(*hours_where)))]
    if day_base is not None:
        arms.insert(0, rows(day_base))
    parts = sa.union_all(*arms).subquery("dayhour_parts")
    p = parts.c
    sums = [sa.func.sum(p[name]) for name in MEASURES[:-2]]
    values = {"tenant_id": sa.literal(key.tenant_id, sa.Integer), "grain": sa.literal(key.grain, sa.String),
              "range_start": sa.literal(key.start, TOTALS.c.range_start.type),
              "range_end": sa.literal(key.end, TOTALS.c.range_end.type), "customer_id": p.customer_id,
              **dict(zip(MEASURES, [*sums, sa.func.min(p.first_seen), sa.func.max(p.last_seen)], strict=True))}
    labelled = [values[column.name].label(column.name) for column in TOTALS.c]
    return sa.select(*labelled).group_by(p.customer_id).order_by(p.customer_id)


def _aggregate(key: RangeKey, day_base: Base | None = None) -> sa.Select:
    """Per-customer totals of the range from the rollup of its grain, as ``customer_range_totals`` rows."""
    if key.grain == DAYHOUR:
        return _dayhour_aggregate(key, day_base)
    if key.grain == DAY:
        d = CustomerUsageDaily
        source_where = [d.tenant_id == key.tenant_id, d.day >= key.start, d.day < key.end]
        customer, first_seen, last_seen = d.customer_id, sa.func.min(d.first_seen), sa.func.max(d.last_seen)
        sums = [sa.func.sum(d.calls), sa.func.sum(d.failed_calls), sa.func.sum(d.unpriced_calls)]
        measures = d
    else:
        h = UsageHourly
        source_where = [h.tenant_id == key.tenant_id, h.hour >= key.start, h.hour < key.end]
        customer, first_seen, last_seen = h.customer_id, sa.func.min(h.hour), sa.func.max(h.hour)
        sums = [sa.func.sum(h.calls), sa.func.sum(h.failed_calls),
                sa.func.sum(sa.case((h.priced.is_(False), h.calls), else_=0))]
        measures = h
    sums += [sa.func.sum(getattr(measures, name)) for name in ("cost_nanos", "input_tokens", "output_tokens",
                                                              "latency_ms_sum")]
    values = {"tenant_id": sa.literal(key.tenant_id, sa.Integer), "grain": sa.literal(key.grain, sa.String),
              "range_start": sa.literal(key.start, TOTALS.c.range_start.type),
              "range_end": sa.literal(key.end, TOTALS.c.range_end.type), "customer_id": customer,
              **dict(zip(MEASURES, [*sums, first_seen, last_seen], strict=True))}
    labelled = [values[column.name].label(column.name) for column in TOTALS.c]  # in the table's column order
    return sa.select(*labelled).where(*source_where).group_by(customer).order_by(customer)


def _evict(session: Session, key: RangeKey, now: datetime) -> None:
    """Drop the tenant's bases built more than MAX_AGE ago, then all but the MAX_RANGES newest of each grain
    (counting the one being built)."""
    built = session.execute(
        sa.select(STATE.c.grain, STATE.c.range_start, STATE.c.range_end, STATE.c.built_at)
        .where(STATE.c.tenant_id == key.tenant_id).order_by(STATE.c.built_at.desc())
    ).all()
    kept = {DAY: 0, HOUR: 0, key.grain: 1}
    for grain, start, end, built_at in built:
        if (grain, start, end) == (key.grain, key.start, key.end):
            continue
        kept[grain] = kept.get(grain, 0) + 1
        if built_at < now - MAX_AGE or kept[grain] > MAX_RANGES.get(grain, 0):
            _delete(session, RangeKey(key.tenant_id, grain, start, end))


def _delete(session: Session, key: RangeKey) -> None:
    session.execute(sa.delete(STATE).where(*key.where(STATE)))
    session.execute(sa.delete(TOTALS).where(*key.where(TOTALS)))


def _fill(builder: Session, key: RangeKey, day_base: Base | None = None) -> None:
    """Write the range's rows. SQLite: aggregate first, outside the write lock (one writer at a time), then
    insert; PostgreSQL: one INSERT … SELECT."""
    query = _aggregate(key, day_base)
    if builder.get_bind().dialect.name == "sqlite":
        # Untyped columns: the values go back exactly as they were read (SQLite text times).
        raw = sa.table(TOTALS.name, *(sa.column(column.name) for column in TOTALS.c))
        aggregated = query.subquery()
        found = [dict(row._mapping) for row in builder.execute(
            sa.select(*(sa.type_coerce(column, sa.types.NullType()).label(column.name) for column in aggregated.c)))]
        _delete(builder, key)
        if found:
            builder.execute(sa.insert(raw), found)
        return
    _delete(builder, key)
    builder.execute(sa.insert(TOTALS).from_select([column.name for column in TOTALS.c], query))


_building: set[RangeKey] = set()  # keys this process is building now
_building_lock = threading.Lock()


class _DayBaseGone(Exception):
    """The ``day`` base a ``dayhour`` base was being built from was evicted, rebuilt or made stale meanwhile."""


def _build(session: Session, key: RangeKey, now: datetime, day_base: Base | None = None) -> Base | None:
    """Build ``key``'s base in its own transaction (the reader's is left alone), a ``dayhour`` one from
    ``day_base``. None when it fails: a concurrent builder won the race, or SQLite's write lock was busy; the
    reader then uses the raw rollups."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, sa.Engine) else bind.engine
    if engine.dialect.name == "sqlite" and session.connection().connection.driver_connection.in_transaction:
        return None  # the reader holds SQLite's write lock: a second connection would wait out the busy timeout
    with _building_lock:
        if key in _building:
            return None  # another request of this process is building it: don't pile up connections
        _building.add(key)
    build_id = secrets.randbits(62)
    try:
        with Session(engine) as builder:
            # The version first: late events committed after this are either in the rows read below or make
            # this base stale; never silently missing.
            version = builder.execute(sa.select(_current_version(key))).scalar_one()
            _fill(builder, key, day_base)
            # The day base still in place AND current (a late call for a closed day moves both counters: one
            # committed after the day base was checked is in no row here, yet ``version`` already counts it).
            if day_base is not None and _stored(builder, day_base.key) != day_base:
                raise _DayBaseGone(day_base.key)
            builder.execute(sa.insert(STATE).values(tenant_id=key.tenant_id, grain=key.grain, range_start=key.start,
                                                    range_end=key.end, late_version=version, build_id=build_id,
                                                    built_at=now))
            _evict(builder, key, now)
            builder.commit()
    except (sa.exc.SQLAlchemyError, _DayBaseGone) as error:  # a lost race, a busy lock, no free connection...
        logger.warning("customer range %s not built, using the rollups: %s", key, error)
        return None
    finally:
        with _building_lock:
            _building.discard(key)
    return Base(key, build_id)
