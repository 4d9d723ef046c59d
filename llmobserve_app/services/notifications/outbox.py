"""The outbox: what is to be sent, written in the caller's transaction, and what became of it.

``enqueue`` adds one row per (source_kind, source_id, channel) — the unique key makes a second enqueue of the
same source and channel a no-op, whoever does it. Delivery (``delivery.py``) reads the rows once committed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.db import insert_for
from llmobserve_app.models import Notification, utcnow
from llmobserve_app.services.notifications.signing_secrets import ensure_signing_secret

NOTIFICATIONS = Notification.__table__
CHANNELS = ("email", "slack", "webhook")
STATUSES = ("pending", "sent", "failed", "skipped")


class Delivery(NamedTuple):
    channel: str
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None


def _check_target(channel: str, target: str) -> None:
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
    if channel == "email":
        if "@" not in target or any(c.isspace() for c in target):
            raise ValueError(f"target: {target!r} is not an e-mail address")
    elif not target.startswith(("https://", "http://")):
        raise ValueError(f"target: a {channel} target must be an http(s) URL")
    if len(target) > NOTIFICATIONS.c.target.type.length:
        raise ValueError("target is too long")


def enqueue(session: Session, *, tenant_id: int, source_kind: str, source_id: int, channel: str, target: str,
            subject: str, payload: dict[str, Any], now: datetime | None = None) -> None:
    """Add one message to the outbox in the caller's transaction (due at once); a repeat is ignored. A webhook
    makes sure the account has its signing secret first, so sending never writes one."""
    _check_target(channel, target)
    if channel == "webhook":
        ensure_signing_secret(session, tenant_id)
    moment = now or utcnow()
    statement = insert_for(session.get_bind().dialect.name)(NOTIFICATIONS).values(
        tenant_id=tenant_id, source_kind=source_kind, source_id=source_id, channel=channel, target=target,
        subject=subject[:NOTIFICATIONS.c.subject.type.length], payload=payload, status="pending", attempts=0,
        next_attempt_at=moment, created_at=moment)
    session.execute(statement.on_conflict_do_nothing(
        index_elements=[NOTIFICATIONS.c.source_kind, NOTIFICATIONS.c.source_id, NOTIFICATIONS.c.channel]))


def deliveries_for(session: Session, tenant_id: int, source_kind: str,
                   source_ids: Iterable[int]) -> dict[int, list[Delivery]]:
    """Per source id of this tenant, each channel's delivery status (for the alert history)."""
    ids = list(set(source_ids))
    if not ids:
        return {}
    rows = session.execute(
        sa.select(NOTIFICATIONS.c.source_id, NOTIFICATIONS.c.channel, NOTIFICATIONS.c.status,
                  NOTIFICATIONS.c.attempts, NOTIFICATIONS.c.last_error, NOTIFICATIONS.c.sent_at)
        .where(NOTIFICATIONS.c.tenant_id == tenant_id, NOTIFICATIONS.c.source_kind == source_kind,
               NOTIFICATIONS.c.source_id.in_(ids))
        .order_by(NOTIFICATIONS.c.source_id, NOTIFICATIONS.c.channel))
    found: dict[int, list[Delivery]] = {}
    for row in rows:
        found.setdefault(row.source_id, []).append(
            Delivery(row.channel, row.status, row.attempts, row.last_error, row.sent_at))
    return found
