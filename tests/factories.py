"""Builders shared by the server tests: valid SDK events, unique e-mail addresses, rollup snapshots, session
tokens the app accepts."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.models import User
from llmobserve_app.services import accounts, rollups
from llmobserve_app.settings import get_settings

_counter = itertools.count()


def unique_email(label: str = "user") -> str:
    return f"{label}-{next(_counter)}-{uuid.uuid4().hex[:6]}@example.com"


def session_token(session: Session, user: User) -> str:
    """Start a session as the app does (the configured JWT_SECRET and SESSION_TTL_HOURS); returns its token."""
    settings = get_settings()
    return accounts.start_session(session, user, secret=settings.jwt_secret, ttl_hours=settings.session_ttl_hours)


def user_of_token(session: Session, token: str | None) -> User | None:
    """The user the app would sign in with ``token`` (None if invalid, expired or logged out)."""
    return accounts.user_for_token(session, token, secret=get_settings().jwt_secret)


def event(span_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    """A valid SDK event (gpt-4o-mini chat call) with any field overridden."""
    base: dict[str, Any] = {
        "span_id": span_id or uuid.uuid4().hex,
        "run_id": None,
        "started_at": datetime.now(UTC).isoformat(),
        "provider": "openai",
        "model": "gpt-4o-mini",
        "endpoint": "chat",
        "status_code": 200,
        "usage": {"input_tokens": 1000, "output_tokens": 200},
    }
    base.update(overrides)
    return base


def rollup_snapshot(engine: sa.Engine, tenant_id: int) -> list[list[tuple]]:
    """Every rollup row of a tenant (usage_hourly, tenant_usage_hourly, customer_usage_daily,
    unit_usage_hourly, runs), without ids, in a stable order."""
    tables = []
    with engine.connect() as connection:
        for table in rollups.ROLLUPS:
            rows = connection.execute(
                sa.select(*(c for c in table.c if c.name != "id")).where(table.c.tenant_id == tenant_id)).all()
            tables.append(sorted(map(tuple, rows), key=repr))
    return tables
