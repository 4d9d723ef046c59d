"""The enabled caps of a tenant, cached per process for a short time: ingest asks for them on every batch,
and a tenant without caps must cost next to nothing.

Safe with several worker processes: the process that changes a cap forgets its copy once the change is
committed (``forget_after_commit``: forgetting before the commit would let a concurrent reader cache the old
rules again for a whole TTL), the others see the change within ``TTL_SECONDS`` (and the catch-up job
evaluates from the database every minute).
"""

from __future__ import annotations

import threading
import time
from functools import partial

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.models import Cap
from llmobserve_app.services.after_commit import after_commit
from llmobserve_app.services.caps.rules import CapRule, select_rules

CAPS = Cap.__table__

TTL_SECONDS = 1.0


class EnabledCaps:
    def __init__(self, ttl_seconds: float = TTL_SECONDS) -> None:
        self.ttl_seconds = ttl_seconds
        self._lock = threading.Lock()
        self._cached: dict[tuple[str, int], tuple[float, tuple[CapRule, ...]]] = {}

    @staticmethod
    def _key(engine: sa.Engine | sa.Connection, tenant_id: int) -> tuple[str, int]:
        return (str(engine.engine.url), tenant_id)

    def rules(self, engine: sa.Engine, tenant_id: int) -> tuple[CapRule, ...]:
        key = self._key(engine, tenant_id)
        cached = self._cached.get(key)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        with engine.connect() as connection:
            rules = tuple(CapRule(*row) for row in connection.execute(
                select_rules().where(CAPS.c.tenant_id == tenant_id, CAPS.c.enabled.is_(True)).order_by(CAPS.c.id)))
        with self._lock:
            if len(self._cached) > 100_000:
                self._cached.clear()
            self._cached[key] = (now + self.ttl_seconds, rules)
        return rules

    def forget(self, engine: sa.Engine | sa.Connection, tenant_id: int) -> None:
        with self._lock:
            self._cached.pop(self._key(engine, tenant_id), None)


enabled_caps = EnabledCaps()


def forget_after_commit(session: Session, tenant_id: int) -> None:
    """Forget the tenant's cached caps when ``session`` commits (whoever commits it: the crud functions leave
    that to their caller)."""
    after_commit(session, partial(enabled_caps.forget, session.get_bind(), tenant_id))
