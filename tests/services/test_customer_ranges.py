"""Per-customer range bases: built once and reused, rebuilt after late events, evicted, and never the cause
of a wrong answer or an error when building fails (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from llmobserve_app.db import session_scope
from llmobserve_app.services import analytics, customer_ranges, rollups
from llmobserve_app.services.analytics import per_customer
from llmobserve_app.services.ingest.store import ingest_events
from llmobserve_app.services.time_range import resolve_range
from tests.factories import event

CLOCK = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)
STATE, TOTALS, VERSIONS = customer_ranges.STATE, customer_ranges.TOTALS, customer_ranges.VERSIONS


class Clock:
    """'now' (CLOCK unless set again), given to readers and to ingest as ``now``."""

    def __init__(self) -> None:
        self.now = CLOCK

    def __call__(self, moment: datetime) -> None:
        self.now = moment


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _at(moment: datetime, customer: str, **overrides) -> dict:
    return event(started_at=moment.isoformat(), customer_id=customer, **overrides)


def _tenant_with_history(engine, make_account) -> int:
    """A tenant with calls every 5 hours over the last 20 days, from four customers, and a few today."""
    tenant, _, _ = make_account()
    events = [_at(CLOCK - timedelta(hours=5 * n), f"c{n % 4}") for n in range(1, 96)]
    with session_scope(engine) as session:
        ingest_events(session, tenant, events, now=CLOCK)
    return tenant


def _scope(tenant: int, key: str = "30d", now: datetime = CLOCK) -> analytics.Scope:
    window = resolve_range(key, now=now)
    return analytics.Scope(tenant, window.start, window.end)


def _state(engine, tenant: int) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(
            sa.select(STATE.c.grain, STATE.c.range_start, STATE.c.range_end, STATE.c.late_version, STATE.c.build_id)
            .where(STATE.c.tenant_id == tenant).order_by(STATE.c.built_at, STATE.c.range_start))]


def _versions(engine, tenant: int) -> tuple | None:
    with engine.connect() as connection:
        row = connection.execute(sa.select(VERSIONS.c.late_day_version, VERSIONS.c.late_hour_version)
                                 .where(VERSIONS.c.tenant_id == tenant)).first()
    return None if row is None else tuple(row)


def _without_bases(session, call: Callable, monkeypatch: pytest.MonkeyPatch):
    with monkeypatch.context() as patch:
        patch.setattr(per_customer, "_customer_base", lambda *args: None)
        return call(session)


@contextmanager
def _statements(engine) -> Iterator[list[str]]:
    """The SQL statements run meanwhile."""
    seen: list[str] = []

    def record(_connection, _cursor, statement: str, *_args) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def test_built_once_then_reused(engine, make_account, clock, monkeypatch) -> None:
    tenant = _tenant_with_history(engine, make_account)
    scope = _scope(tenant)
    with session_scope(engine) as session:
        first = analytics.customers_page(session, scope, now=clock.now)
    state = _state(engine, tenant)
    assert sorted((grain, start, end) for grain, start, end, _, _ in state) == [  # the closed days, then to 15:00
        ("day", scope.start, datetime(2026, 11, 23, tzinfo=UTC)),
        ("dayhour", scope.start, datetime(2026, 11, 23, 15, tzinfo=UTC))]
    with _statements(engine) as statements, session_scope(engine) as session:
        again = analytics.customers_page(session, scope, now=clock.now)
        top = analytics.cost_by(session, scope, "customer", now=clock.now)
        expected = _without_bases(session, lambda s: analytics.customers_page(s, scope, now=clock.now), monkeypatch)
    assert first == again == expected and first.total_customers == 4
    assert [row.name for row in top] == [row.customer_id for row in first.rows]
    assert _state(engine, tenant) == state  # not rebuilt
    assert not [s for s in statements if "INSERT" in s or "DELETE" in s]


def test_current_events_leave_bases_alone_late_ones_make_them_stale(engine, make_account, clock, monkeypatch) -> None:
    tenant = _tenant_with_history(engine, make_account)
    scope = _scope(tenant)
    with session_scope(engine) as session:
        before = analytics.cost_by(session, scope, "customer", limit=None, now=clock.now)
    built = _state(engine, tenant)
    assert _versions(engine, tenant) == (1, 1) == tuple(row[3] for row in sorted(built))  # the history was late

    with session_scope(engine) as session:  # this hour: the open part, read live
        ingest_events(session, tenant, [_at(CLOCK - timedelta(minutes=10), "c9")], now=clock.now)
        now_rows = analytics.cost_by(session, scope, "customer", limit=None, now=clock.now)
    assert _versions(engine, tenant) == (1, 1) and _state(engine, tenant) == built
    assert {row.name for row in now_rows} == {row.name for row in before} | {"c9"}

    with session_scope(engine) as session:  # earlier today: late for the hour grains (and the dayhour base)
        ingest_events(session, tenant, [_at(CLOCK - timedelta(hours=3), "c8")], now=clock.now)
    assert _versions(engine, tenant) == (1, 2) and _state(engine, tenant) == built
    with session_scope(engine) as session:
        assert "c8" in {row.name for row in analytics.cost_by(session, scope, "customer", limit=None, now=clock.now)}
    (_, day), (_, dayhour) = sorted((row[0], row) for row in _state(engine, tenant))
    assert day == sorted(built)[0] and dayhour[:4] == sorted(built)[1][:3] + (2,) and dayhour[4] != sorted(built)[1][4]
    built = _state(engine, tenant)

    with session_scope(engine) as session:  # last week: the day base is stale, rebuilt on the next read
        ingest_events(session, tenant, [_at(CLOCK - timedelta(days=6), "c7")], now=clock.now)
    assert _versions(engine, tenant) == (2, 3)
    with session_scope(engine) as session:
        after = analytics.cost_by(session, scope, "customer", limit=None, now=clock.now)
        expected = _without_bases(
            session, lambda s: analytics.cost_by(s, scope, "customer", limit=None, now=clock.now), monkeypatch)
    assert after == expected and {"c7", "c8", "c9"} <= {row.name for row in after}
    rebuilt, built = sorted(_state(engine, tenant)), sorted(built)  # both: the day base, and the dayhour on it
    assert [row[:4] for row in rebuilt] == [built[0][:3] + (2,), built[1][:3] + (3,)]
    assert all(new[4] != old[4] for new, old in zip(rebuilt, built, strict=True))


def test_note_late_events_reads_sqlite_text_and_datetimes(engine, make_account, clock) -> None:
    tenant, _, _ = make_account()
    with session_scope(engine) as session:
        customer_ranges.note_late_events(session, tenant, "2026-11-23 15:00:00.000000", clock.now)  # this hour
        customer_ranges.note_late_events(session, tenant, CLOCK - timedelta(minutes=29), clock.now)
    assert _versions(engine, tenant) is None
    with session_scope(engine) as session:
        customer_ranges.note_late_events(session, tenant, "2026-11-23 14:59:59.999999", clock.now)  # an hour ago
        customer_ranges.note_late_events(session, tenant, CLOCK - timedelta(hours=1), clock.now)
    assert _versions(engine, tenant) == (0, 2)
    with session_scope(engine) as session:
        customer_ranges.note_late_events(session, tenant, "2026-11-22 23:59:59.999999", clock.now)  # yesterday
        customer_ranges.note_late_events(session, tenant, CLOCK - timedelta(days=30), clock.now)
    assert _versions(engine, tenant) == (2, 4)


def test_closed_means_ended_a_grace_period_ago(engine, make_account, clock) -> None:
    """Just after midnight, yesterday is still read live: an ingest that judged its events current by its own
    clock may commit a moment after the day turns."""
    tenant = _tenant_with_history(engine, make_account)
    midnight = datetime(2026, 11, 24, tzinfo=UTC)
    for minutes, closed_day, closed_hour in ((2, datetime(2026, 11, 23, tzinfo=UTC), midnight - timedelta(hours=1)),
                                             (6, midnight, midnight)):
        clock(midnight + timedelta(minutes=minutes))
        scope = _scope(tenant, "7d", clock.now)
        with session_scope(engine) as session:
            analytics.cost_by(session, scope, "customer", now=clock.now)
        ends = {(grain, end) for grain, start, end, _, _ in _state(engine, tenant) if start == scope.start}
        assert {("day", closed_day), ("dayhour", closed_hour)} <= ends
        assert minutes == 6 or not {("day", midnight), ("dayhour", midnight)} & ends


def test_eviction_keeps_recent_and_few(engine, make_account, clock) -> None:
    tenant = _tenant_with_history(engine, make_account)
    today = datetime(2026, 11, 23, tzinfo=UTC)
    with session_scope(engine) as session:
        for days in range(2, 17):  # 15 custom whole-day ranges, all closed, built a second apart
            clock(CLOCK + timedelta(seconds=days))
            scope = analytics.Scope(tenant, today - timedelta(days=days), today)
            analytics.cost_by(session, scope, "customer", now=clock.now)
        for hours in range(2, 8):  # 6 windows ending now
            clock(CLOCK + timedelta(seconds=20 + hours))
            scope = analytics.Scope(tenant, CLOCK - timedelta(hours=hours), CLOCK)
            analytics.cost_by(session, scope, "customer", now=clock.now)
    state = _state(engine, tenant)
    day_starts = [start for grain, start, _, _, _ in state if grain == "day"]
    assert sorted(day_starts) == [today - timedelta(days=days) for days in range(16, 4, -1)]  # the 12 newest
    assert len([grain for grain, *_ in state if grain == "hour"]) == customer_ranges.MAX_RANGES["hour"]
    with engine.begin() as connection:  # leftover rows of evicted ranges are gone too
        ranges = connection.execute(sa.select(TOTALS.c.grain, TOTALS.c.range_start, TOTALS.c.range_end).distinct()
                                    .where(TOTALS.c.tenant_id == tenant)).all()
        assert {tuple(row) for row in ranges} <= {(grain, start, end) for grain, start, end, _, _ in state}
        connection.execute(sa.update(STATE).where(STATE.c.tenant_id == tenant, STATE.c.grain == "hour")
                           .values(built_at=CLOCK - timedelta(days=3)))
    with session_scope(engine) as session:  # the next build drops bases built more than two days ago
        scope = analytics.Scope(tenant, CLOCK - timedelta(hours=9), CLOCK)
        analytics.cost_by(session, scope, "customer", now=clock.now)
    assert [start for grain, start, *_ in _state(engine, tenant) if grain == "hour"] == [CLOCK - timedelta(hours=9)]


def test_a_failed_build_falls_back_to_the_rollups(engine, make_account, clock, monkeypatch) -> None:
    tenant = _tenant_with_history(engine, make_account)
    scope = _scope(tenant)

    def locked(*_args) -> None:
        raise sa.exc.OperationalError("INSERT INTO customer_range_totals …", {}, Exception("database is locked"))

    with session_scope(engine) as session:
        expected = _without_bases(session, lambda s: analytics.customers_page(s, scope, now=clock.now), monkeypatch)
        monkeypatch.setattr(customer_ranges, "_fill", locked)
        assert analytics.customers_page(session, scope, now=clock.now) == expected
    assert _state(engine, tenant) == []


def test_a_base_replaced_while_read_is_detected(engine, make_account, clock, monkeypatch) -> None:
    """A concurrent builder evicting (or rebuilding) the base between its check and the read: the reader notices
    and answers from the rollups, never from a missing base."""
    tenant = _tenant_with_history(engine, make_account)
    scope = _scope(tenant)
    with session_scope(engine) as session:
        expected = analytics.cost_by(session, scope, "customer", limit=None, now=clock.now)
    rows = customer_ranges.rows

    def evicted_meanwhile(base: customer_ranges.Base, *conditions):
        with engine.begin() as connection:
            for table in (STATE, TOTALS):
                connection.execute(sa.delete(table).where(*base.key.where(table)))
        return rows(base, *conditions)

    monkeypatch.setattr(customer_ranges, "rows", evicted_meanwhile)
    with session_scope(engine) as session:
        assert analytics.cost_by(session, scope, "customer", limit=None, now=clock.now) == expected


@pytest.mark.postgres
def test_concurrent_builders_one_wins_the_other_falls_back(engine, make_account, clock, monkeypatch) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("two transactions writing at once: PostgreSQL (SQLite has one writer at a time)")
    tenant = _tenant_with_history(engine, make_account)
    scope = _scope(tenant)
    key = (tenant, "day", scope.start, datetime(2026, 11, 23, tzinfo=UTC))
    with session_scope(engine) as session:
        expected = _without_bases(session, lambda s: analytics.customers_page(s, scope, now=clock.now), monkeypatch)
    other = engine.connect()
    transaction = other.begin()  # another builder of the same range, not committed yet
    other.execute(sa.insert(STATE).values(tenant_id=tenant, grain="day", range_start=key[2], range_end=key[3],
                                          late_version=1, build_id=42, built_at=CLOCK))
    timer = threading.Timer(0.5, transaction.commit)
    timer.start()
    try:
        with session_scope(engine) as session:  # waits for the other builder, then loses on the unique key
            assert analytics.customers_page(session, scope, now=clock.now) == expected
    finally:
        timer.join()
        other.close()
    assert [row[4] for row in _state(engine, tenant)] == [42]  # the winner's state row


def test_sqlite_reader_holding_the_write_lock_does_not_build(engine, make_account, clock, monkeypatch) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only: a second connection would wait for the reader's own write lock")
    tenant = _tenant_with_history(engine, make_account)
    scope = _scope(tenant)
    with session_scope(engine) as session:
        expected = _without_bases(session, lambda s: analytics.customers_page(s, scope, now=clock.now), monkeypatch)
    with session_scope(engine) as session:
        ingest_events(session, tenant, [_at(CLOCK - timedelta(minutes=1), "c1")], now=clock.now)  # it writes now
        expected = _without_bases(session, lambda s: analytics.customers_page(s, scope, now=clock.now), monkeypatch)
        began = time.perf_counter()
        assert analytics.customers_page(session, scope, now=clock.now) == expected
        assert time.perf_counter() - began < 5  # not the 10 s busy timeout of a builder waiting for this lock
    assert _state(engine, tenant) == []


def test_rollup_rebuild_makes_every_base_stale(engine, make_account, clock) -> None:
    tenant = _tenant_with_history(engine, make_account)
    with session_scope(engine) as session:
        analytics.cost_by(session, _scope(tenant), "customer", now=clock.now)
        analytics.cost_by(session, _scope(tenant, "24h"), "customer", now=clock.now)
    with session_scope(engine) as session:
        rollups.rebuild_tenant(session, tenant)
    assert _versions(engine, tenant) == (2, 2)
    with session_scope(engine) as session:
        base = customer_ranges._stored(session, customer_ranges.RangeKey(
            tenant, "day", _scope(tenant).start, datetime(2026, 11, 23, tzinfo=UTC)))
    assert base is None


def test_a_dayhour_base_is_not_built_on_a_day_base_a_late_call_made_stale(engine, make_account, clock) -> None:
    """A late call for a closed day commits between the day base's check and the dayhour build (both counters
    move): the dayhour base must not be stored as current on the stale day base's rows; the reader falls back
    and the next read builds both again, with the call."""
    tenant = _tenant_with_history(engine, make_account)
    scope = _scope(tenant)
    with session_scope(engine) as session:
        analytics.customers_page(session, scope, now=clock.now)  # both bases built
    (day_row, dayhour_row) = sorted(_state(engine, tenant))
    day_key = customer_ranges.RangeKey(tenant, "day", day_row[1], day_row[2])
    dayhour_key = customer_ranges.RangeKey(tenant, "dayhour", dayhour_row[1], dayhour_row[2])
    with session_scope(engine) as session:
        day_base = customer_ranges.acquire(session, day_key, clock.now)
    assert day_base is not None
    with session_scope(engine) as session:  # the late call for last week, after the day base was taken
        ingest_events(session, tenant, [_at(CLOCK - timedelta(days=6), "late")], now=clock.now)
    with engine.begin() as connection:  # the dayhour base must be built again: drop it
        connection.execute(sa.delete(STATE).where(*dayhour_key.where(STATE)))
    with session_scope(engine) as session:
        assert customer_ranges._build(session, dayhour_key, clock.now, day_base) is None
    with session_scope(engine) as session:
        page = analytics.customers_page(session, scope, now=clock.now)
    assert "late" in {row.customer_id for row in page.rows}
