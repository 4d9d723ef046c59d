"""The wire schema of ``POST /v1/events`` and its validation: pydantic models that name each bad field, and
the one-pass parse of a clean body (msgspec first, ``fast_schema``; then pydantic)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from llmobserve_app.services.ingest.fast_schema import (
    INT_MAX,
    MAX_TAGS,
    MAX_TOKENS_PER_CALL,
    FastEvent,
    decode_clean_batch,
)

ShortStr = Annotated[str, StringConstraints(min_length=1, max_length=128)]
NUL_MESSAGE = "event: text must not contain NUL (\\u0000) characters"
UnitName = Annotated[str, StringConstraints(max_length=64)]
UnitQuantity = Annotated[float, Field(ge=0, allow_inf_nan=False)]  # infinite units would poison the rollup sums
class UsageIn(BaseModel):
    """Canonical usage: ``input_tokens`` include cache reads and writes, ``output_tokens`` include reasoning;
    unknown keys are ignored for forward compatibility."""

    model_config = ConfigDict(extra="ignore")
    input_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS_PER_CALL)
    cached_input_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS_PER_CALL)
    cache_write_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS_PER_CALL)
    cache_write_1h_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS_PER_CALL)
    output_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS_PER_CALL)
    reasoning_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS_PER_CALL)
    audio_seconds: float = Field(default=0, ge=0, allow_inf_nan=False)
    web_searches: int = Field(default=0, ge=0, le=INT_MAX)
    requests: int = Field(default=1, ge=0, le=INT_MAX)
    units: dict[UnitName, UnitQuantity] = Field(default_factory=dict, max_length=20)


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


class EventBatchIn(BaseModel):
    """A whole ``{"events": [...]}`` body, validated in one pass (the fast path of ``parse_valid_batch``)."""

    model_config = ConfigDict(extra="ignore")
    events: list[EventIn]


@dataclass
class Rejection:
    index: int
    error: str


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"]) or "event"
        parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts)


def _escapes_nul(body: bytes | str) -> bool:
    """True when the JSON text has a ``\\u0000`` escape (JSON cannot hold a raw NUL). Jumps from backslash
    to backslash, which clean bodies rarely have (a memchr), rather than searching for the six characters."""
    backslash, nul = (b"\\", b"u0000") if isinstance(body, bytes) else ("\\", "u0000")
    at = body.find(backslash)  # type: ignore[arg-type]
    while at != -1:
        if body.startswith(nul, at + 1):  # type: ignore[arg-type]
            return True
        at = body.find(backslash, at + 2)  # type: ignore[arg-type]  # skip the escaped character
    return False


def parse_valid_batch(body: bytes | str) -> list[EventIn] | list[FastEvent] | None:
    """The events of a ``{"events": [...]}`` JSON body when every one is valid, parsed and validated in one
    pass (msgspec when it can vouch for the batch, else pydantic); None when anything is off, so the caller
    takes the careful path (``json.loads`` then ``ingest_events``), which names each bad event's field."""
    if _escapes_nul(body):
        return None  # a NUL character somewhere: the careful path finds the event and says so
    fast = decode_clean_batch(body)
    if fast is not None:
        return fast
    try:
        return EventBatchIn.model_validate_json(body).events
    except ValueError:  # ValidationError is a ValueError
        return None


def _contains_nul(value: Any) -> bool:
    """True when a NUL character is in any string of a decoded JSON value (PostgreSQL text cannot hold it).
    Walks with a stack, not recursion: an ignored field may nest as deep as ``json.loads`` allows."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def validate_events(raw_events: Sequence[Any]) -> tuple[list[EventIn | None], list[Rejection]]:
    """Validate events one by one: a model per position (None where rejected) and the rejections."""
    validated: list[EventIn | None] = []
    rejected: list[Rejection] = []
    validate = EventIn.model_validate
    for index, raw in enumerate(raw_events):
        if not isinstance(raw, dict):
            rejected.append(Rejection(index, "event: must be a JSON object"))
            validated.append(None)
            continue
        if _contains_nul(raw):
            rejected.append(Rejection(index, NUL_MESSAGE))
            validated.append(None)
            continue
        try:
            validated.append(validate(raw))
        except ValidationError as error:
            rejected.append(Rejection(index, _describe(error)))
            validated.append(None)
    return validated, rejected


