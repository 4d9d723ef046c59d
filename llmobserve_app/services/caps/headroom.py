"""The after-batch check answered from memory while no cap can have reached a new level.

An exact evaluation (``checks.check``) is several queries and a few milliseconds per batch: as much CPU as
the rest of ingest. So after one, this process keeps per cap — and per customer for ``customer:*`` — the
ROOM left before the cap's next level (its threshold, then its limit): level − spend. Each later batch THIS
process stores subtracts its own cost from the rooms of the scopes it falls in (only events inside the
cap's current period count; an unpriced event costs nothing). While every room stays above zero no level can
have been reached: no alert is due and no block changed, so the reply is the blocked list of the last exact
evaluation, with no SQL at all. When a room reaches zero — or the memory may not describe the database — the
exact evaluation runs (it alone fires alerts, through the database's unique key, as before) and the memory
starts again from its result.

The memory answers only while all of these hold; otherwise the batch is evaluated exactly:

- This process is the only one storing ingest batches for the database (``ingest.writers.alone``: a file lock
  every ingest process of a SQLite file holds from before its first batch). Never on PostgreSQL, whose
  other workers and machines this process cannot see: there every batch is evaluated exactly, as the
  crossing batch's reply must carry the block whichever process stored the batches before it.
- Nothing else changed spend since (``ingest.writers.stamp``: demo data and scripts through
  ``ingest_events``, a price recalculation and a rollup rebuild write a new stamp when they commit).
- The caps are the ones evaluated (``enabled_caps`` re-reads them every second, and at once after a change
  in this process): a raised, disabled or deleted cap lifts its block at the next reply.
- No period of a cap has ended since the evaluation (a block lifts at the next reply of the new period),
  and the clock did not go back before it.
- It is younger than ``MAX_AGE_SECONDS``: a bound on anything the signals above cannot see.

A ``customer:*`` cap keeps a room per customer the evaluation asked about (the batches' customers and those
it already blocks), and for every other customer the room left by the whole account's spend in the period
(no customer spent more than all of them together): an account whose total is far below the cap's threshold
answers from memory whatever customers its batches name; otherwise a customer it does not know makes the
evaluation exact (as before this memory).

Overestimates — a duplicate event that was not stored again, a batch both in the evaluation and subtracted
after it — only make an evaluation exact sooner.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from llmobserve_app.services.caps.evaluation import CapStatus, Snapshot
from llmobserve_app.services.caps.periods import period_bounds
from llmobserve_app.services.caps.rules import CapRule
from llmobserve_app.services.caps.touched import agents_in
from llmobserve_app.services.ingest.rows import COLUMN, STARTED, sqlite_time

MAX_AGE_SECONDS = 1.0
INFINITE = 1 << 62  # the room of a cap past its limit: no level left to fire this period
_COST, _PROVIDER, _MODEL, _SECTION, _CUSTOMER = (COLUMN[name] for name in (
    "cost_nanos", "provider", "model", "section_path", "customer_id"))
EVERY = "every"  # the scope of a room kept for one customer of a ``customer:*`` cap
Key = tuple[str, str, str]  # (scope, value, period): value '' for global, the customer for EVERY
_agents = lru_cache(maxsize=4096)(lambda section: tuple(sorted(agents_in(section))))


def room_of(rule: CapRule, spend_nanos: int) -> int:
    """Nano-dollars ``rule`` can still take before its next level fires (INFINITE past its limit)."""
    if spend_nanos < rule.threshold_nanos:
        return rule.threshold_nanos - spend_nanos
    if spend_nanos < rule.limit_nanos:
        return rule.limit_nanos - spend_nanos
    return INFINITE


@dataclass(frozen=True)
class _Period:
    name: str
    start: datetime
    end: datetime
    start_text: str  # the bounds as SQLite event rows hold times (naive UTC text)
    end_text: str

    def holds(self, started: Any) -> bool:
        if type(started) is str:
            return self.start_text <= started < self.end_text
        if started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        return self.start <= started < self.end


class Headroom:
    """What one exact evaluation of a tenant left to spend, minus the batches stored since. Used and changed
    only inside the tenant's after-batch rounds (``checks.Coalescer``), which never overlap.

    Rooms are kept one by one only when small (``room``): the others, per period, as one ``slack`` — their
    smallest — that every event of the period spends, whatever its scope (an event spends at most its cost
    from any one cap). So a batch that nears no cap costs one pass summing its cost, and only the caps near a
    level are followed scope by scope."""

    def __init__(self, rules: tuple[CapRule, ...], blocked: list[dict[str, Any]], now: datetime, stamp: bytes,
                 room: dict[Key, int], slack: dict[str, int], ceiling: dict[str, int],
                 known: dict[str, frozenset[str]]) -> None:
        self.rules = rules
        self.blocked = blocked
        self.now = now
        self.stamp = stamp
        self.room = room  # the small rooms, one by one
        self.slack = slack  # period → the smallest of the other rooms
        self.ceiling = ceiling  # period → room of the account's whole spend, for customer:* caps' other customers
        self.known = known  # period → the customers whose customer:* rooms are kept (in ``room`` or ``slack``)
        self.absorbed = 0  # cost of the batches taken (how much the next memory may expect in its life)
        self.seeded_at = time.monotonic()
        self.periods = []
        for name in sorted({rule.period for rule in rules}):
            start, end = period_bounds(name, now)
            self.periods.append(_Period(name, start, end, sqlite_time(start), sqlite_time(end)))
        self.until = min(period.end for period in self.periods)
        # Where every period holds an event (nearly always: events just made): one test instead of one each.
        start = max(period.start for period in self.periods)
        self.inner = _Period("", start, self.until, sqlite_time(start), sqlite_time(self.until))
        self.everywhere = (True,) * len(self.periods)
        self.followed = {scope: frozenset(value for kind, value, _ in room if kind in kinds)
                         for scope, kinds in (("provider", {"provider"}), ("model", {"model"}),
                                              ("agent", {"agent"}), ("customer", {"customer", EVERY}))}

    def fresh(self, rules: Sequence[CapRule], now: datetime, stamp: bytes) -> bool:
        """Whether this memory still describes the tenant's caps (see the module docstring)."""
        return ((rules is self.rules or tuple(rules) == self.rules) and self.now <= now < self.until
                and stamp == self.stamp and time.monotonic() - self.seeded_at < MAX_AGE_SECONDS)

    def take(self, batches: Sequence[Sequence[tuple[Any, ...]]]) -> bool:
        """Subtract the batches' cost from the rooms; False when some cap may have reached a level (the rooms
        are then partly spent: the caller evaluates exactly and replaces this memory)."""
        # The hot loop: events in every period (nearly all: events just made) stored as SQLite text, summed
        # inline; any other event (an earlier period, a datetime) is set aside for ``_sums``.
        start_text, end_text = self.inner.start_text, self.inner.end_text
        providers, models, agents, customers = (self.followed[scope]
                                                for scope in ("provider", "model", "agent", "customer"))
        total = 0
        by_provider: dict[str, int] = {}
        by_model: dict[str, int] = {}
        by_section: dict[str, int] = {}
        by_customer: dict[str, int] = {}
        elsewhere: list[tuple[Any, ...]] = []
        for rows in batches:
            for row in rows:
                cost = row[_COST]
                if not cost:
                    continue  # unpriced (None) or free: no spend
                started = row[STARTED]
                if type(started) is not str or not start_text <= started < end_text:
                    elsewhere.append(row)
                    continue
                total += cost
                if providers and (key := row[_PROVIDER]) in providers:
                    by_provider[key] = by_provider.get(key, 0) + cost
                if models and (key := row[_MODEL] or "") in models:
                    by_model[key] = by_model.get(key, 0) + cost
                if agents and (key := row[_SECTION]):
                    by_section[key] = by_section.get(key, 0) + cost
                if customers and (key := row[_CUSTOMER]) in customers:
                    by_customer[key] = by_customer.get(key, 0) + cost
        groups = self._sums(elsewhere) if elsewhere else {}
        if total:
            groups[self.everywhere] = self._merged(groups.get(self.everywhere),
                                                   [total, by_provider, by_model, by_section, by_customer])
        self.absorbed += sum(sums[0] for sums in groups.values())
        ok = True
        for where, sums in groups.items():
            for period, inside in zip(self.periods, where, strict=True):
                if inside:
                    ok = self._take_period(period.name, *sums) and ok
        if ok and any(self.ceiling[period] <= 0 for period in self.ceiling):
            ok = self._only_known_customers(batches)
        return ok

    def _sums(self, rows: list[tuple[Any, ...]]) -> dict[tuple[bool, ...], list[Any]]:
        """The rows' cost per set of periods holding them: [total, per provider, model, section, customer]."""
        groups: dict[tuple[bool, ...], list[Any]] = {}
        for row in rows:
            where = tuple(period.holds(row[STARTED]) for period in self.periods)
            cost = row[_COST]
            sums = groups.setdefault(where, [0, {}, {}, {}, {}])
            sums[0] += cost
            for index, key in ((1, row[_PROVIDER]), (2, row[_MODEL] or ""), (3, row[_SECTION]),
                               (4, row[_CUSTOMER])):
                if key or index == 2:  # a model cap can name the model '' (calls without one)
                    sums[index][key] = sums[index].get(key, 0) + cost
        return groups

    @staticmethod
    def _merged(one: list[Any] | None, other: list[Any]) -> list[Any]:
        if one is None:
            return other
        merged = [one[0] + other[0]]
        for mine, theirs in zip(one[1:], other[1:], strict=True):
            both = dict(mine)
            for key, cost in theirs.items():
                both[key] = both.get(key, 0) + cost
            merged.append(both)
        return merged

    def _take_period(self, period: str, total: int, by_provider: dict[str, int], by_model: dict[str, int],
                     by_section: dict[str, int], by_customer: dict[str, int]) -> bool:
        room = self.room
        ok = True
        if period in self.slack:
            self.slack[period] -= total
            ok = self.slack[period] > 0
        if period in self.ceiling:
            self.ceiling[period] -= total  # (checked once all periods are taken: ``_only_known_customers``)

        def spend(key: Key, cost: int) -> None:
            nonlocal ok
            left = room.get(key)
            if left is not None:
                room[key] = left = left - cost
                if left <= 0:
                    ok = False

        spend(("global", "", period), total)
        for provider, cost in by_provider.items():
            spend(("provider", provider, period), cost)
        for model, cost in by_model.items():
            spend(("model", model, period), cost)
        for section, cost in by_section.items():
            for agent in _agents(section):
                spend(("agent", agent, period), cost)
        for customer, cost in by_customer.items():
            spend(("customer", customer, period), cost)
            spend((EVERY, customer, period), cost)
        return ok

    def _only_known_customers(self, batches: Sequence[Sequence[tuple[Any, ...]]]) -> bool:
        """With the account's total near a ``customer:*`` threshold, a paying customer this memory does not
        know could have reached it: whether every customer that spent in such a period is known."""
        near = [period for period in self.periods if self.ceiling.get(period.name, 1) <= 0]
        for rows in batches:
            for row in rows:
                customer = row[_CUSTOMER]
                if customer and row[_COST] and any(period.holds(row[STARTED]) and customer not in
                                                   self.known[period.name] for period in near):
                    return False
        return True


