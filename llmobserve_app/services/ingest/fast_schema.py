"""Decode a clean ``{"events": [...]}`` body with msgspec: the values ``EventBatchIn`` would give, ~5× faster.

Validation with pydantic was the largest single cost of ingest (docs/BENCHMARKS.md). These msgspec structs
mirror ``schema.EventIn`` field for field, with the same limits, but are deliberately *stricter*: anything
they cannot vouch for (a string where a number goes, a timestamp not in RFC 3339 form, more than six
fractional digits, padded provider names, a provider-reported cost, ...) makes ``decode_clean_batch``
return None, and the caller falls back to pydantic, which decides and names the field. So the fast path
never accepts what pydantic would reject, nor reads a value differently; ``tests/app/test_fast_events.py``
checks that against pydantic on generated bodies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

ShortStr = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
# RFC 3339 with at most 6 fractional digits: pydantic truncates longer fractions where msgspec would round.
Timestamp = Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$")]
BIGINT_MAX = 2**63 - 1  # the token and money columns are BIGINT; web_searches and requests INTEGER
INT_MAX = 2**31 - 1
# Per call: far beyond any real call (a quadrillion tokens, $1M), and low enough that the sums of a whole
# batch (at most MAX_BATCH_EVENTS events) still fit the BIGINT rollup columns (schema.UsageIn uses them too).
MAX_TOKENS_PER_CALL = 10**15
MAX_COST_NANOS_PER_CALL = 10**15
MAX_BATCH_EVENTS = BIGINT_MAX // MAX_TOKENS_PER_CALL  # 9,223
NonNegative = Annotated[int, msgspec.Meta(ge=0, le=MAX_TOKENS_PER_CALL)]
SmallCount = Annotated[int, msgspec.Meta(ge=0, le=INT_MAX)]
MAX_TAGS = 20  # schema.EventIn allows as many


class FastUsage(msgspec.Struct, gc=False):
    input_tokens: NonNegative = 0
    cached_input_tokens: NonNegative = 0
    cache_write_tokens: NonNegative = 0
    cache_write_1h_tokens: NonNegative = 0
    output_tokens: NonNegative = 0
    reasoning_tokens: NonNegative = 0
    audio_seconds: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    web_searches: SmallCount = 0
    requests: SmallCount = 1
    units: Annotated[
        dict[Annotated[str, msgspec.Meta(max_length=64)], Annotated[float, msgspec.Meta(ge=0)]],
        msgspec.Meta(max_length=20),
    ] = {}


class FastEvent(msgspec.Struct, gc=False):
    """Same attribute names and meaning as ``schema.EventIn`` once ``decode_clean_batch`` has converted the
    timestamps (it replaces the strings with aware datetimes)."""

    span_id: ShortStr
    started_at: Timestamp  # replaced by an aware datetime after decoding
    provider: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    run_id: ShortStr | None = None
    parent_span_id: ShortStr | None = None
    ended_at: Timestamp | None = None
    model: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    endpoint: Annotated[str, msgspec.Meta(max_length=64)] = "unknown"
    status_code: Annotated[int, msgspec.Meta(ge=100, le=599)] | None = None
    streamed: bool = False
    incomplete: bool = False
    error: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    usage: FastUsage = msgspec.field(default_factory=FastUsage)
    customer_id: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    section_path: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    tags: Annotated[
        dict[Annotated[str, msgspec.Meta(max_length=64)], Annotated[str, msgspec.Meta(max_length=200)]],
        msgspec.Meta(max_length=MAX_TAGS),
    ] = {}
    batch: bool = False
    service_tier: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    provider_reported_cost: None = None  # any reported cost: pydantic's Decimal parsing decides
    sdk_version: Annotated[str, msgspec.Meta(max_length=40)] | None = None

    @property
    def failed(self) -> bool:
        """As ``schema.EventIn.failed``."""
        if self.status_code is not None:
            return self.status_code >= 400
        return self.error is not None


class _Batch(msgspec.Struct, gc=False):
    events: list[FastEvent]


_decoder = msgspec.json.Decoder(_Batch)


def decode_clean_batch(body: bytes | str) -> list[FastEvent] | None:
    """Every event of the body, decoded and validated, or None when the fast path cannot vouch for all."""
    try:
        events = _decoder.decode(body).events
        for event in events:
            if event.provider != event.provider.strip():  # EventIn strips it; let pydantic do that
                return None
            event.started_at = datetime.fromisoformat(event.started_at)  # type: ignore[arg-type]
            if event.ended_at is not None:
                event.ended_at = datetime.fromisoformat(event.ended_at)  # type: ignore[arg-type]
    # ValueError: e.g. offset +99:00; RecursionError: JSON nested deeper than msgspec decodes (the careful path
    # says so)
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError, RecursionError):
        return None
    return events
