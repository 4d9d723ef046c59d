"""One account's own prices laid over the shared ones: ``CustomPricing`` answers ``flat_prices``,
``unknown_model`` and ``compute_cost`` as the ``pricing`` module does, preferring the account's prices.

A custom price names a provider (or none: any provider) and a model, plain token rates per million tokens, an
optional per-request fee and an optional ``effective_from``. For a call it applies when it is the latest of
that provider and model in force at the call's start; else a provider-less one of that model; else the shared
prices (bundled, overrides, inference) as for every other account. Its price id names it:
``custom:openai/gpt-4o@2026-12-01#price-17`` (``*`` for any provider; ``price-17`` is the caller's label).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pricing.aliases import canonical_provider
from pricing.flat import FlatPrices
from pricing.loader import ProviderData, parse_entry
from pricing.model import Cost
from pricing.registry import Registry, in_force
from pricing.usage import Usage

ANY_PROVIDER = "*"
CUSTOM_SOURCE = "custom"
# The price keys a custom price may set (the data format's keys; see pricing/data/README.md).
CUSTOM_PRICE_KEYS = ("input_mtok", "output_mtok", "cached_input_mtok", "reasoning_mtok", "requests_k")


@dataclass(frozen=True, slots=True)
class CustomRate:
    """One custom price as pricing needs it. ``prices`` uses ``CUSTOM_PRICE_KEYS`` (USD, exact Decimals)."""

    label: str  # the price id's version part, e.g. "price-17": traces a stored cost to its row
    provider: str | None  # None: any provider
    model: str
    prices: Mapping[str, Decimal]
    effective_from: datetime | None = None


def custom_registry(rates: Iterable[CustomRate]) -> Registry:
    """A registry holding only ``rates`` (no inference): per provider and model, the latest
    ``effective_from`` first, so the first one in force at a call's start is the one that applies.
    Raises ValueError naming the price key for prices the data format refuses (cached above input)."""
    grouped: dict[tuple[str, str], list[CustomRate]] = {}
    for rate in rates:
        pid = ANY_PROVIDER if rate.provider is None else canonical_provider(rate.provider)
        grouped.setdefault((pid, rate.model.strip().lower()), []).append(rate)
    registry = Registry(infer=False)
    for (pid, model), group in grouped.items():
        group.sort(key=lambda r: r.effective_from or datetime.min.replace(tzinfo=UTC), reverse=True)
        data = registry.providers.setdefault(pid, ProviderData(id=pid))
        for rate in group:
            period: dict[str, Any] = {"prices": {k: v for k, v in rate.prices.items() if v is not None}}
            if rate.effective_from is not None:
                period["from"] = rate.effective_from
            raw = {"id": model, "match": {"equals": model}, "periods": [period]}
            data.entries.append(parse_entry(pid, raw, source=CUSTOM_SOURCE, version=rate.label))
    registry.sources.append(CUSTOM_SOURCE)
    return registry


class CustomPricing:
    """An account's prices over ``base`` (the process-wide registry when None, looked up at each call so a
    ``pricing.reload()`` is seen)."""

    def __init__(self, rates: Iterable[CustomRate], base: Registry | None = None) -> None:
        self.custom = custom_registry(rates)
        self._base = base

    def _shared(self) -> Registry:
        if self._base is not None:
            return self._base
        from pricing import default_registry  # the package's lazily loaded registry

        return default_registry()

    def _custom_key(self, provider: str, model: str, at: datetime) -> str | None:
        """The custom registry's provider key whose price is in force for this call, or None."""
        custom = self.custom
        for key in (provider, ANY_PROVIDER):
            hit = custom.lookup(key, model)
            if hit is not None and in_force(hit[1], at) is not None:
                return key
        return None

    def flat_prices(self, provider: str, model: str, at: datetime) -> FlatPrices | None:
        key = self._custom_key(provider, model, at)
        if key is not None:
            return self.custom.flat_prices(key, model, at)
        return self._shared().flat_prices(provider, model, at)

    def price_changes(self, provider: str, model: str) -> tuple[datetime, ...] | None:
        """The instants at which this account's price for a call may change (custom and shared periods), or
        None when one is in force only daily."""
        starts: set[datetime] = set()
        for registry, key in ((self.custom, provider), (self.custom, ANY_PROVIDER), (self._shared(), provider)):
            found = registry.price_changes(key, model)
            if found is None:
                return None
            starts.update(found)
        return tuple(sorted(starts))

    def unknown_model(self, provider: str, model: str) -> bool:
        custom = self.custom
        if custom.lookup(provider, model) is not None or custom.lookup(ANY_PROVIDER, model) is not None:
            return False
        return self._shared().lookup(provider, model) is None

    def compute_cost(self, provider: str, model: str, usage: Mapping[str, Any] | Usage, *,
                     at: datetime | None = None, **options: Any) -> Cost:
        when = datetime.now(UTC) if at is None else at
        key = self._custom_key(provider, model, when) if when.tzinfo is not None else None
        if key is not None:
            return self.custom.compute_cost(key, model, usage, at=when, **options)
        return self._shared().compute_cost(provider, model, usage, at=at, **options)
