"""Saving a cap change (create, update, delete) the way both the API and the caps page do it.

The process's cache of enabled caps is dropped when the change commits (``crud`` arranges it), and what the
saved cap already reached fires at once (a lowered limit alerts now, not at the next batch).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.db import session_scope
from llmobserve_app.models import Cap
from llmobserve_app.services.caps import checks, crud
from llmobserve_app.services.caps.overview import CapOverview, overviews
from llmobserve_app.services.caps.rules import rule_of


def save_and_check(engine: sa.Engine, now: datetime, work: Callable[[Session], Cap]) -> CapOverview:
    """Run ``work`` (a ``crud`` create/update) in its own transaction, then check the cap and answer it as the
    list shows it. ``UserFacingError`` and ``CapNotFound`` from ``work`` propagate, with nothing saved."""
    with session_scope(engine) as session:
        cap = work(session)
    if cap.enabled:
        checks.check(engine, [rule_of(cap)], now)
    with session_scope(engine) as session:
        return overviews(session, [cap], now)[0]


def delete(engine: sa.Engine, tenant_id: int, cap_id: int) -> None:
    """Delete a cap and its history (``CapNotFound`` for another tenant's); its block lifts at the next reply."""
    with session_scope(engine) as session:
        crud.delete_cap(session, tenant_id, cap_id)
