"""The customer dimension over any window: the closed part pre-summed per customer by a range base
(services/customer_ranges.py), the open part read from the daily or hourly rollup, and ranking helpers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.models import CustomerUsageDaily, UsageHourly
from llmobserve_app.services import customer_ranges
from llmobserve_app.services.analytics.scope import Scope, daily_where, hourly_where, like_pattern, whole_days

T = TypeVar("T")


def _customer_base(session: Session, scope: Scope, now: datetime) -> customer_ranges.Base | None:
    """The pre-summed closed part of an all-customers window (built now if needed), or None: one customer,
    nothing closed yet, or the base could not be built."""
    if scope.customer_id is not None:
        return None
    grain = customer_ranges.DAY if whole_days(scope, now) else customer_ranges.HOUR
    end = min(scope.end, customer_ranges.closed_end(grain, now))
    if end <= scope.start:
        return None
    return customer_ranges.acquire(session, customer_ranges.RangeKey(scope.tenant_id, grain, scope.start, end), now)


def _customer_source(scope: Scope, now: datetime, base: customer_ranges.Base | None, search: str,
                     named_only: bool) -> sa.Subquery:
    """Rows to sum per customer (``customer_id`` and ``customer_ranges.MEASURES``) for the window: the daily
    or hourly rollup's rows, or the base's rows UNION ALL the rollup's rows after it.

    ``named_only`` leaves out calls without a customer (the hourly rollup's ``''``); ``search`` is a LIKE.
    """
    def matching(column: sa.ColumnElement[str]) -> list[sa.ColumnElement[bool]]:
        conditions = [column != ""] if named_only else []
        if search.strip():
            conditions.append(column.ilike(like_pattern(search), escape="\\"))
        return conditions

    rest = scope if base is None else Scope(scope.tenant_id, base.key.end, scope.end)
    parts = [] if base is None else [customer_ranges.rows(base, *matching(customer_ranges.TOTALS.c.customer_id))]
    if base is None or rest.start < rest.end:
        if whole_days(scope, now):
            d = CustomerUsageDaily
            parts.append(sa.select(d.customer_id, *(getattr(d, name) for name in customer_ranges.MEASURES))
                         .where(*daily_where(rest), *matching(d.customer_id)))
        else:
            h = UsageHourly
            parts.append(sa.select(h.customer_id, h.calls, h.failed_calls,
                                   sa.case((h.priced.is_(False), h.calls), else_=0).label("unpriced_calls"),
                                   h.cost_nanos, h.input_tokens, h.output_tokens, h.latency_ms_sum,
                                   h.hour.label("first_seen"), h.hour.label("last_seen"))
                         .where(*hourly_where(rest, UsageHourly), *matching(h.customer_id)))
    return (parts[0] if len(parts) == 1 else sa.union_all(*parts)).subquery("customer_rows")


def by_customer(session: Session, scopes: Sequence[Scope], now: datetime, compute: Callable[..., T],
                search: str = "", named_only: bool = False) -> T:
    """``compute`` over each window's per-customer rows (one subquery per scope): from range bases where there
    are some, checked still in place after reading (else computed again from the rollups alone)."""
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
    ordering = (order.desc() if descending else order.asc(), c.customer_id)
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
