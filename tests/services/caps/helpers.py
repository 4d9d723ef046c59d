"""Builders for the caps tests: priced events of a known cost at a given time."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from llmobserve_app.db import session_scope
from llmobserve_app.models import Event
from llmobserve_app.services.caps import crud
from llmobserve_app.services.caps.rules import CapRule, rule_of
from llmobserve_app.services.ingest.rows import EVENT_COLUMNS
from llmobserve_app.services.ingest.store import ingest_events


def spend_event(started: datetime, **overrides: Any) -> dict[str, Any]:
    """A priced gpt-4o-mini call (1M input tokens: $0.15) started at ``started``."""
    return {"span_id": uuid.uuid4().hex, "started_at": started.isoformat(), "provider": "openai",
            "model": "gpt-4o-mini", "status_code": 200, "usage": {"input_tokens": 1_000_000, "output_tokens": 0},
            **overrides}


def store(engine: sa.Engine, tenant_id: int, events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Ingest ``events``; return their stored rows as ``touched_by`` reads them (column tuples)."""
    with session_scope(engine) as session:
        ingest_events(session, tenant_id, events)
    spans = [event["span_id"] for event in events]
    columns = [getattr(Event, name) for name in EVENT_COLUMNS]
    with session_scope(engine) as session:
        return [tuple(row) for row in session.execute(
            sa.select(*columns).where(Event.tenant_id == tenant_id, Event.span_id.in_(spans)))]


def make_cap(engine: sa.Engine, tenant_id: int, **fields: Any) -> CapRule:
    """Create a cap through ``crud`` (validated as the API and the page do); its rule as checks read it."""
    with session_scope(engine) as session:
        return rule_of(crud.create_cap(session, tenant_id, **fields))
