"""Small builders for the notification tests."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from llmobserve_app.db import session_scope
from llmobserve_app.models import Notification
from llmobserve_app.services.notifications import enqueue

_source_ids = itertools.count(1)


def next_source_id() -> int:
    return next(_source_ids)


def add(engine: sa.Engine, tenant_id: int, channel: str, target: str, *, now: datetime, source_id: int | None = None,
        subject: str = "Cap 'daily' at 80 %", payload: dict[str, Any] | None = None,
        source_kind: str = "cap_alert") -> int:
    """Enqueue one notification (committed); returns its source id."""
    source_id = source_id if source_id is not None else next_source_id()
    with session_scope(engine) as session:
        enqueue(session, tenant_id=tenant_id, source_kind=source_kind, source_id=source_id, channel=channel,
                target=target, subject=subject, payload=payload if payload is not None else {"spend_usd": "0.08"},
                now=now)
    return source_id


def row(engine: sa.Engine, source_id: int, channel: str, source_kind: str = "cap_alert") -> Notification:
    table = Notification.__table__
    with engine.connect() as connection:
        found = connection.execute(sa.select(table).where(
            table.c.source_kind == source_kind, table.c.source_id == source_id, table.c.channel == channel)).one()
    return Notification(**found._asdict())
