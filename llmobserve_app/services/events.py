"""Ingest: validate SDK events one by one, price them, store them once, update rollups — one transaction.

A batch with bad events keeps the good ones; a retried batch is counted once (unique tenant + span_id);
rollups (``usage_hourly``, ``runs``) are written in the same transaction as the events they summarise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from llmobserve_app.models import Event, Run, UsageHourly, utcnow
from llmobserve_app.services.money import usd_to_nanos
from pricing import compute_cost

ShortStr = Annotated[str, StringConstraints(min_length=1, max_length=128)]
MAX_TAGS = 20
NOT_CHARGED_PRICE_ID = "not_charged"


class UsageIn(BaseModel):
    """Canonical usage (see shared/DESIGN.md); unknown keys are ignored for forward compatibility."""

    model_config = ConfigDict(extra="ignore")
    input_tokens: int = Field(default=0, ge=0)
    cached_input_tokens: int = Field(default=0, ge=0)
    cache_write_tokens: int = Field(default=0, ge=0)
    cache_write_1h_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    reasoning_tokens: int = Field(default=0, ge=0)
    audio_seconds: float = Field(default=0, ge=0)
    web_searches: int = Field(default=0, ge=0)
    requests: int = Field(default=1, ge=0)
    units: dict[Annotated[str, StringConstraints(max_length=64)], Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict, max_length=20
    )


class EventIn(BaseModel):
    """One provider call as the SDK sends it."""

    model_config = ConfigDict(extra="ignore")
    span_id: ShortStr
    run_id: ShortStr | None = None
    parent_span_id: ShortStr | None = None
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    provider: Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
    model: Annotated[str, StringConstraints(max_length=200)] | None = None
    endpoint: Annotated[str, StringConstraints(max_length=64)] = "unknown"
    status_code: int | None = Field(default=None, ge=100, le=599)
    streamed: bool = False
    incomplete: bool = False
    error: Annotated[str, StringConstraints(max_length=200)] | None = None
    usage: UsageIn = Field(default_factory=UsageIn)
    customer_id: Annotated[str, StringConstraints(max_length=200)] | None = None
    section_path: Annotated[str, StringConstraints(max_length=500)] | None = None
    tags: dict[Annotated[str, StringConstraints(max_length=64)], Annotated[str, StringConstraints(max_length=200)]] = (
        Field(default_factory=dict)
    )
    batch: bool = False
    service_tier: Annotated[str, StringConstraints(max_length=40)] | None = None
    provider_reported_cost: Decimal | None = Field(default=None, ge=0)
    sdk_version: Annotated[str, StringConstraints(max_length=40)] | None = None

    @field_validator("tags")
    @classmethod
    def _few_tags(cls, tags: dict[str, str]) -> dict[str, str]:
        if len(tags) > MAX_TAGS:
            raise ValueError(f"at most {MAX_TAGS} tags")
        return tags

    @property
    def failed(self) -> bool:
        """Rate-limited, errored or never-answered calls: counted, but not charged."""
        if self.status_code is not None:
            return self.status_code >= 400
        return self.error is not None


@dataclass
class Rejection:
    index: int
    error: str


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"]) or "event"
        parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts)


def agent_of(section_path: str | None) -> str | None:
    """The outermost agent named in a section path (``agent:research/tool:x`` → ``research``)."""
    for segment in (section_path or "").split("/"):
        kind, _, name = segment.partition(":")
        if kind == "agent" and name:
            return name[:200]
    return None


def _row(tenant_id: int, event: EventIn, received_at: datetime) -> dict[str, Any]:
    usage = event.usage
    ended_at = event.ended_at or event.started_at
    reported_nanos = (
        usd_to_nanos(event.provider_reported_cost) if event.provider_reported_cost is not None else None
    )
    if event.failed:
        cost_nanos, priced, price_id = 0, True, NOT_CHARGED_PRICE_ID
    else:
        cost = compute_cost(
            event.provider,
            event.model or "",
            usage.model_dump(),
            at=event.started_at,
            batch=event.batch,
            service_tier=event.service_tier,
            provider_reported_cost=event.provider_reported_cost,
        )
        priced = bool(cost.priced and cost.usd is not None)
        cost_nanos = usd_to_nanos(cost.usd) if priced else None
        price_id = cost.price_id
    return {
        "tenant_id": tenant_id,
        "span_id": event.span_id,
        "run_id": event.run_id,
        "parent_span_id": event.parent_span_id,
        "started_at": event.started_at,
        "ended_at": ended_at,
        "latency_ms": max(0, int((ended_at - event.started_at).total_seconds() * 1000)),
        "provider": event.provider.lower(),
        "model": event.model,
        "endpoint": event.endpoint,
        "status_code": event.status_code,
        "streamed": event.streamed,
        "incomplete": event.incomplete,
        "error": event.error,
        "input_tokens": usage.input_tokens,
        "cached_input_tokens": usage.cached_input_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "cache_write_1h_tokens": usage.cache_write_1h_tokens,
        "output_tokens": usage.output_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "audio_seconds": usage.audio_seconds,
        "web_searches": usage.web_searches,
        "requests": usage.requests,
        "units": usage.units,
        "customer_id": event.customer_id,
        "section_path": event.section_path,
        "agent": agent_of(event.section_path),
        "tags": event.tags,
        "batch": event.batch,
        "service_tier": event.service_tier,
        "provider_reported_cost_nanos": reported_nanos,
        "cost_nanos": cost_nanos,
        "priced": priced,
        "charged": not event.failed,
        "price_id": (price_id or None) and str(price_id)[:200],
        "sdk_version": event.sdk_version,
        "received_at": received_at,
    }


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _upsert_hourly(session: Session, rows: list[dict[str, Any]]) -> None:
    key_names = ("tenant_id", "hour", "customer_id", "provider", "model", "section_path", "priced")
    summed = ("calls", "failed_calls", "cost_nanos", "input_tokens", "cached_input_tokens", "output_tokens",
              "reasoning_tokens", "latency_ms_sum")
    buckets: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        key_values = {
            "tenant_id": row["tenant_id"],
            "hour": row["started_at"].replace(minute=0, second=0, microsecond=0),
            "customer_id": row["customer_id"] or "",
            "provider": row["provider"],
            "model": row["model"] or "",
            "section_path": row["section_path"] or "",
            "priced": row["priced"],
        }
        key = tuple(key_values[name] for name in key_names)
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = {**key_values, "agent": row["agent"] or "", **dict.fromkeys(summed, 0)}
        bucket["calls"] += 1
        bucket["failed_calls"] += 0 if row["charged"] else 1
        bucket["cost_nanos"] += row["cost_nanos"] or 0
        bucket["input_tokens"] += row["input_tokens"]
        bucket["cached_input_tokens"] += row["cached_input_tokens"]
        bucket["output_tokens"] += row["output_tokens"]
        bucket["reasoning_tokens"] += row["reasoning_tokens"]
        bucket["latency_ms_sum"] += row["latency_ms"]
    if not buckets:
        return
    values = [buckets[key] for key in sorted(buckets, key=repr)]  # one lock order: no deadlocks
    statement = _insert(session, UsageHourly)
    table = UsageHourly.__table__
    statement = statement.on_conflict_do_update(
        index_elements=list(key_names),
        set_={name: table.c[name] + statement.excluded[name] for name in summed},
    )
    session.execute(statement, values)


def _upsert_runs(session: Session, rows: list[dict[str, Any]]) -> None:
    runs: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not row["run_id"]:
            continue
        run = runs.get(row["run_id"])
        if run is None:
            run = runs[row["run_id"]] = {
                "tenant_id": row["tenant_id"], "run_id": row["run_id"], "customer_id": row["customer_id"],
                "agent": row["agent"], "first_seen": row["started_at"], "last_seen": row["ended_at"],
                "calls": 0, "failed_calls": 0, "unpriced_calls": 0, "cost_nanos": 0,
            }
        run["first_seen"] = min(run["first_seen"], row["started_at"])
        run["last_seen"] = max(run["last_seen"], row["ended_at"])
        run["customer_id"] = run["customer_id"] or row["customer_id"]
        run["agent"] = run["agent"] or row["agent"]
        run["calls"] += 1
        run["failed_calls"] += 0 if row["charged"] else 1
        run["unpriced_calls"] += 0 if row["priced"] else 1
        run["cost_nanos"] += row["cost_nanos"] or 0
    if not runs:
        return
    postgres = session.get_bind().dialect.name == "postgresql"
    least, greatest = (sa.func.least, sa.func.greatest) if postgres else (sa.func.min, sa.func.max)
    statement = _insert(session, Run)
    table = Run.__table__
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["tenant_id", "run_id"],
        set_={
            "first_seen": least(table.c.first_seen, excluded.first_seen),
            "last_seen": greatest(table.c.last_seen, excluded.last_seen),
            "customer_id": sa.func.coalesce(table.c.customer_id, excluded.customer_id),
            "agent": sa.func.coalesce(table.c.agent, excluded.agent),
            **{name: table.c[name] + excluded[name]
               for name in ("calls", "failed_calls", "unpriced_calls", "cost_nanos")},
        },
    )
    session.execute(statement, [runs[key] for key in sorted(runs)])


def ingest_events(session: Session, tenant_id: int, raw_events: list[Any]) -> IngestResult:
    """Validate, price and store a batch for one tenant. The caller's session commits (or rolls back)."""
    result = IngestResult()
    received_at = utcnow()
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_events):
        if not isinstance(raw, dict):
            result.rejected.append(Rejection(index, "event: must be a JSON object"))
            continue
        try:
            event = EventIn.model_validate(raw)
            row = _row(tenant_id, event, received_at)
        except ValidationError as error:
            result.rejected.append(Rejection(index, _describe(error)))
            continue
        except (InvalidOperation, OverflowError, ValueError) as error:
            result.rejected.append(Rejection(index, f"event: {error}"))
            continue
        if event.span_id in seen:
            result.duplicates += 1
            continue
        seen.add(event.span_id)
        rows.append(row)
    if not rows:
        return result
    statement = (
        _insert(session, Event)
        .on_conflict_do_nothing(index_elements=["tenant_id", "span_id"])
        .returning(Event.__table__.c.span_id)
    )
    inserted = set(session.execute(statement, rows).scalars())
    result.accepted = len(inserted)
    result.duplicates += len(rows) - len(inserted)
    new_rows = [row for row in rows if row["span_id"] in inserted]
    _upsert_hourly(session, new_rows)
    _upsert_runs(session, new_rows)
    return result
