"""The canonical usage of one provider call (see DESIGN.md) and its validation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

TOKEN_FIELDS = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
    "web_searches",
    "requests",
)


class InvalidUsage(ValueError):
    """Usage that cannot be priced (negative or inconsistent counts); the message names the field."""


@dataclass(frozen=True, slots=True)
class Usage:
    """Typed usage. ``input_tokens`` includes cache reads/writes; ``output_tokens`` includes reasoning."""

    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    audio_seconds: Decimal | int | float = 0
    web_searches: int = 0
    requests: int = 0
    units: Mapping[str, Decimal | int | float] = field(default_factory=dict)


def as_count(name: str, value: Any, *, integral: bool) -> int | Decimal:
    """Validate one usage count: a non-negative int (or Decimal/float when fractions are allowed)."""
    if type(value) is int:
        if value < 0:
            raise InvalidUsage(f"usage.{name} must be >= 0, got {value}")
        return value
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise InvalidUsage(f"usage.{name} must be a number, got {type(value).__name__}")
    try:
        dec = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except ArithmeticError:
        raise InvalidUsage(f"usage.{name} must be a number, got {value!r}") from None
    if not dec.is_finite() or dec < 0:
        raise InvalidUsage(f"usage.{name} must be a finite number >= 0, got {value!r}")
    if integral:
        if dec != dec.to_integral_value():
            raise InvalidUsage(f"usage.{name} must be a whole number, got {value!r}")
        return int(dec)
    return int(dec) if dec == dec.to_integral_value() else dec


_INT = frozenset({int})


def read_usage(usage: Mapping[str, Any] | Usage) -> tuple[tuple[int, ...], int | Decimal, dict[str, Any]]:
    """Return (token-like counts in TOKEN_FIELDS order, audio_seconds, units), validated.

    Hot path: a dict of non-negative ints is read without per-field checks (about 0.4 us)."""
    if isinstance(usage, Mapping):
        get = usage.get
        raw = (
            get("input_tokens", 0),
            get("cached_input_tokens", 0),
            get("cache_write_tokens", 0),
            get("cache_write_1h_tokens", 0),
            get("output_tokens", 0),
            get("reasoning_tokens", 0),
            get("web_searches", 0),
            get("requests", 0),
        )
        audio = get("audio_seconds", 0)
        units = get("units")
    elif isinstance(usage, Usage):
        raw = (
            usage.input_tokens,
            usage.cached_input_tokens,
            usage.cache_write_tokens,
            usage.cache_write_1h_tokens,
            usage.output_tokens,
            usage.reasoning_tokens,
            usage.web_searches,
            usage.requests,
        )
        audio = usage.audio_seconds
        units = usage.units
    else:
        raise InvalidUsage(f"usage must be a mapping or pricing.Usage, got {type(usage).__name__}")
    if _INT.issuperset(map(type, raw)) and min(raw) >= 0:
        counts = raw
    else:
        counts = tuple(as_count(name, v, integral=True) for name, v in zip(TOKEN_FIELDS, raw, strict=True))
    if not (type(audio) is int and audio >= 0):
        audio = as_count("audio_seconds", audio, integral=False)
    unit_counts: dict[str, Any] = {}
    if units:
        if not isinstance(units, Mapping):
            raise InvalidUsage(f"usage.units must be an object of name: count, got {type(units).__name__}")
        for name, value in units.items():
            if not isinstance(name, str) or not name:
                raise InvalidUsage(f"usage.units keys must be non-empty strings, got {name!r}")
            count = as_count(f"units.{name}", value, integral=False)
            if count:
                unit_counts[name] = count
    return counts, audio, unit_counts
