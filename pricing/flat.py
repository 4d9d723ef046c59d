"""Integer pricing of plain token calls: the ingest hot path.

Most calls are a model's standard rates applied to token counts: no batch or service tier, no audio, no
units, and every rate flat (untiered). For those, ``Registry.compute_cost`` builds a Decimal per component
and sums them; here each rate is an integer multiplier of 10**-scale USD, so the exact cost is an integer
sum of products, scaled and rounded half-even at the end — the same number, several times faster. Anything
else (and any usage the general path would reject or leave unpriced) returns None: the caller then takes
``compute_cost``. ``tests/pricing/test_flat_prices.py`` checks the two agree on every model in the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pricing.model import Entry, Rate

_COMPONENTS = ("input", "cached_input", "cache_write", "cache_write_1h", "output", "reasoning", "web_searches")
_MAX_EXACT = 10**28  # beyond 28 digits a Decimal multiplication in the default context would round


@dataclass(frozen=True, slots=True)
class FlatPrices:
    """One model's plain rates as integers of 10**-scale USD per unit (None: no such rate)."""

    price_id: str
    scale: int
    input: int | None
    cached_input: int | None
    cache_write: int | None
    cache_write_1h: int | None
    output: int | None
    reasoning: int | None
    web_searches: int | None
    requests: int | None  # per call, charged at least once when the model has such a fee
    has_request_fee: bool

    def cost(self, input_tokens: int, cached_input_tokens: int, cache_write_tokens: int, cache_write_1h_tokens: int,
             output_tokens: int, reasoning_tokens: int, web_searches: int, requests: int, exponent: int) -> int | None:
        """The cost in units of 10**-exponent USD, rounded half-even (``exponent=9``: nano-dollars), or None
        when the call needs the general path (a count with no rate, inconsistent counts, no usage at all)."""
        leaf_in = input_tokens - cached_input_tokens - cache_write_tokens - cache_write_1h_tokens
        leaf_out = output_tokens - reasoning_tokens
        if leaf_in < 0 or leaf_out < 0:
            return None
        total = 0
        priced_any = False
        for count, multiplier in ((leaf_in, self.input), (cached_input_tokens, self.cached_input),
                                  (cache_write_tokens, self.cache_write), (cache_write_1h_tokens, self.cache_write_1h),
                                  (leaf_out, self.output), (reasoning_tokens, self.reasoning),
                                  (web_searches, self.web_searches)):
            if count:
                if multiplier is None:
                    return None
                total += count * multiplier
                priced_any = True
        if self.has_request_fee:
            if self.requests is None:
                return None
            total += (requests or 1) * self.requests
            priced_any = True
        if not priced_any or total >= _MAX_EXACT:
            return None
        shift = exponent - self.scale
        if shift >= 0:
            return total * 10**shift
        quotient, remainder = divmod(total, 10**-shift)
        twice = 2 * remainder
        if twice > 10**-shift or (twice == 10**-shift and quotient & 1):
            quotient += 1
        return quotient


def _flat_unit(rate: Rate | None) -> Decimal | None:
    return None if rate is None else rate.flat


def build_flat_prices(entry: Entry, plain: tuple) -> FlatPrices | None:
    """FlatPrices of an entry's always-in-force period from its resolved plain rates
    (``(rates, unit_prices, price_id, notes)``, as ``compute_cost`` caches them), or None when a rate is
    tiered or the model is billed with nothing but units."""
    rates, unit_prices, price_id, _notes = plain
    if not rates:
        return None
    units: dict[str, Decimal | None] = {name: _flat_unit(rates.get(name)) for name in (*_COMPONENTS, "requests")}
    present = [name for name in units if rates.get(name) is not None]
    if any(units[name] is None for name in present):  # a tiered rate: its price depends on the call
        return None
    if "input" not in rates and "output" not in rates and not present:
        return None
    scale = max((-units[name].as_tuple().exponent for name in present), default=0)  # type: ignore[union-attr]
    scale = max(scale, 0)

    def multiplier(name: str) -> int | None:
        unit = units[name]
        if unit is None:
            return None
        _sign, digits, exponent = unit.as_tuple()  # rates are >= 0; exponent + scale >= 0 by the choice of scale
        return int("".join(map(str, digits))) * 10 ** (exponent + scale)  # type: ignore[operator]

    return FlatPrices(price_id, scale, *(multiplier(name) for name in _COMPONENTS), multiplier("requests"),
                      "requests" in rates)
