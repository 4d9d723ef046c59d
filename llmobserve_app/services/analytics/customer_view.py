"""A window's per-customer totals as a request ranks them: its range base decoded once into process memory,
plus the open part after the base (the last hour or so) read live and merged in Python.

Ranking every customer in SQL costs a GROUP BY over the base's ~10k rows and the open part's, or one index
lookup per customer of the open part (~10 µs each on a busy 2-core machine): 30-90 ms a page at 1M events.
A base never changes under one build id (services/customer_ranges.py), so its rows are read once per build
and process (one sequential scan), kept by build id, and each request only reads the open part (~1k rows).
Readers still check the base is in place after reading (``per_customer.by_customer``).

Ties are broken by customer id in code point order (Python's, and ``per_customer.binary_order``'s).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.models import CustomerUsageDaily, UsageHourly
from llmobserve_app.services import customer_ranges
from llmobserve_app.services.analytics.scope import Scope, like_pattern
from llmobserve_app.services.time_range import day_floor

MEASURES = customer_ranges.MEASURES  # calls … latency_ms_sum (sums), then first_seen, last_seen
SUMS = len(MEASURES) - 2
POSITION = {name: index for index, name in enumerate(MEASURES)}
FIRST, LAST, COST, CALLS = (POSITION[name] for name in ("first_seen", "last_seen", "cost_nanos", "calls"))
Values = tuple  # one customer's MEASURES
NOTHING: Values = (0,) * SUMS + (None, None)
COST_ROW_VALUES = tuple(POSITION[name] for name in ("cost_nanos", "calls", "unpriced_calls", "failed_calls",
                                                    "input_tokens", "output_tokens"))  # a CostRow's, in order

_KEPT = 8  # decoded bases per process (~10k customers, a few MiB each)
# and customer rows in all of them (~350 bytes each with their rankings: ~35 MiB): without it the memory would grow
# with a tenant's customers (8 bases of 100k customers: ~300 MiB). The newest base is always kept.
_KEPT_ROWS = 100_000


@dataclass
class _Decoded:
    key: tuple  # (database, range key, build id)
    rows: dict[str, Values]
    orders: dict[tuple, list] = field(default_factory=dict)  # rankings, totals, movers: once computed
    lock: threading.Lock = field(default_factory=threading.Lock)

    def totals(self, named_only: bool) -> tuple[int, int, int]:
        """(customers, cost, calls) of every row (but the no-customer ``''`` one when ``named_only``)."""
        with self.lock:
            found = self.orders.get(("totals", named_only))
            if found is None:
                kept = [values for customer, values in self.rows.items() if customer or not named_only]
                found = [len(kept), sum(values[COST] for values in kept), sum(values[CALLS] for values in kept)]
                self.orders["totals", named_only] = found
            return found[0], found[1], found[2]

    def order(self, key: str, descending: bool) -> list[str]:
        """Every customer of the base ranked by ``key`` (a measure or ``customer_id``), ties by customer id
        ascending; computed on first use."""
        with self.lock:
            found = self.orders.get((key, descending))
            if found is None:
                names = sorted(self.rows)
                if key == "customer_id":
                    found = names[::-1] if descending else names
                else:
                    index = POSITION[key]
                    found = sorted(names, key=lambda name: self.rows[name][index], reverse=descending)  # stable
                self.orders[key, descending] = found
            return found

    def movers_against(self, other: _Decoded) -> list[tuple[str, int, int]]:
        """Every named customer whose cost differs between this base and ``other``, as (customer, cost here,
        cost there), most changed first, ties by customer id; computed once per pair of builds."""
        with self.lock:
            found = self.orders.get(("movers", other.key))
            if found is None:
                names = (self.rows.keys() | other.rows.keys()) - {""}
                costs = [(name, (self.rows.get(name) or NOTHING)[COST], (other.rows.get(name) or NOTHING)[COST])
                         for name in names]
                found = sorted((row for row in costs if row[1] != row[2]),
                               key=lambda row: (-abs(row[1] - row[2]), row[0]))
                self.orders["movers", other.key] = found
            return found


_decoded: OrderedDict[tuple, _Decoded] = OrderedDict()
_decoded_lock = threading.Lock()


def _decode(session: Session, base: customer_ranges.Base) -> _Decoded | None:
    """The base's rows by customer, read once per build id and process; None when it was rebuilt or evicted
    while being read."""
    key = (str(session.get_bind().url), base.key, base.build_id)
    with _decoded_lock:
        found = _decoded.get(key)
        if found is not None:
            _decoded.move_to_end(key)
            return found
    rows = {customer: tuple(values) for customer, *values in session.execute(customer_ranges.rows(base))}
    if not customer_ranges.still_valid(session, base):
        return None
    decoded = _Decoded(key, rows)
    with _decoded_lock:
        _decoded[key] = decoded
        while len(_decoded) > _KEPT or (
                len(_decoded) > 1 and sum(len(kept.rows) for kept in _decoded.values()) > _KEPT_ROWS):
            _decoded.popitem(last=False)
    return decoded


Seen = dict[str, tuple[datetime, datetime]]  # customer → first and last call after the base


@dataclass
class View:
    """Per-customer totals of one window: the base's, plus ``opened`` — the sums of the customers with calls
    after it. ``matching``: the customers the search left (None: all). First/last call times of the opened
    customers are read only when asked (``seen_of``: all of them for a ranking by last seen, else a page's).

    Per request the work is bounded by the opened customers (~1k at 1M events), each one a few integer
    additions; a base customer is only looked at while walking its precomputed ranking.
    """

    base: _Decoded
    opened: dict[str, tuple[int, ...]]
    matching: set[str] | None
    named_only: bool
    seen_of: Callable[[list[str] | None], Seen]
    _seen: Seen | None = None

    def _kept(self, customer: str) -> bool:
        return (not self.named_only or customer != "") and (self.matching is None or customer in self.matching)

    def _seen_all(self) -> Seen:
        if self._seen is None:
            self._seen = self.seen_of(None)
        return self._seen

    def _value(self, customer: str, key: str, index: int):
        """``key`` (at ``index``) of an opened customer over the whole window."""
        before = self.base.rows.get(customer)
        if key == "last_seen":
            last = self._seen_all()[customer][1]
            return last if before is None else max(last, before[LAST])
        return (0 if before is None else before[index]) + self.opened[customer][index]

    def page(self, key: str, descending: bool, limit: int, offset: int = 0) -> list[str]:
        """One page of customer ids ranked by ``key`` (a measure or ``customer_id``), ties by customer id."""
        wanted = offset + limit
        untouched: list[str] = []
        if wanted > 0:
            for customer in self.base.order(key, descending):  # their rank is their base row's
                if customer not in self.opened and self._kept(customer):
                    untouched.append(customer)
                    if len(untouched) == wanted:
                        break
        names = sorted([*untouched, *(customer for customer in self.opened if self._kept(customer))])
        if key == "customer_id":
            names.sort(reverse=descending)
            return names[offset:offset + limit]
        index = POSITION[key]
        rows = self.base.rows
        value = {customer: self._value(customer, key, index) for customer in self.opened if self._kept(customer)}
        names.sort(key=lambda name: value[name] if name in value else rows[name][index], reverse=descending)
        return names[offset:offset + limit]

    def values_of(self, customers: list[str]) -> dict[str, Values]:
        """Every measure of the listed customers over the whole window (those of the window only)."""
        opened = [customer for customer in customers if customer in self.opened]
        seen = self._seen if self._seen is not None else (self.seen_of(opened) if opened else {})
        found: dict[str, Values] = {}
        for customer in customers:
            before = self.base.rows.get(customer)
            if customer not in self.opened:
                if before is not None:
                    found[customer] = before
                continue
            first, last = seen[customer]
            sums = self.opened[customer]
            if before is not None:
                sums = tuple(a + b for a, b in zip(before[:SUMS], sums, strict=True))
                first, last = min(first, before[FIRST]), max(last, before[LAST])
            found[customer] = (*sums, first, last)
        return found

    def cost_of(self, customer: str) -> int:
        """One customer's cost over the window (0 when it has none)."""
        if customer in self.opened:
            return self._value(customer, "cost_nanos", COST)
        return (self.base.rows.get(customer) or NOTHING)[COST]

    def totals(self) -> tuple[int, int, int]:
        """(customers, cost, calls) of the window the search and ``named_only`` leave."""
        rows = self.base.rows
        if self.matching is None:
            count, cost, calls = self.base.totals(self.named_only)
        else:
            kept = [rows[customer] for customer in self.matching if customer in rows and self._kept(customer)]
            count, cost, calls = len(kept), sum(v[COST] for v in kept), sum(v[CALLS] for v in kept)
        for customer, sums in self.opened.items():  # the base's totals plus what came after
            if self._kept(customer):
                count += customer not in rows
                cost, calls = cost + sums[COST], calls + sums[CALLS]
        return count, cost, calls


def _open_sums(session: Session, scope: Scope, base: customer_ranges.Base,
               matching: Callable[[sa.ColumnElement[str]], list[sa.ColumnElement[bool]]]) -> dict[str, tuple[int, ...]]:
    """Per customer, the sums of the window's calls after the base (the hourly rollup's; after a ``dayhour``
    base to the end of the window's last day and named customers only, as the daily rollup counts)."""
    h = UsageHourly
    unpriced = sa.func.sum(sa.case((h.priced.is_(False), h.calls), else_=0))
    sums = [sa.func.sum(h.calls), sa.func.sum(h.failed_calls), unpriced, sa.func.sum(h.cost_nanos),
            sa.func.sum(h.input_tokens), sa.func.sum(h.output_tokens), sa.func.sum(h.latency_ms_sum)]
    if base.key.grain == customer_ranges.HOUR:
        where = [h.hour < scope.end]
    else:
        where = [h.hour < _last_day(scope) + timedelta(days=1), h.customer_id != ""]
    query = (sa.select(h.customer_id, *sums)
             .where(h.tenant_id == scope.tenant_id, h.hour >= base.key.end, *where, *matching(h.customer_id))
             .group_by(h.customer_id))
    return {customer: tuple(int(value or 0) for value in values)
            for customer, *values in session.execute(query).tuples()}


def _last_day(scope: Scope) -> datetime:
    return day_floor(scope.end - timedelta(microseconds=1))


def _seen_loader(session: Session, scope: Scope, base: customer_ranges.Base,
                 matching: Callable[[sa.ColumnElement[str]], list[sa.ColumnElement[bool]]]
                 ) -> Callable[[list[str] | None], Seen]:
    """First/last call after the base of its opened customers (all, or the listed ones): exact from the daily
    rollup after a ``dayhour`` base — a call at or after its end is in its day's row with last_seen >= the end,
    read from the day's covering index — and to the hour after an ``hour`` one."""
    h, d = UsageHourly, CustomerUsageDaily

    def load(customers: list[str] | None) -> Seen:
        listed = [] if customers is None else [customer_column.in_(customers)]
        found: Seen = {}
        if base.key.grain == customer_ranges.HOUR:
            query = (sa.select(h.customer_id, sa.func.min(h.hour), sa.func.max(h.hour))
                     .where(h.tenant_id == scope.tenant_id, h.hour >= base.key.end, h.hour < scope.end, *listed,
                            *matching(h.customer_id)).group_by(h.customer_id))
            return {customer: (first, last) for customer, first, last in session.execute(query).tuples()}
        query = (sa.select(d.customer_id, d.first_seen, d.last_seen)
                 .where(d.tenant_id == scope.tenant_id, d.day >= day_floor(base.key.end), d.day <= _last_day(scope),
                        d.last_seen >= base.key.end, *listed, *matching(d.customer_id)))
        for customer, first, last in session.execute(query).tuples():
            before = found.get(customer)
            found[customer] = (first, last) if before is None else (min(first, before[0]), max(last, before[1]))
        return found

    customer_column = h.customer_id if base.key.grain == customer_ranges.HOUR else d.customer_id
    return load


def view_of(session: Session, scope: Scope, base: customer_ranges.Base | None, search: str,
            named_only: bool) -> View | None:
    """The window's customers as one ``View``; None without a base, or when it changed while being read."""
    if base is None:
        return None
    decoded = _decode(session, base)
    if decoded is None:
        return None

    def matching(column: sa.ColumnElement[str]) -> list[sa.ColumnElement[bool]]:
        return [column.ilike(like_pattern(search), escape="\\")] if search.strip() else []

    opened = _open_sums(session, scope, base, matching) if base.key.end < scope.end else {}
    found: set[str] | None = None
    if search.strip():  # the database's LIKE decides, as on every other path
        t = customer_ranges.TOTALS.c
        found = set(session.execute(sa.select(t.customer_id).where(
            *base.key.where(customer_ranges.TOTALS), *matching(t.customer_id))).scalars()) | opened.keys()
    return View(decoded, opened, found, named_only, _seen_loader(session, scope, base, matching))
