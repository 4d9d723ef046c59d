"""A cap's status now (ok / warning / exceeded / blocked), its projected date, and firing its alerts.

Status is worked out from the derived spend and the CURRENT cap row, so a raised, disabled or deleted cap
changes the status at the next evaluation, and a new period starts from zero with nothing to reset.

Firing inserts one ``cap_alerts`` row per level with INSERT … ON CONFLICT DO NOTHING on the unique key
(cap, period start, level, customer): any number of workers, threads or restarted jobs evaluating the same
crossing insert it once, and only the one that inserted it gets it back to notify.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.db import insert_for
from llmobserve_app.models import CapAlert
from llmobserve_app.services.caps.periods import period_bounds
from llmobserve_app.services.caps.rules import CapRule
from llmobserve_app.services.caps.spend import Bounds, Spend, closed_hours, customer_spends
from llmobserve_app.services.caps.touched import Touched

ALERTS = CapAlert.__table__
LEVELS = ("threshold", "exceeded")
STATUSES = ("ok", "warning", "exceeded", "blocked")


@dataclass(frozen=True)
class CapStatus:
    """One cap (for ``customer:*``: one customer of it) in the period holding ``now``."""

    rule: CapRule
    scope_value: str  # '' or, for a ``customer:*`` cap, the customer
    spend_nanos: int
    unpriced_calls: int
    period_start: datetime
    period_end: datetime
    status: str
    now: datetime

    @property
    def projected_at(self) -> datetime | None:
        """When the period's run-rate reaches the limit, if within the period."""
        return projected_at(self.spend_nanos, self.rule.limit_nanos, self.period_start, self.period_end, self.now)

    @property
    def levels(self) -> tuple[str, ...]:
        """The alert levels this spend has reached."""
        if self.spend_nanos >= self.rule.limit_nanos:
            return LEVELS
        return LEVELS[:1] if self.spend_nanos >= self.rule.threshold_nanos else ()

    @property
    def blocked_value(self) -> str:
        """The value the SDK matches for this block: the customer of a ``customer:*`` cap, else the cap's."""
        return self.scope_value or self.rule.value


def status_of(rule: CapRule, spend_nanos: int) -> str:
    if spend_nanos >= rule.limit_nanos:
        return "blocked" if rule.action == "block" else "exceeded"
    return "warning" if spend_nanos >= rule.threshold_nanos else "ok"


