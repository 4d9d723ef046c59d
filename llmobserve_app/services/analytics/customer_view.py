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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

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
        while len(_decoded) > _KEPT:
            _decoded.popitem(last=False)
    return decoded


def combined(first: Values | None, second: Values) -> Values:
    """Two parts of one customer's window added: sums, earliest first call, latest last call."""
    if first is None:
        return second
    firsts = [moment for moment in (first[FIRST], second[FIRST]) if moment is not None]
    lasts = [moment for moment in (first[LAST], second[LAST]) if moment is not None]
    return (*(a + b for a, b in zip(first[:SUMS], second[:SUMS], strict=True)),
            min(firsts, default=None), max(lasts, default=None))


@dataclass
class View:
    """Per-customer totals of one window: the base's, and the customers with calls after it (``touched``,
    already combined with their base row). ``matching`` are the customers the search left (None: all)."""

    base: _Decoded
    touched: dict[str, Values]
    matching: set[str] | None
    named_only: bool

    def _kept(self, customer: str) -> bool:
        return (not self.named_only or customer != "") and (self.matching is None or customer in self.matching)

    def values(self, customer: str) -> Values | None:
        found = self.touched.get(customer)
        return found if found is not None else self.base.rows.get(customer)

    def page(self, key: str, descending: bool, limit: int, offset: int = 0) -> list[str]:
        """One page of customer ids ranked by ``key`` (a measure or ``customer_id``), ties by customer id."""
        wanted = offset + limit
        untouched: list[str] = []
        if wanted > 0:
            for customer in self.base.order(key, descending):  # their rank is their base row's
                if customer not in self.touched and self._kept(customer):
                    untouched.append(customer)
                    if len(untouched) == wanted:
                        break
        names = sorted({*untouched, *(customer for customer in self.touched if self._kept(customer))})
        if key == "customer_id":
            names.sort(reverse=descending)
        else:
            index = POSITION[key]
            names.sort(key=lambda name: self.values(name)[index], reverse=descending)  # type: ignore[index]
        return names[offset:offset + limit]

    def totals(self) -> tuple[int, int, int]:
        """(customers, cost, calls) of the window the search and ``named_only`` leave."""
        if self.matching is not None:
            kept = [self.values(customer) for customer in self.customers()]
            return len(kept), sum(v[COST] for v in kept), sum(v[CALLS] for v in kept)  # type: ignore[index]
        count, cost, calls = self.base.totals(self.named_only)
        for customer, values in self.touched.items():  # their base rows (if any) replaced by the combined ones
            if not self._kept(customer):
                continue
            before = self.base.rows.get(customer)
            if before is None:
                count += 1
            else:
                cost, calls = cost - before[COST], calls - before[CALLS]
            cost, calls = cost + values[COST], calls + values[CALLS]
        return count, cost, calls

    def customers(self) -> Iterable[str]:
        """Every customer of the window the search and ``named_only`` leave, in no particular order."""
        yield from (customer for customer in self.touched if self._kept(customer))
        yield from (customer for customer in self.base.rows if customer not in self.touched and self._kept(customer))


def _open_rows(session: Session, scope: Scope, base: customer_ranges.Base,
               matching: Callable[[sa.ColumnElement[str]], list[sa.ColumnElement[bool]]]) -> dict[str, Values]:
    """Per customer, the window's calls after the base: the hourly rollup's sums; first/last call exact from
    the daily rollup after a ``dayhour`` base, to the hour after an ``hour`` one."""
    h, d = UsageHourly, CustomerUsageDaily
    start = base.key.end
    unpriced = sa.func.sum(sa.case((h.priced.is_(False), h.calls), else_=0))
    sums = [sa.func.sum(h.calls), sa.func.sum(h.failed_calls), unpriced, sa.func.sum(h.cost_nanos),
            sa.func.sum(h.input_tokens), sa.func.sum(h.output_tokens), sa.func.sum(h.latency_ms_sum)]
    found: dict[str, Values] = {}
    if base.key.grain == customer_ranges.HOUR:
        query = (sa.select(h.customer_id, *sums, sa.func.min(h.hour), sa.func.max(h.hour))
                 .where(h.tenant_id == scope.tenant_id, h.hour >= start, h.hour < scope.end, *matching(h.customer_id))
                 .group_by(h.customer_id))
        for customer, *values in session.execute(query):
            found[customer] = (*(int(value or 0) for value in values[:SUMS]), values[SUMS], values[SUMS + 1])
        return found
    # After a dayhour base, as the daily rollup counts: to the end of the window's last day, named customers.
    last_day = day_floor(scope.end - timedelta(microseconds=1))
    query = (sa.select(h.customer_id, *sums)
             .where(h.tenant_id == scope.tenant_id, h.hour >= start, h.hour < last_day + timedelta(days=1),
                    h.customer_id != "", *matching(h.customer_id))
             .group_by(h.customer_id))
    for customer, *values in session.execute(query):
        found[customer] = (*(int(value or 0) for value in values), None, None)
    # A call at or after the base's end is in its day's row with last_seen >= the end (the day's covering
    # index, read in order: no lookup per customer).
    seen = (sa.select(d.customer_id, d.first_seen, d.last_seen)
            .where(d.tenant_id == scope.tenant_id, d.day >= day_floor(start), d.day <= last_day,
                   d.last_seen >= start, *matching(d.customer_id)))
    nothing = (0,) * SUMS
    for customer, first_seen, last_seen in session.execute(seen):
        found[customer] = combined(found.get(customer), (*nothing, first_seen, last_seen))
    return found


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

    opened = _open_rows(session, scope, base, matching) if base.key.end < scope.end else {}
    touched = {customer: combined(decoded.rows.get(customer), values) for customer, values in opened.items()}
    found: set[str] | None = None
    if search.strip():  # the database's LIKE decides, as on every other path
        t = customer_ranges.TOTALS.c
        found = set(session.execute(sa.select(t.customer_id).where(
            *base.key.where(customer_ranges.TOTALS), *matching(t.customer_id))).scalars()) | touched.keys()
    return View(decoded, touched, found, named_only)
