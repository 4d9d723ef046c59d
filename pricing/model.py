"""Immutable price-data types: a Rate, the prices of one period, an Entry (one model's prices)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time
from decimal import Decimal, Inexact
from typing import Any, NamedTuple

from pricing.match import Matcher
from pricing.money import EXACT, divide

# Our price keys -> (component, per). Components are the keys of Cost.breakdown.
PRICE_KEYS: dict[str, tuple[str, int]] = {
    "input_mtok": ("input", 1_000_000),
    "cached_input_mtok": ("cached_input", 1_000_000),
    "cache_write_mtok": ("cache_write", 1_000_000),
    "cache_write_1h_mtok": ("cache_write_1h", 1_000_000),
    "output_mtok": ("output", 1_000_000),
    "reasoning_mtok": ("reasoning", 1_000_000),
    "audio_hour": ("audio", 3_600),
    "audio_minute": ("audio", 60),
    "web_searches_k": ("web_searches", 1_000),
    "requests_k": ("requests", 1_000),
}
# A component without its own price is billed at its parent's rate (e.g. cache reads at the input rate
# when a provider has no caching discount); a component with no rate in its chain makes the cost unknown.
PARENT: dict[str, str] = {
    "cached_input": "input",
    "cache_write": "input",
    "cache_write_1h": "cache_write",
    "reasoning": "output",
}
# Units that are a part of a token bucket or of another unit: their count is taken out of the parent's
# count, and without a price of their own they cost what the parent costs. Units not listed here are
# independent (Pinecone read units, images, credits...).
UNIT_PARENT: dict[str, str] = {
    "input_audio_tokens": "input",
    "input_image_tokens": "input",
    "input_video_tokens": "input",
    "cached_input_audio_tokens": "cached_input",
    "cached_input_image_tokens": "cached_input",
    "output_audio_tokens": "output",
    "output_image_tokens": "output",
    "output_video_tokens": "output",
    "citation_tokens": "output",
    "annotated_document_pages": "units:document_pages",
}


@dataclass(frozen=True, slots=True)
class Rate:
    """A price of ``base`` USD per ``per`` units; ``tiers`` ((above, price), ...) ascending switch the
    price for the whole call when its input tokens are strictly above ``above``."""

    base: Decimal
    per: int
    tiers: tuple[tuple[int, Decimal], ...] = ()
    _unit: Decimal | None = field(default=None, compare=False, repr=False)
    _tier_units: tuple[tuple[int, Decimal | None], ...] = field(default=(), compare=False, repr=False)
    flat: Decimal | None = field(default=None, compare=False, repr=False)
    """USD per single unit when untiered and exact: the hot path multiplies by it directly."""

    @classmethod
    def make(cls, base: Decimal, per: int, tiers: tuple[tuple[int, Decimal], ...] = ()) -> Rate:
        unit = _unit_price(base, per)
        tier_units = tuple((a, _unit_price(p, per)) for a, p in tiers)
        return cls(base, per, tiers, unit, tier_units, None if tiers else unit)

    def price_for(self, input_tokens: int) -> Decimal:
        price = self.base
        for above, tier_price in self.tiers:
            if input_tokens > above:
                price = tier_price
        return price

    def amount(self, count: int | Decimal, input_tokens: int) -> Decimal:
        """USD for ``count`` units in a call with ``input_tokens`` input tokens (selects the tier)."""
        unit = self._unit
        price = self.base
        if self.tiers:
            for (above, tier_price), (_, tier_unit) in zip(self.tiers, self._tier_units, strict=True):
                if input_tokens > above:
                    unit, price = tier_unit, tier_price
        if unit is not None:
            return EXACT.multiply(count, unit)
        return divide(EXACT.multiply(count, price), self.per)

    def describe(self) -> str:
        text = f"${self.base}"
        for above, price in self.tiers:
            text += f" (>{above:,} input tokens: ${price})"
        return text


def _unit_price(price: Decimal, per: int) -> Decimal | None:
    try:
        return EXACT.divide(price, per)
    except Inexact:
        return None


@dataclass(frozen=True, slots=True)
class PriceSet:
    """Prices of one period or variant: component -> Rate, unit name -> Rate."""

    rates: Mapping[str, Rate]
    units: Mapping[str, Rate] = field(default_factory=dict)

    def overlay(self, other: PriceSet) -> PriceSet:
        """Prices of ``self`` with every key ``other`` sets replaced (variants override per key)."""
        return PriceSet({**self.rates, **other.rates}, {**self.units, **other.units})


@dataclass(frozen=True, slots=True)
class When:
    """When a period or variant is in force: from a UTC instant and/or within a daily UTC window."""

    start: datetime | None = None
    daily: tuple[time, time] | None = None

    @property
    def always(self) -> bool:
        return self.start is None and self.daily is None

    def active(self, at: datetime) -> bool:
        if self.start is not None and at < self.start:
            return False
        if self.daily is not None:
            now = at.astimezone(UTC).time()
            begin, end = self.daily
            if end <= begin:  # window crosses midnight
                return now >= begin or now < end
            return begin <= now < end
        return True

    def label(self) -> str:
        text = "base" if self.start is None else self.start.strftime("%Y-%m-%d")
        if self.start is not None and (self.start.hour or self.start.minute):
            text = self.start.strftime("%Y-%m-%dT%H:%MZ")
        if self.daily is not None:
            text += f"~{self.daily[0]:%H:%M}-{self.daily[1]:%H:%M}UTC"
        return text


@dataclass(frozen=True, slots=True)
class Period:
    when: When
    prices: PriceSet


NOT_BUILT: Any = object()  # an Entry cache slot not filled yet (None is a valid value)


@dataclass(frozen=True, slots=True)
class Variant:
    """Partial prices for a request context, e.g. {"batch": true} or {"service_tier": "flex"}."""

    conditions: Mapping[str, Any]
    when: When
    prices: PriceSet

    def label(self) -> str:
        text = "+".join("batch" if k == "batch" else f"{k}={v}" for k, v in self.conditions.items())
        return text if self.when.always else f"{text}({self.when.label()})"


@dataclass(eq=False, slots=True)
class Entry:
    """One model's prices from one data source, with its match rule and history."""

    provider: str
    id: str
    match: Matcher
    match_spec: Mapping[str, Any]
    periods: tuple[Period, ...]
    variants: tuple[Variant, ...] = ()
    name: str | None = None
    context_window: int | None = None
    notes: str | None = None
    deprecated: bool = False
    audio_min_seconds: int = 0
    source: str = "bundled"
    version: str = ""
    always_in_force: bool = False
    fixed_period: int | None = None
    inferred: bool = False  # a copy priced for a generic provider by ``pricing.infer``: price ids say so
    _plain: list[Any] = field(default_factory=list, repr=False)
    _flat: list[Any] = field(default_factory=list, repr=False)  # pricing.flat per period, built on first use
    _with_variants: dict[Any, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.always_in_force = any(p.when.always for p in self.periods)
        # the last active period wins, so an unconstrained last period is always the one in force
        self.fixed_period = len(self.periods) - 1 if self.periods[-1].when.always else None
        self._plain = [None] * len(self.periods)
        self._flat = [NOT_BUILT] * len(self.periods)

    def as_inferred(self) -> Entry:
        """This entry for calls from a generic provider: same prices, its own caches, ``inferred:`` ids."""
        return replace(self, inferred=True, _with_variants={})

    def period_index(self, at: datetime) -> int | None:
        """Index of the period in force at ``at``: the last active one (later entries win)."""
        periods = self.periods
        for i in range(len(periods) - 1, -1, -1):
            if periods[i].when.active(at):
                return i
        return None

    def price_id(self, period: int, variant_label: str = "") -> str:
        prefix = "" if self.source in ("bundled", "additions") else f"{self.source}:"
        if self.inferred:
            prefix = f"inferred:{prefix}"
        label = self.periods[period].when.label()
        if variant_label:
            label += f"+{variant_label}"
        return f"{prefix}{self.provider}/{self.id}@{label}#{self.version}"


class Cost(NamedTuple):
    """The price of one call. ``usd`` is None (and ``priced`` False) when it cannot be known:
    callers show "unpriced", never $0. ``breakdown`` maps components (input, cached_input, cache_write,
    cache_write_1h, output, reasoning, audio, web_searches, requests, units:<name>) to USD; ``notes``
    explain standard-rate fallbacks and why a call is unpriced. (A NamedTuple: immutable and cheap.)"""

    usd: Decimal | None
    priced: bool
    price_id: str | None
    breakdown: dict[str, Decimal]
    notes: tuple[str, ...] = ()
