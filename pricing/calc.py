"""Price one usage with one resolved PriceSet: leaf counts, fallback rates, exact sums."""

from __future__ import annotations

from decimal import Decimal

from pricing.model import PARENT, UNIT_PARENT, PriceSet, Rate
from pricing.money import EXACT
from pricing.usage import InvalidUsage


def effective_rates(prices: PriceSet) -> dict[str, Rate]:
    """Each token component's rate, falling back along PARENT (cache read -> input, ...)."""
    rates = dict(prices.rates)
    for component in ("cache_write", "cache_write_1h", "cached_input", "reasoning"):
        if component not in rates:
            parent = PARENT[component]
            while parent not in rates and parent in PARENT:
                parent = PARENT[parent]
            if parent in rates:
                rates[component] = rates[parent]
    return rates


def price_usage(
    rates: dict[str, Rate],
    units_prices: dict[str, Rate],
    counts: tuple[int, ...],
    audio_seconds: int | Decimal,
    units: dict[str, int | Decimal],
    audio_min_seconds: int = 0,
) -> tuple[dict[str, Decimal], list[str]]:
    """Return (breakdown, components with usage but no rate)."""
    inp, cached, cw, cw1h, out, reasoning, web, requests = counts
    breakdown: dict[str, Decimal] = {}
    missing: list[str] = []
    leaf_in = inp - cached - cw - cw1h
    leaf_cached = cached
    leaf_out = out - reasoning
    unit_leaves: dict[str, int | Decimal] = {}
    if units:
        unit_leaves = dict(units)
        for name, count in units.items():
            parent = UNIT_PARENT.get(name)
            if parent == "input":
                leaf_in -= count
            elif parent == "cached_input":
                leaf_cached -= count
            elif parent == "output":
                leaf_out -= count
            elif parent is not None and parent[6:] in unit_leaves:
                unit_leaves[parent[6:]] -= count
                if unit_leaves[parent[6:]] < 0:
                    raise InvalidUsage(f"usage.units.{name} ({count}) exceeds usage.{parent} ({units[parent[6:]]})")
    if leaf_in < 0:
        raise InvalidUsage(
            f"usage.input_tokens ({inp}) must include cached_input_tokens, cache_write_tokens, "
            f"cache_write_1h_tokens and input units (together {inp - leaf_in})"
        )
    if leaf_cached < 0:
        raise InvalidUsage(f"usage.cached_input_tokens ({cached}) is less than its cached units")
    if leaf_out < 0:
        raise InvalidUsage(
            f"usage.output_tokens ({out}) must include reasoning_tokens and output units (together {out - leaf_out})"
        )
    items = [
        ("input", leaf_in),
        ("cached_input", leaf_cached),
        ("cache_write", cw),
        ("cache_write_1h", cw1h),
        ("output", leaf_out),
        ("reasoning", reasoning),
        ("audio", max(audio_seconds, audio_min_seconds) if audio_seconds else 0),
        ("web_searches", web),
    ]
    if "requests" in rates:  # one event is one call: a per-request fee applies at least once
        items.append(("requests", requests or 1))
    mul = EXACT.multiply
    for component, count in items:
        if not count:
            continue
        rate = rates.get(component)
        if rate is None:
            missing.append(component)
        elif rate.flat is not None:
            breakdown[component] = mul(count, rate.flat)
        else:
            breakdown[component] = rate.amount(count, inp)
    for name, count in unit_leaves.items():
        if not count:
            continue
        rate = units_prices.get(name)
        if rate is None:
            parent = UNIT_PARENT.get(name)
            if parent is not None and parent.startswith("units:"):
                rate = units_prices.get(parent[6:])
            elif parent is not None:
                rate = rates.get(parent)
        if rate is None:
            missing.append(f"units:{name}")
        else:
            breakdown[f"units:{name}"] = rate.amount(count, inp)
    return breakdown, missing


def total(breakdown: dict[str, Decimal]) -> Decimal:
    add = EXACT.add
    result = _ZERO
    for amount in breakdown.values():
        result = add(result, amount)
    return result


_ZERO = Decimal(0)
