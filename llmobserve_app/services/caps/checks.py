"""The entry points that evaluate caps: after an ingest batch, for the status poll, and the catch-up job.

Every firing goes through ``check``, in one transaction with the alerts it inserts and their notifications
(one outbox message per channel of the cap), so an alert and its messages commit together or not at all;
after the commit ``notifications.wake()`` starts sending them at once. After a batch, ``headroom`` answers
without evaluating while no cap can have reached a level (one writer process only: see there).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.db import session_scope
from llmobserve_app.models import Cap, CapAlert
from llmobserve_app.services import notifications
from llmobserve_app.services.caps import headroom
from llmobserve_app.services.caps.blocks import blocked_scopes
from llmobserve_app.services.caps.evaluation import CapStatus, Snapshot, alert_keys, evaluate, fire
from llmobserve_app.services.caps.headroom import headrooms
from llmobserve_app.services.caps.messages import alert_messages
from llmobserve_app.services.caps.registry import enabled_caps
from llmobserve_app.services.caps.rules import CapRule, select_rules
from llmobserve_app.services.caps.touched import Touched, merged, touched_by
from llmobserve_app.services.ingest import writers

_MEMO_LIMIT = 100_000
Item = TypeVar("Item")


class FiredMemo:
    """Alert keys this process knows are stored (after their commit): a cap over its limit then costs no
    INSERT per batch. Only an optimisation; the unique key in the database is the guarantee."""

    def __init__(self) -> None:
        self._keys: set[tuple[int, datetime, str, str]] = set()
        self._lock = threading.Lock()

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def remember(self, keys: Iterable[tuple[int, datetime, str, str]]) -> None:
        with self._lock:
            if len(self._keys) > _MEMO_LIMIT:
                self._keys.clear()
            self._keys.update(keys)


_memos: dict[str, FiredMemo] = {}
_memos_lock = threading.Lock()


def memo_for(engine: sa.Engine) -> FiredMemo:
    """This process's memo for one database (cap ids of two databases are unrelated)."""
    with _memos_lock:
        return _memos.setdefault(str(engine.url), FiredMemo())


USE_PROCESS_MEMO = FiredMemo()  # a marker: ``check`` then uses ``memo_for(engine)``


@dataclass
class CheckResult:
    statuses: list[CapStatus] = field(default_factory=list)
    fired: list[CapAlert] = field(default_factory=list)  # alerts inserted by this check: the ones to notify
    messages: list[dict[str, Any]] = field(default_factory=list)  # their outbox messages (``alert_messages``)
    blocked_list: list[dict[str, Any]] | None = None  # an answer from memory: no statuses, this blocked list
    from_memory: bool = False  # answered by ``headroom`` without evaluating

    @property
    def blocked(self) -> list[dict[str, Any]]:
        return blocked_scopes(self.statuses) if self.blocked_list is None else self.blocked_list


def check(engine: sa.Engine, rules: Sequence[CapRule], now: datetime, touched: Touched | None = None,
          memo: FiredMemo | None = USE_PROCESS_MEMO, snapshot: Snapshot | None = None) -> CheckResult:
    """Evaluate ``rules`` (one tenant's enabled caps) at ``now`` and fire the levels they reached
    (``memo=None``: ask the database every time, as racing processes would; ``snapshot`` is filled)."""
    if not rules:
        return CheckResult()
    if memo is USE_PROCESS_MEMO:
        memo = memo_for(engine)
    with session_scope(engine) as session:
        statuses = evaluate(session, rules, now, touched, snapshot)
        fired = fire(session, statuses, now, memo)
        messages = alert_messages(session, fired, {rule.id: rule for rule in rules})
        for message in messages:  # in the alerts' transaction: both commit or neither
            notifications.enqueue(session, **message)
    if messages:
        notifications.wake()
    if memo is not None:
        memo.remember(alert_keys(statuses))
    return CheckResult(statuses, fired, messages)


