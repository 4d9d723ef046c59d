"""Work to do once a session's transaction commits: forgetting a per-process cache of rows the transaction
changed. Done before the commit, another thread could cache the old rows again for the cache's whole lifetime;
done by each caller after its commit, one caller forgets to. A rolled-back transaction runs nothing."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlmodel import Session

_PENDING = "llmobserve_after_commit"  # session.info key: the actions to run at its next commit


def after_commit(session: Session, action: Callable[[], object]) -> None:
    """Run ``action`` when ``session`` next commits (not at all if it rolls back)."""
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        event.listen(session, "after_commit", _run_pending)
        event.listen(session, "after_rollback", lambda rolled_back: rolled_back.info.get(_PENDING, []).clear())
    pending.append(action)


def _run_pending(session: Session) -> None:
    pending = session.info.get(_PENDING, [])
    while pending:
        pending.pop(0)()
