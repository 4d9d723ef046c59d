"""The entry points that evaluate caps: after an ingest batch, for the status poll, and the catch-up job.

Every firing goes through ``check``, in one transaction with the alerts it inserts and their notifications
(one outbox message per channel of the cap), so an alert and its messages commit together or not at all;
after the commit ``notifications.wake()`` starts sending them at once.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.db import session_scope
from llmobserve_app.models import Cap, CapAlert
from llmobserve_app.services import notifications
from llmobserve_app.services.caps.blocks import blocked_scopes
from llmobserve_app.services.caps.evaluation import CapStatus, alert_keys, evaluate, fire
from llmobserve_app.services.caps.messages import alert_messages
from llmobserve_app.services.caps.registry import enabled_caps
from llmobserve_app.services.caps.rules import CapRule, select_rules
from llmobserve_app.services.caps.touched import Touched, merged, touched_by

_MEMO_LIMIT = 100_000


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

    @property
    def blocked(self) -> list[dict[str, Any]]:
        return blocked_scopes(self.statuses)


def check(engine: sa.Engine, rules: Sequence[CapRule], now: datetime, touched: Touched | None = None,
          memo: FiredMemo | None = USE_PROCESS_MEMO) -> CheckResult:
    """Evaluate ``rules`` (one tenant's enabled caps) at ``now`` and fire the levels they reached
    (``memo=None``: ask the database every time, as racing processes would)."""
    if not rules:
        return CheckResult()
    if memo is USE_PROCESS_MEMO:
        memo = memo_for(engine)
    with session_scope(engine) as session:
        statuses = evaluate(session, rules, now, touched)
        fired = fire(session, statuses, now, memo)
        messages = alert_messages(session, fired, {rule.id: rule for rule in rules})
        for message in messages:  # in the alerts' transaction: both commit or neither
            notifications.enqueue(session, **message)
    if messages:
        notifications.wake()
    if memo is not None:
        memo.remember(alert_keys(statuses))
    return CheckResult(statuses, fired, messages)


class _Round:
    """One evaluation shared by the batches of a tenant that were stored before it started."""

    def __init__(self) -> None:
        self.touched: list[Touched] = []
        self.done = threading.Event()
        self.result: CheckResult | None = None
        self.error: BaseException | None = None


class Coalescer:
    """After-batch checks of one tenant run one at a time in a process; the batches stored while one runs
    share the next (like group commit). Every batch is still evaluated after it was stored — a round starts
    only after each of its batches joined it, and a batch joins once stored — so the reply to the batch that
    crossed a limit still carries the block, at a fraction of the evaluations under concurrent ingest.

    A key's lock is dropped when its round ends with no batch waiting, so the table holds only tenants being
    checked now, not every tenant ever seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[tuple[str, int], threading.Lock] = {}
        self._waiting: dict[tuple[str, int], _Round] = {}

    def run(self, key: tuple[str, int], touched: Touched, evaluate: Callable[[Touched], CheckResult]) -> CheckResult:
        with self._lock:
            joined = self._waiting.get(key)
            leader = joined is None
            if joined is None:
                joined = self._waiting[key] = _Round()
            joined.touched.append(touched)
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
                touched_all = merged(joined.touched)
            try:
                joined.result = evaluate(touched_all)
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


_after_batch_rounds = Coalescer()


def after_batch(engine: sa.Engine, tenant_id: int, rows: Sequence[tuple[Any, ...]], now: datetime) -> CheckResult:
    """Right after a batch of event rows was stored: re-evaluate the caps on scopes it touched (and the block
    caps, for the full blocked list of the reply). A tenant without enabled caps costs one cache lookup."""
    rules = enabled_caps.rules(engine, tenant_id)
    if not rules:
        return CheckResult()
    return _after_batch_rounds.run((str(engine.url), tenant_id), touched_by(rows),
                                   lambda touched: check(engine, rules, now, touched))


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