class _Round(Generic[Item]):
    """One evaluation shared by the batches of a tenant that were stored before it started."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.done = threading.Event()
        self.result: CheckResult | None = None
        self.error: BaseException | None = None


class Coalescer(Generic[Item]):
    """After-batch checks of one tenant run one at a time in a process; the batches stored while one runs
    share the next (like group commit). Every batch is still evaluated after it was stored — a round starts
    only after each of its batches joined it, and a batch joins once stored — so the reply to the batch that
    crossed a limit still carries the block, at a fraction of the evaluations under concurrent ingest.

    ``evaluate`` gets the items (one per batch) of its round. A key's lock is dropped when its round ends
    with no batch waiting, so the table holds only tenants being checked now, not every tenant ever seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[tuple[str, int], threading.Lock] = {}
        self._waiting: dict[tuple[str, int], _Round[Item]] = {}

    def run(self, key: tuple[str, int], item: Item,
            evaluate: Callable[[list[Item]], CheckResult]) -> CheckResult:
        with self._lock:
            joined = self._waiting.get(key)
            leader = joined is None
            if joined is None:
                joined = self._waiting[key] = _Round()
            joined.items.append(item)
            running = self._running.setdefault(key, threading.Lock())
        if not leader:
            joined.done.wait()
            if joined.error is not None:
                raise joined.error
            assert joined.result is not None
            return joined.result
        with running:
            with self._lock:
                del self._waiting[key]  # batches stored from now on form the next round
            try:
                joined.result = evaluate(joined.items)
                return joined.result
            except BaseException as error:
                joined.error = error
                raise
            finally:
                joined.done.set()
                with self._lock:  # still holding ``running``: a waiting round's leader holds this same lock
                    if key not in self._waiting:
                        del self._running[key]

    def keys(self) -> int:
        """How many tenants have a lock now (a bounded number: the ones being checked)."""
        with self._lock:
            return len(self._running)


Rows = Sequence[tuple[Any, ...]]
_after_batch_rounds: Coalescer[Rows] = Coalescer()


def after_batch(engine: sa.Engine, tenant_id: int, rows: Rows, now: datetime) -> CheckResult:
    """Right after a batch of event rows was stored by this process: the tenant's blocked list, and the
    alerts its caps reached fired. A tenant without enabled caps costs one cache lookup; while no cap can
    have reached a level since the last exact evaluation, the answer comes from memory (``headroom``)."""
    rules = enabled_caps.rules(engine, tenant_id)
    if not rules:
        return CheckResult()
    key = (str(engine.url), tenant_id)
    return _after_batch_rounds.run(key, rows, lambda batches: _after_batches(engine, key, rules, now, batches))


def _after_batches(engine: sa.Engine, key: tuple[str, int], rules: tuple[CapRule, ...], now: datetime,
                   batches: list[Rows]) -> CheckResult:
    """One round: from memory when it is fresh and every cap has room for the round's batches, else exact."""
    remembered = headrooms.pop(key)  # put back only once it is right again
    if not writers.alone(engine):  # another process stores batches too: its spend is not in the memory
        return check(engine, rules, now, merged(touched_by(rows) for rows in batches))
    stamp = writers.stamp(engine)  # read before the evaluation reads spend: a later change is then seen
    if remembered is not None and remembered.fresh(rules, now, stamp) and remembered.take(batches):
        headrooms.put(key, remembered)
        return CheckResult(blocked_list=remembered.blocked, from_memory=True)
    touched = merged(touched_by(rows) for rows in batches)
    snapshot = Snapshot()
    result = check(engine, rules, now, _every_scope(rules, touched), snapshot=snapshot)
    small = headroom.INFINITE if remembered is None else 4 * max(remembered.absorbed, 1)
    memory = headroom.seed(rules, result.statuses, snapshot, result.blocked, now, stamp, small)
    if memory is not None:
        headrooms.put(key, memory)
    return result


def _every_scope(rules: Sequence[CapRule], touched: Touched) -> Touched:
    """``touched`` plus the scope of every cap: the evaluation that seeds the memory must know each cap's
    spend (a ``customer:*`` cap's for the batches' customers)."""
    values: dict[str, set[str]] = {"provider": set(), "model": set(), "agent": set(), "customer": set()}
    for rule in rules:
        if rule.scope in values and not rule.every_customer:
            values[rule.scope].add(rule.value)
    return Touched(touched.providers | values["provider"], touched.models | values["model"],
                   touched.agents | values["agent"], touched.customers | values["customer"], True)


def current_blocks(engine: sa.Engine, tenant_id: int, now: datetime) -> list[dict[str, Any]]:
    """The tenant's blocked scopes now (``GET /v1/caps/status``): its enabled block caps, fully evaluated."""
    rules = [rule for rule in enabled_caps.rules(engine, tenant_id) if rule.action == "block"]
    if not rules:
        return []
    with Session(engine) as session:
        return blocked_scopes(evaluate(session, rules, now))


def catch_up(engine: sa.Engine, now: datetime) -> list[CapAlert]:
    """Evaluate every enabled cap of every tenant (the minute job): fires what ingest-time checks could not
    see (a lowered limit, a batch another process stored while this one failed). Returns the new alerts."""
    caps = Cap.__table__
    by_tenant: dict[int, list[CapRule]] = defaultdict(list)
    with engine.connect() as connection:
        for row in connection.execute(select_rules().where(caps.c.enabled.is_(True))
                                      .order_by(caps.c.tenant_id, caps.c.id)):
            rule = CapRule(*row)
            by_tenant[rule.tenant_id].append(rule)
    fired: list[CapAlert] = []
    for rules in by_tenant.values():
        fired += check(engine, rules, now).fired
    return fired