def seed(rules: tuple[CapRule, ...], statuses: Sequence[CapStatus], snapshot: Snapshot, blocked: list[dict[str, Any]],
         now: datetime, stamp: bytes, small: int = INFINITE) -> Headroom | None:
    """The memory of an exact evaluation of EVERY one of ``rules`` (None when a cap has no status in it: its
    room would be unknown). Rooms up to ``small`` are followed one by one, the others as one slack per period
    (``small``: a few times what the last memory took in its life; any value is correct, this one is fast)."""
    rooms: dict[Key, int] = {}

    def keep(key: Key, rule: CapRule, spend_nanos: int) -> None:
        rooms[key] = min(rooms.get(key, INFINITE), room_of(rule, spend_nanos))

    ceiling: dict[str, int] = {}
    known: dict[str, frozenset[str]] = {}
    evaluated = {status.rule.id for status in statuses}
    for rule in rules:
        if not rule.every_customer:
            continue
        if rule.period not in snapshot.totals:
            return None
        reach = max(rule.threshold_nanos, 1)  # a customer not asked about is below it (else it is blocked
        # or already asked about): its next level is the threshold
        ceiling[rule.period] = min(ceiling.get(rule.period, INFINITE), reach - snapshot.totals[rule.period])
        asked = snapshot.customers.get(rule.period, {})
        known[rule.period] = frozenset(asked)
        for customer, spend_nanos in asked.items():
            keep((EVERY, customer, rule.period), rule, spend_nanos)
    for rule in rules:
        if not rule.every_customer and rule.id not in evaluated:
            return None
    for status in statuses:
        if not status.rule.every_customer:
            keep((status.rule.scope, status.rule.value, status.rule.period), status.rule, status.spend_nanos)
    room = {key: left for key, left in rooms.items() if left <= small}
    slack: dict[str, int] = {}
    for (_, _, period), left in rooms.items():
        if left > small:
            slack[period] = min(slack.get(period, INFINITE), left)
    return Headroom(rules, blocked, now, stamp, room, slack, ceiling, known)


class Headrooms:
    """This process's memory per (database, tenant)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, int], Headroom] = {}

    def pop(self, key: tuple[str, int]) -> Headroom | None:
        with self._lock:
            return self._entries.pop(key, None)

    def put(self, key: tuple[str, int], headroom: Headroom) -> None:
        with self._lock:
            if key not in self._entries and len(self._entries) >= self.size:
                oldest = time.monotonic() - MAX_AGE_SECONDS  # never fresh again: only an exact check follows
                self._entries = {held: entry for held, entry in self._entries.items() if entry.seeded_at > oldest}
                if len(self._entries) >= self.size:
                    self._entries.clear()
            self._entries[key] = headroom

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


headrooms = Headrooms()