def projected_at(spend_nanos: int, limit_nanos: int, start: datetime, end: datetime,
                 now: datetime) -> datetime | None:
    """When spend reaches the limit at the period's run-rate so far (spend / time elapsed), if before ``end``."""
    elapsed = now - start
    if spend_nanos <= 0 or spend_nanos >= limit_nanos or elapsed.total_seconds() <= 0:
        return None
    elapsed_us = elapsed // timedelta(microseconds=1)
    if limit_nanos * elapsed_us >= spend_nanos * ((end - start) // timedelta(microseconds=1)):
        return None  # not before the period ends (checked in integers: the ratio can be huge)
    return start + timedelta(microseconds=limit_nanos * elapsed_us // spend_nanos)


def status_at(rule: CapRule, scope_value: str, spend: Spend, bounds: tuple[datetime, datetime],
            now: datetime) -> CapStatus:
    start, end = bounds
    return CapStatus(rule, scope_value, spend.cost_nanos, spend.unpriced_calls, start, end,
                     status_of(rule, spend.cost_nanos), now)


def _exceeded_customers(session: Session, rules: Sequence[CapRule], now: datetime) -> dict[int, set[str]]:
    """The customers each ``customer:*`` block cap already fired ``exceeded`` for in its current period: the
    candidates still blocked though this batch did not touch them (re-checked against spend and limit)."""
    if not rules:
        return {}
    starts = {rule.id: period_bounds(rule.period, now)[0] for rule in rules}
    query = sa.select(ALERTS.c.cap_id, ALERTS.c.period_start, ALERTS.c.scope_value).where(
        ALERTS.c.cap_id.in_(sorted(starts)), ALERTS.c.level == "exceeded",
        ALERTS.c.period_start >= min(starts.values()))
    found: dict[int, set[str]] = defaultdict(set)
    for cap_id, period_start, scope_value in session.execute(query):
        if period_start == starts[cap_id]:
            found[cap_id].add(scope_value)
    return found


@dataclass
class Snapshot:
    """What an evaluation read besides the statuses, for ``headroom`` to keep: per period, the account's
    whole priced spend (an upper bound of any one customer's) and the spend of each customer it asked about."""

    totals: dict[str, int] = field(default_factory=dict)
    customers: dict[str, dict[str, int]] = field(default_factory=dict)


def evaluate(session: Session, rules: Iterable[CapRule], now: datetime,
             touched: Touched | None = None, snapshot: Snapshot | None = None) -> list[CapStatus]:
    """The status of ``rules`` (enabled or not) at ``now``.

    With ``touched`` (after an ingest batch): only the caps on scopes the batch touched, plus every ``block``
    cap (the reply carries the full blocked list); a ``customer:*`` cap is evaluated for the batch's customers
    and, if it blocks, for those it already fired ``exceeded`` for. Without it (catch-up job, status poll):
    everything. A ``customer:*`` cap yields one status per customer at or over its threshold (none when no
    customer is near): below it there is nothing to fire or block. ``snapshot`` is filled when given.
    """
    rules = [rule for rule in rules if touched is None or rule.action == "block" or touched.touches(rule)]
    if not rules:
        return []
    tenant_id = rules[0].tenant_id
    bounds = {period: period_bounds(period, now) for period in {rule.period for rule in rules}}
    statuses: list[CapStatus] = []
    scopes = {rule.scope for rule in rules}
    if scopes - {"customer"} or snapshot is not None:
        spends = closed_hours.spends(session, tenant_id, bounds, now, providers="provider" in scopes,
                                     models="model" in scopes, agents="agent" in scopes)
        statuses += [status_at(rule, "", spends[rule.period].of(rule.scope, rule.value), bounds[rule.period], now)
                     for rule in rules if rule.scope != "customer"]
        if snapshot is not None:
            snapshot.totals = {period: spends[period].total.cost_nanos for period in bounds}
    customer_rules = [rule for rule in rules if rule.scope == "customer"]
    if customer_rules:
        statuses += _customer_statuses(session, customer_rules, bounds, now, touched, snapshot)
    return statuses


def _customer_statuses(session: Session, rules: list[CapRule], bounds: Bounds, now: datetime,
                       touched: Touched | None, snapshot: Snapshot | None) -> list[CapStatus]:
    every = [rule for rule in rules if rule.every_customer]
    candidates = (_exceeded_customers(session, [rule for rule in every if rule.action == "block"], now)
                  if touched is not None else {})
    named = {rule.value for rule in rules if not rule.every_customer}
    at_least: dict[str, int] = {}
    if every and touched is None:
        for rule in every:
            at_least[rule.period] = min(at_least.get(rule.period, rule.threshold_nanos), rule.threshold_nanos)
    elif every:
        named |= touched.customers
        named = named.union(*(candidates.get(rule.id, ()) for rule in every))
    spends = customer_spends(session, rules[0].tenant_id, bounds, customers=named, at_least=at_least)
    if snapshot is not None:
        snapshot.customers = {period: {**dict.fromkeys(named, 0),  # asked, nothing spent: zero
                                       **{customer: spend.cost_nanos for customer, spend in by_customer.items()}}
                              for period, by_customer in spends.items()}
    statuses: list[CapStatus] = []
    for rule in rules:
        period_spends = spends[rule.period]
        if not rule.every_customer:
            statuses.append(status_at(rule, "", period_spends.get(rule.value, Spend()), bounds[rule.period], now))
            continue
        reach = max(rule.threshold_nanos, 1)  # below it a customer has no level to fire and no block
        wanted = None if touched is None else touched.customers | candidates.get(rule.id, set())
        statuses += [status_at(rule, customer, spend, bounds[rule.period], now)
                     for customer, spend in sorted(period_spends.items())
                     if (wanted is None or customer in wanted) and spend.cost_nanos >= reach]
    return statuses


def fire(session: Session, statuses: Iterable[CapStatus], now: datetime,
         already_fired: Container[tuple[int, datetime, str, str]] | None = None) -> list[CapAlert]:
    """Insert the alert of every level the enabled caps' statuses reached, at most once per (cap, period,
    level, customer) whoever else fires it; return the alerts THIS call inserted (the ones to notify).

    ``already_fired`` is an optional memo of keys known to be in the table (a process keeps one so a cap over
    its limit does not cost an INSERT per batch; add ``alert_keys`` to it after the commit); the database's
    unique key is what guarantees once."""
    insert = insert_for(session.get_bind().dialect.name)
    fired: list[CapAlert] = []
    for status in statuses:
        if not status.rule.enabled:
            continue
        for level in status.levels:
            key = (status.rule.id, status.period_start, level, status.scope_value)
            if already_fired is not None and key in already_fired:
                continue
            alert = CapAlert(tenant_id=status.rule.tenant_id, cap_id=status.rule.id, level=level,
                             period_start=status.period_start, scope_value=status.scope_value,
                             spend_nanos=status.spend_nanos, limit_nanos=status.rule.limit_nanos, created_at=now)
            values = alert.model_dump(exclude={"id"})
            statement = (insert(ALERTS).values(**values)
                         .on_conflict_do_nothing(index_elements=["cap_id", "period_start", "level", "scope_value"])
                         .returning(ALERTS.c.id))
            new_id = session.execute(statement).scalar()
            if new_id is not None:
                alert.id = new_id
                fired.append(alert)
    return fired


def alert_keys(statuses: Iterable[CapStatus]) -> set[tuple[int, datetime, str, str]]:
    """The alert keys ``statuses`` reach: what a memo may remember once the firing transaction committed."""
    return {(status.rule.id, status.period_start, level, status.scope_value)
            for status in statuses if status.rule.enabled for level in status.levels}
