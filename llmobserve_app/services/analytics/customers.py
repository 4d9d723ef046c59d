"""/customers: the searchable, sortable customers table and the global filter's customer search."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.models import CustomerUsageDaily, UsageHourly, utcnow
from llmobserve_app.services.analytics import customer_view
from llmobserve_app.services.analytics.per_customer import Source, binary_order, by_customer, in_order, sums_of
from llmobserve_app.services.analytics.scope import Scope, hourly_where, like_pattern

CUSTOMER_SORTS = ("cost", "calls", "customer", "last_seen", "avg_latency")
_VIEW_SORTS = {"cost": "cost_nanos", "calls": "calls", "last_seen": "last_seen", "customer": "customer_id"}
_PAGE_VALUES = [customer_view.POSITION[name] for name in ("cost_nanos", "calls", "latency_ms_sum", "first_seen",
                                                         "last_seen")]


@dataclass(frozen=True)
class CustomerRow:
    customer_id: str
    cost_nanos: int
    calls: int
    latency_ms_sum: int
    providers: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime

    @property
    def average_cost_nanos(self) -> int:
        return self.cost_nanos // self.calls if self.calls else 0

    @property
    def average_latency_ms(self) -> float:
        return self.latency_ms_sum / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class CustomerPage:
    rows: list[CustomerRow]
    total_customers: int
    total_cost_nanos: int
    total_calls: int

    @property
    def average_cost_per_customer_nanos(self) -> int:
        return self.total_cost_nanos // self.total_customers if self.total_customers else 0


def _providers_of(session: Session, scope: Scope, customers: list[str]) -> dict[str, tuple[str, ...]]:
    """Providers each listed customer used in the window (only the customers of one page are asked)."""
    if not customers:
        return {}
    query = (sa.select(UsageHourly.customer_id, UsageHourly.provider)
             .where(*hourly_where(Scope(scope.tenant_id, scope.start, scope.end), UsageHourly),
                    UsageHourly.customer_id.in_(customers))
             .group_by(UsageHourly.customer_id, UsageHourly.provider))
    found: dict[str, set[str]] = defaultdict(set)
    for customer, provider in session.execute(query).all():
        found[customer].add(provider)
    return {customer: tuple(sorted(providers)) for customer, providers in found.items()}


def customers_page(session: Session, scope: Scope, search: str = "", sort: str = "cost", descending: bool = True,
                   page: int = 0, page_size: int = 25, now: datetime | None = None) -> CustomerPage:
    """One page of the customers table, searched, sorted and paged in the database.

    Whole-day windows read the narrow daily rollup (exact first/last call times); others the hourly one
    (first/last seen to the hour).
    """
    if sort not in CUSTOMER_SORTS:
        raise ValueError(f"sort must be one of {', '.join(CUSTOMER_SORTS)}")

    def compute(source: Source) -> tuple[list, tuple[int, int, int]]:
        rows = source.rows
        c = rows.c
        cost, calls, latency = sa.func.sum(c.cost_nanos), sa.func.sum(c.calls), sa.func.sum(c.latency_ms_sum)
        last_seen = sa.func.max(c.last_seen)
        columns = [cost, calls, latency, sa.func.min(c.first_seen), last_seen]
        view = source.view(session) if sort in _VIEW_SORTS else None
        if view is not None:  # ranked in memory from the range base and the open part
            customers = view.page(_VIEW_SORTS[sort], descending, page_size, max(page, 0) * page_size)
            values = view.values_of(customers)
            return [(customer, *(values[customer][index] for index in _PAGE_VALUES)) for customer in customers], \
                view.totals()
        key = {"cost": cost, "calls": calls, "customer": c.customer_id, "last_seen": last_seen,
               "avg_latency": latency / sa.func.nullif(calls, 0)}[sort]
        # One GROUP BY serves the page's ranking and the totals (the CTE is read twice, summed once); the page's
        # other sums are read for its customers only (see ranked).
        per_customer = (sa.select(c.customer_id, cost.label("cost"), calls.label("calls"), key.label("sort_key"))
                        .group_by(c.customer_id).cte("per_customer"))
        p = per_customer.c
        ordering = (p.sort_key.desc() if descending else p.sort_key.asc(), binary_order(session, p.customer_id))
        page_rows = (sa.select(p.customer_id, p.sort_key).order_by(*ordering)
                     .limit(page_size).offset(max(page, 0) * page_size).subquery("page_rows"))
        q = page_rows.c
        ranked = in_order(page_rows, q.sort_key.desc() if descending else q.sort_key.asc(),
                          binary_order(session, q.customer_id)).subquery()
        none = sa.cast(sa.null(), sa.BigInteger)
        found = session.execute(sa.union_all(
            sa.select(ranked.c.customer_id, ranked.c.position, none, none, none),
            sa.select(sa.cast(sa.null(), sa.String), none, sa.func.count(), sa.func.sum(p.cost), sa.func.sum(p.calls)),
        )).all()
        summary = next(row[2:] for row in found if row.customer_id is None)
        customers = [row.customer_id for row in sorted(found, key=lambda row: row.position or 0) if row.customer_id]
        return sums_of(session, rows, columns, customers), summary

    found, (count, total_cost, total_calls) = by_customer(session, [scope], now or utcnow(), compute, search,
                                                          named_only=True)
    providers = _providers_of(session, scope, [row[0] for row in found])
    rows = [CustomerRow(customer, int(c or 0), int(n or 0), int(lat or 0), providers.get(customer, ()), first, last)
            for customer, c, n, lat, first, last in found]
    return CustomerPage(rows, int(count or 0), int(total_cost or 0), int(total_calls or 0))


def customer_ids(session: Session, tenant_id: int, search: str = "", limit: int = 20) -> list[str]:
    """Customer ids for the global filter's search box (most recently active first)."""
    d = CustomerUsageDaily
    conditions = [d.tenant_id == tenant_id]
    if search.strip():
        conditions.append(d.customer_id.ilike(like_pattern(search), escape="\\"))
    query = (sa.select(d.customer_id).where(*conditions).group_by(d.customer_id)
             .order_by(sa.func.max(d.day).desc(), d.customer_id).limit(limit))
    return list(session.execute(query).scalars())
