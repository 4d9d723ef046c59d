"""Property tests (hypothesis) over the whole bundled data."""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pricing import Registry, compute_cost, default_registry
from pricing.calc import effective_rates, price_usage, total
from pricing.model import Rate
from tests.pricing.conftest import AT

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _all_rate_tables() -> list[tuple[str, dict[str, Rate], dict[str, Rate]]]:
    """Every period of every entry, alone and with each variant laid over it."""
    tables = []
    for provider in default_registry().providers.values():
        for entry in provider.entries:
            for i, period in enumerate(entry.periods):
                sets = [(f"{entry.provider}/{entry.id}[{i}]", period.prices)]
                sets += [
                    (f"{entry.provider}/{entry.id}[{i}]+{v.label()}", period.prices.overlay(v.prices))
                    for v in entry.variants
                ]
                for name, prices in sets:
                    tables.append((name, effective_rates(prices), dict(prices.units)))
    return tables


TABLES = _all_rate_tables()
TOKEN_TABLES = [t for t in TABLES if "input" in t[1] and "output" in t[1]]
COMPONENTS = ("plain_input", "cached_input", "cache_write", "cache_write_1h", "plain_output", "reasoning")


@st.composite
def usages(draw: st.DrawFn) -> dict[str, int]:
    n = st.integers(0, 400_000)
    plain_in, cached, cw, cw1h, plain_out, reasoning = (draw(n) for _ in range(6))
    return {
        "input_tokens": plain_in + cached + cw + cw1h,
        "cached_input_tokens": cached,
        "cache_write_tokens": cw,
        "cache_write_1h_tokens": cw1h,
        "output_tokens": plain_out + reasoning,
        "reasoning_tokens": reasoning,
    }


def _cost(rates: dict[str, Rate], units: dict[str, Rate], usage: dict[str, int]) -> D | None:
    counts = tuple(
        usage.get(k, 0)
        for k in (
            "input_tokens",
            "cached_input_tokens",
            "cache_write_tokens",
            "cache_write_1h_tokens",
            "output_tokens",
            "reasoning_tokens",
            "web_searches",
            "requests",
        )
    )
    breakdown, missing = price_usage(rates, units, counts, 0, {})
    return None if missing else total(breakdown)


def _bump(usage: dict[str, int], component: str, delta: int) -> dict[str, int]:
    u = dict(usage)
    if component in ("plain_input", "cached_input", "cache_write", "cache_write_1h"):
        u["input_tokens"] += delta
        if component != "plain_input":
            u[f"{component}_tokens"] += delta
    else:
        u["output_tokens"] += delta
        if component == "reasoning":
            u["reasoning_tokens"] += delta
    return u


def test_the_data_covers_enough_price_tables() -> None:
    assert len(TOKEN_TABLES) > 2_000


@SETTINGS
@given(st.sampled_from(TOKEN_TABLES), usages(), st.sampled_from(COMPONENTS), st.integers(1, 300_000))
def test_cost_never_decreases_as_tokens_increase(table, usage, component, delta) -> None:
    _, rates, units = table
    before = _cost(rates, units, usage)
    after = _cost(rates, units, _bump(usage, component, delta))
    assume(before is not None and after is not None)
    assert after >= before


def test_a_cached_token_never_costs_more_than_an_uncached_one_in_any_entry() -> None:
    for name, rates, _ in TOKEN_TABLES:
        cached, inp = rates.get("cached_input"), rates["input"]
        if cached is None:
            continue
        for n in {0, *(a + 1 for a, _ in cached.tiers), *(a + 1 for a, _ in inp.tiers)}:
            assert cached.price_for(n) <= inp.price_for(n), name


@SETTINGS
@given(st.sampled_from(TOKEN_TABLES), usages(), st.integers(1, 100_000))
def test_reading_tokens_from_cache_never_costs_more(table, usage, k) -> None:
    _, rates, units = table
    assume(
        usage["input_tokens"]
        - usage["cached_input_tokens"]
        - usage["cache_write_tokens"]
        - usage["cache_write_1h_tokens"]
        >= k
    )
    cached = dict(usage, cached_input_tokens=usage["cached_input_tokens"] + k)
    before, after = _cost(rates, units, usage), _cost(rates, units, cached)
    assume(before is not None and after is not None)
    assert after <= before


prices = st.decimals(min_value=0, max_value=1000, places=6, allow_nan=False, allow_infinity=False)


@SETTINGS
@given(prices, prices, prices, st.integers(0, 10**12), st.integers(0, 10**12), st.integers(0, 10**12))
def test_decimal_arithmetic_is_exact(p_in, p_cached, p_out, plain_in, cached, out) -> None:
    assume(p_cached <= p_in)
    registry = Registry()
    registry.register_price("acme", "m", {"input_mtok": p_in, "cached_input_mtok": p_cached, "output_mtok": p_out})
    usage = {"input_tokens": plain_in + cached, "cached_input_tokens": cached, "output_tokens": out}
    cost = registry.compute_cost("acme", "m", usage, at=AT)
    exact = (
        Fraction(plain_in) * Fraction(p_in) + Fraction(cached) * Fraction(p_cached) + Fraction(out) * Fraction(p_out)
    ) / 1_000_000
    assert cost.usd is not None and Fraction(cost.usd) == exact


KNOWN = sorted(default_registry().providers)
names = st.text(alphabet="0123456789-_.", min_size=1, max_size=20).map(lambda s: f"zqx{s}")


@SETTINGS
@given(st.sampled_from([p for p in KNOWN if p not in ("pinecone", "tavily")]), names)
def test_unknown_models_are_unpriced(provider: str, model: str) -> None:
    cost = compute_cost(provider, model, {"input_tokens": 100, "output_tokens": 10}, at=AT)
    assert cost.usd is None and not cost.priced and cost.price_id is None


@SETTINGS
@given(st.text(min_size=0, max_size=30), st.sampled_from(
    [("openai", "gpt-4o"), ("anthropic", "claude-3-5-sonnet-20241022"), ("google", "gemini-2.5-pro")]))
def test_unknown_providers_get_the_vendor_price_marked_inferred(provider: str, vendor_model: tuple[str, str]) -> None:
    from pricing.aliases import canonical_provider

    assume(canonical_provider(provider) not in default_registry().providers)
    vendor = compute_cost(*vendor_model, {"input_tokens": 100}, at=AT)
    cost = compute_cost(provider, vendor_model[1], {"input_tokens": 100}, at=AT)
    assert (cost.usd, cost.priced, cost.price_id) == (vendor.usd, True, f"inferred:{vendor.price_id}")


@SETTINGS
@given(st.text(min_size=0, max_size=30),
       st.sampled_from(["llama3.1:8b", "qwen2.5-coder", "my-model", "deepseek-r1:7b"]))
def test_unknown_providers_with_self_hosted_names_are_unpriced(provider: str, model: str) -> None:
    from pricing.aliases import canonical_provider

    assume(canonical_provider(provider) not in default_registry().providers)
    cost = compute_cost(provider, model, {"input_tokens": 100}, at=AT)
    assert cost.usd is None and not cost.priced


@pytest.mark.parametrize("provider", ["pinecone", "tavily"])
def test_catch_all_services_still_refuse_tokens_they_cannot_price(provider: str) -> None:
    cost = compute_cost(provider, "zqx-anything", {"input_tokens": 100}, at=AT)
    assert not cost.priced
