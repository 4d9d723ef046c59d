"""One validated event → one priced ``events`` row: a tuple in ``EVENT_COLUMNS`` order, its values already in
the form the column types of ``models.py`` would store (rows bypass SQLAlchemy's per-value processing): UTC
datetimes (naive ``YYYY-MM-DD HH:MM:SS.ffffff`` text on SQLite), JSON text, booleans."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

import msgspec

import pricing
from llmobserve_app.models import Event
from llmobserve_app.services.ingest.fast_schema import INT_MAX, MAX_COST_NANOS_PER_CALL, FastEvent
from llmobserve_app.services.ingest.schema import EventIn
from llmobserve_app.services.money import NANOS_EXPONENT, usd_to_nanos
from pricing import Cost, FlatPrices

NOT_CHARGED_PRICE_ID = "not_charged"
_encode_json = msgspec.json.encode

# Columns written for one event, in the order of the tuples built by ``event_row`` (``id`` is generated).
EVENT_COLUMNS: tuple[str, ...] = (
    "tenant_id", "span_id", "run_id", "parent_span_id", "started_at", "ended_at", "latency_ms", "provider",
    "model", "endpoint", "status_code", "streamed", "incomplete", "error", "input_tokens", "cached_input_tokens",
    "cache_write_tokens", "cache_write_1h_tokens", "output_tokens", "reasoning_tokens", "audio_seconds",
    "web_searches", "requests", "units", "customer_id", "section_path", "agent", "tags", "batch", "service_tier",
    "provider_reported_cost_nanos", "cost_nanos", "priced", "charged", "price_id", "sdk_version", "received_at",
)
COLUMN = {name: index for index, name in enumerate(EVENT_COLUMNS)}  # a row's value of column c: row[COLUMN[c]]
SPAN, STARTED = COLUMN["span_id"], COLUMN["started_at"]



class Prices(Protocol):
    """Where a call's price comes from: the ``pricing`` module itself (the shared prices), or one account's
    ``pricing.custom.CustomPricing`` (its custom prices over the shared ones)."""

    def flat_prices(self, provider: str, model: str, at: datetime) -> FlatPrices | None: ...

    def unknown_model(self, provider: str, model: str) -> bool: ...

    def price_changes(self, provider: str, model: str) -> tuple[datetime, ...] | None: ...

    def compute_cost(self, provider: str, model: str, usage: Mapping[str, Any], *, at: datetime | None = ...,
                     batch: bool = ..., service_tier: str | None = ..., provider_reported_cost: Any = ...) -> Cost: ...


SHARED_PRICES: Prices = pricing  # type: ignore[assignment]  # a module with those three functions

if set(EVENT_COLUMNS) != {column.name for column in Event.__table__.columns} - {"id"}:
    raise RuntimeError("services/ingest/rows.py: EVENT_COLUMNS no longer matches the events table in models.py")


def agent_of(section_path: str | None) -> str | None:
    """The outermost agent named in a section path (``agent:research/tool:x`` → ``research``)."""
    for segment in (section_path or "").split("/"):
        kind, _, name = segment.partition(":")
        if kind == "agent" and name:
            return name[:200]
    return None


_section_agent = lru_cache(maxsize=4096)(agent_of)  # a few section paths repeat in every batch


def sqlite_time(value: datetime) -> str:
    """A UTC datetime (aware or naive) as SQLAlchemy's SQLite DATETIME stores it: naive UTC text, always with
    microseconds. The caller converts to UTC first. msgspec writes an aware UTC time as
    ``"YYYY-MM-DDTHH:MM:SS.ffffffZ"`` four times faster than ``isoformat`` (whole seconds lose the fraction)."""
    text = _encode_json(value).decode()
    if len(text) == 29:
        return text[1:27].replace("T", " ")
    return value.isoformat(" ", "microseconds")[:26]


def aware_time(value: datetime) -> datetime:
    """A UTC datetime as PostgreSQL's ``timestamptz`` columns take it: unchanged."""
    return value


def _json(value: dict[str, Any]) -> str:
    return _encode_json(value).decode() if value else "{}"  # msgspec: ~15× faster than json.dumps here


