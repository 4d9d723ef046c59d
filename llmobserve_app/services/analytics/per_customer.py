"""The customer dimension over any window: the closed part pre-summed per customer by a range base
(services/customer_ranges.py), the open part read from the hourly (and daily) rollup, and ranking helpers.
Pages that rank customers use the in-memory ``Source.view`` (customer_view) where there is a base; the SQL
below is the path without one (and for the average-latency sort)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.models import CustomerUsageDaily, UsageHourly
from llmobserve_app.services import customer_ranges
from llmobserve_app.services.analytics import customer_view
from llmobserve_app.services.analytics.scope import Scope, daily_where, hourly_where, like_pattern, whole_days
from llmobserve_app.services.time_range import day_floor

T = TypeVar("T")


@dataclass(frozen=True)
class Source:
    """One window's rows to sum per customer: ``rows`` (``customer_id`` and ``customer_ranges.MEASURES``) are
    the base's rows UNION ALL the open part's (the rollups alone without a base). ``view`` ranks them in
    memory instead (customer_view), where there is a base."""

    rows: sa.Subquery
    scope: Scope
    base: customer_ranges.Base | None
    search: str
    named_only: bool

    def view(self, session: Session) -> customer_view.View | None:
        return customer_view.view_of(session, self.scope, self.base, self.search, self.named_only)


def _customer_base(session: Session, scope: Scope, now: datetime) -> customer_ranges.Base | None:
    """The pre-summed closed part of an all-customers window (built now if needed), or None: one customer,
    nothing closed yet, or the base could not be built.

    A whole-day window ending after the closed days uses a ``dayhour`` base (through the closed hour)."""
    if scope.customer_id is not None:
        return None
    if whole_days(scope, now):
        if scope.end <= customer_ranges.closed_end(customer_ranges.DAY, now):
            grain, end = customer_ranges.DAY, scope.end
        else:
            grain, end = customer_ranges.DAYHOUR, customer_ranges.closed_end(customer_ranges.HOUR, now)
    else:
        grain = customer_ranges.HOUR
        end = min(scope.end, customer_ranges.closed_end(grain, now))
    if end <= scope.start:
        return None
    return customer_ranges.acquire(session, customer_ranges.RangeKey(scope.tenant_id, grain, scope.start, end), now)


def _open_part(scope: Scope, now: datetime, base: customer_ranges.Base | None,
               matching: Callable[[sa.ColumnElement[str]], list[sa.ColumnElement[bool]]]) -> sa.Select | None:
    """The rows of the window after the base (all of it without one), or None."""
    rest = scope if base is None else Scope(scope.tenant_id, base.key.end, scope.end)
    if rest.start >= rest.end:
        return None
    h, d = UsageHourly, CustomerUsageDaily
    if base is None and whole_days(scope, now):
        return (sa.select(d.customer_id, *(getattr(d, name) for name in customer_ranges.MEASURES))
                .where(*daily_where(rest), *matching(d.customer_id)))
    sums = [h.calls, h.failed_calls, sa.case((h.priced.is_(False), h.calls), else_=0).label("unpriced_calls"),
            h.cost_nanos, h.input_tokens, h.output_tokens, h.latency_ms_sum]
    if base is None or base.key.grain == customer_ranges.HOUR:
        return (sa.select(h.customer_id, *sums, h.hour.label("first_seen"), h.hour.label("last_seen"))
                .where(*hourly_where(rest, UsageHourly), *matching(h.customer_id)))
    # After a dayhour base: the hourly rollup's sums (to the end of the window's last day, as the daily rollup
    # counts), and the exact first/last call times from the daily rows with a call after the base's end.
    last_day = day_floor(scope.end - timedelta(microseconds=1))
    no_time = sa.cast(sa.null(), customer_ranges.TOTALS.c.first_seen.type)
    zero = sa.literal(0, sa.BigInteger)
    hourly = (sa.select(h.customer_id, *sums, no_time.label("first_seen"), no_time.label("last_seen"))
              .where(h.tenant_id == scope.tenant_id, h.hour >= rest.start, h.hour < last_day + timedelta(days=1),
                     h.customer_id != "", *matching(h.customer_id)))
    seen = (sa.select(d.customer_id, *(zero.label(name) for name in customer_ranges.MEASURES[:-2]),
                      d.first_seen, d.last_seen)
            .where(*daily_where(Scope(scope.tenant_id, day_floor(rest.start), scope.end)),
                   d.last_seen >= rest.start, *matching(d.customer_id)))
    return sa.select(sa.union_all(hourly, seen).subquery("open_rows"))  # nestable in a UNION


def _customer_source(scope: Scope, now: datetime, base: customer_ranges.Base | None, search: str,
                     named_only: bool) -> Source:
    """The window's per-customer rows: the daily or hourly rollup's rows, or the base's rows UNION ALL the
    rollup's rows after it.

    ``named_only`` leaves out calls without a customer (the hourly rollup's ``''``); ``search`` is a LIKE.
    """
    def matching(column: sa.ColumnElement[str]) -> list[sa.ColumnElement[bool]]:
        conditions = [column != ""] if named_only else []
        if search.strip():
            conditions.append(column.ilike(like_pattern(search), escape="\\"))
        return conditions

    opened = _open_part(scope, now, base, matching)
    parts = [] if base is None else [customer_ranges.rows(base, *matching(customer_ranges.TOTALS.c.customer_id))]
    if opened is not None:
        parts.append(opened)
    rows = (parts[0] if len(parts) == 1 else sa.union_all(*parts)).subquery("customer_rows")
    return Source(rows, scope, base, search, named_only)


def by_customer(session: Session, scopes: Sequence[Scope], now: datetime, compute: Callable[..., T],
                search: str = "", named_only: bool = False) -> T:
    """``compute`` over each window's ``Source`` (one per scope): from range bases where there are some,
    checked still in place after reading (else computed again from the rollups alone)."""
    bases = [_customer_base(session, scope, now) for scope in scopes]
    if any(bases):
        result = compute(*(_customer_source(scope, now, base, search, named_only)
                           for scope, base in zip(scopes, bases, strict=True)))
        if all(customer_ranges.still_valid(session, base) for base in bases if base is not None):
            return result
    return compute(*(_customer_source(scope, now, None, search, named_only) for scope in scopes))


def binary_order(session: Session, column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    """``column`` compared by code point, as Python sorts strings (PostgreSQL's default collation may not)."""
    return column.collate("C") if session.get_bind().dialect.name == "postgresql" else column


def ranked(session: Session, rows: sa.Subquery, columns: list[sa.ColumnElement], order: sa.ColumnElement,
            descending: bool, limit: int | None, offset: int = 0) -> list[sa.Row]:
    """``customer_id`` and ``columns`` (aggregates of ``rows``) per customer, ordered by ``order`` then customer.

    A page is ranked on its sort key alone, then summed in full for its customers only: carrying every sum
    through the GROUP BY of ~20k rows costs SQLite about twice as much.
    """
    c = rows.c
    ordering = (order.desc() if descending else order.asc(), binary_order(session, c.customer_id))
    if limit is None:
        return list(session.execute(sa.select(c.customer_id, *columns).group_by(c.customer_id)
                                    .order_by(*ordering).offset(offset or None)).all())
    ranking = sa.select(c.customer_id).group_by(c.customer_id).order_by(*ordering).limit(limit).offset(offset)
    return sums_of(session, rows, columns, list(session.execute(ranking).scalars()))


def sums_of(session: Session, rows: sa.Subquery, columns: list[sa.ColumnElement],
             customers: list[str]) -> list[sa.Row]:
    """``customer_id`` and ``columns`` (aggregates of ``rows``) of the listed customers, in their order."""
    if not customers:
        return []
    c = rows.c
    found = {row[0]: row for row in session.execute(
        sa.select(c.customer_id, *columns).where(c.customer_id.in_(customers)).group_by(c.customer_id))}
    return [found[customer] for customer in customers if customer in found]


def in_order(rows: sa.Subquery, *ordering: sa.ColumnElement) -> sa.Select:
    """``rows`` (already limited to a page) with their 1-based position in ``ordering`` as ``position``: the
    order of rows out of a UNION ALL is not guaranteed, a position is."""
    return sa.select(rows, sa.func.row_number().over(order_by=ordering).label("position"))