def price_event(event: EventIn | FastEvent | Any, started: datetime,
                prices: Prices) -> tuple[int | None, bool, str | None]:
    """(cost in nanodollars or None, priced, price id) of a call that was charged (``started``: its UTC start).
    ``event`` is a validated event or anything with its attributes (a stored one, when recalculating). Raises
    ValueError for usage that cannot be priced."""
    usage = event.usage
    model = event.model or ""
    if (event.provider_reported_cost is None and not event.batch and event.service_tier is None
            and not usage.audio_seconds and not usage.units):  # a plain token call
        flat = prices.flat_prices(event.provider, model, started)
        if flat is not None:
            cost_nanos = flat.cost(usage.input_tokens, usage.cached_input_tokens, usage.cache_write_tokens,
                                   usage.cache_write_1h_tokens, usage.output_tokens, usage.reasoning_tokens,
                                   usage.web_searches, usage.requests, exponent=NANOS_EXPONENT)
            if cost_nanos is not None:
                return cost_nanos, True, flat.price_id  # integer pricing (pricing.flat), same result
        elif prices.unknown_model(event.provider, model):
            return None, False, None  # what compute_cost says of a model without a price, 40× faster
    cost = prices.compute_cost(
        event.provider,
        model,
        {
            "input_tokens": usage.input_tokens,
            "cached_input_tokens": usage.cached_input_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "cache_write_1h_tokens": usage.cache_write_1h_tokens,
            "output_tokens": usage.output_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
            "audio_seconds": usage.audio_seconds or 0,  # 0.0 → 0: same count, skips a Decimal parse
            "web_searches": usage.web_searches,
            "requests": usage.requests,
            "units": usage.units,
        },
        at=started,
        batch=event.batch,
        service_tier=event.service_tier,
        provider_reported_cost=event.provider_reported_cost,
    )
    priced = bool(cost.priced and cost.usd is not None)
    return (usd_to_nanos(cost.usd) if priced else None), priced, cost.price_id  # type: ignore[arg-type]


def event_row(
    tenant_id: int, event: EventIn | FastEvent, received_at: Any, db_time: Callable[[datetime], Any],
    prices: Prices = SHARED_PRICES,
) -> tuple[Any, ...]:
    """One ``events`` row (``EVENT_COLUMNS`` order), priced with ``prices`` (the tenant's). Raises ValueError
    for unpriceable usage."""
    usage = event.usage
    started, ended = event.started_at, event.ended_at
    if started.tzinfo is not UTC:
        started = started.astimezone(UTC)
    if ended is None:
        ended = started
    elif ended.tzinfo is not UTC:
        ended = ended.astimezone(UTC)
    reported = event.provider_reported_cost
    failed = event.failed
    if failed:
        cost_nanos, priced, price_id = 0, True, NOT_CHARGED_PRICE_ID
    else:
        cost_nanos, priced, price_id = price_event(event, started, prices)
    reported_nanos = None if reported is None else usd_to_nanos(reported)
    if (cost_nanos or 0) > MAX_COST_NANOS_PER_CALL or (reported_nanos or 0) > MAX_COST_NANOS_PER_CALL:
        raise ValueError("cost is beyond what one call can cost here (over $1,000,000)")
    latency_ms = max(0, int((ended - started).total_seconds() * 1000))
    if latency_ms > INT_MAX:  # the events column is INTEGER (PostgreSQL refused the whole batch)
        raise ValueError("ended_at: more than 24 days after started_at")
    section = event.section_path
    return (
        tenant_id, event.span_id, event.run_id, event.parent_span_id, db_time(started), db_time(ended),
        latency_ms, event.provider.lower(), event.model, event.endpoint,
        event.status_code, event.streamed, event.incomplete, event.error, usage.input_tokens,
        usage.cached_input_tokens, usage.cache_write_tokens, usage.cache_write_1h_tokens, usage.output_tokens,
        usage.reasoning_tokens, usage.audio_seconds, usage.web_searches, usage.requests, _json(usage.units),
        event.customer_id, section, _section_agent(section) if section else None, _json(event.tags), event.batch,
        event.service_tier, reported_nanos, cost_nanos, priced,
        not failed, (price_id or None) and str(price_id)[:200], event.sdk_version, received_at,
    )
