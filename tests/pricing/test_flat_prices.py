"""The integer fast path (``pricing.flat``) prices exactly as ``compute_cost`` does, on every model in the data."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_EVEN, Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pricing
from pricing import compute_cost, default_registry, flat_prices
from pricing.registry import _CACHE_MAX
from tests.pricing.conftest import AT

FIELDS = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens", "output_tokens",
          "reasoning_tokens", "web_searches", "requests")


def _models() -> list[tuple[str, str]]:
    """One (provider, model) per entry of the data matched by name."""
    models = []
    for provider in default_registry().providers.values():
        for entry in provider.entries:
            if isinstance(entry.match_spec, dict) and "equals" in entry.match_spec:
                models.append((provider.id, entry.match_spec["equals"]))
    return sorted(set(models))


MODELS = _models()
COUNT = st.one_of(st.just(0), st.integers(0, 10), st.integers(0, 300_000), st.integers(0, 2**63 - 1))


def _scaled(usd: Decimal, exponent: int) -> int:
    """What ``llmobserve_app.services.money.usd_to_nanos`` does for exponent 9."""
    return int((usd * 10**exponent).to_integral_value(rounding=ROUND_HALF_EVEN))


def test_most_models_have_flat_prices() -> None:
    flat = [model for model in MODELS if flat_prices(*model, AT) is not None]
    assert len(MODELS) > 300 and len(flat) > 0.8 * len(MODELS), (len(flat), len(MODELS))


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(MODELS), st.lists(COUNT, min_size=8, max_size=8), st.sampled_from([9, 9, 9, 6, 12, 0]))
def test_flat_cost_equals_compute_cost(model: tuple[str, str], counts: list[int], exponent: int) -> None:
    usage = dict(zip(FIELDS, counts, strict=True))
    if counts[0] and counts[1:4] != [0, 0, 0]:  # mostly consistent counts: cache parts within the input
        usage["cached_input_tokens"] = counts[1] % (counts[0] + 1)
        usage["cache_write_tokens"] = counts[2] % (counts[0] - usage["cached_input_tokens"] + 1)
        usage["cache_write_1h_tokens"] = 0
    if counts[4]:
        usage["reasoning_tokens"] = counts[5] % (counts[4] + 1)
    flat = flat_prices(*model, AT)
    if flat is None:
        return
    fast = flat.cost(*(usage[name] for name in FIELDS), exponent=exponent)
    try:
        cost = compute_cost(*model, usage, at=AT)
    except pricing.InvalidUsage:
        assert fast is None
        return
    if fast is None:  # the general path was needed: unpriced, or something the fast path leaves to it
        return
    assert cost.priced and cost.usd is not None and cost.price_id == flat.price_id
    assert fast == _scaled(cost.usd, exponent)


def test_plain_calls_of_common_models_take_the_fast_path() -> None:
    for provider, model in [("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-20250514"),
                            ("openai", "text-embedding-3-small"), ("mistral", "mistral-small-latest")]:
        flat = flat_prices(provider, model, AT)
        assert flat is not None, model
        output = 0 if "embedding" in model else 77
        usage = {"input_tokens": 1234, "cached_input_tokens": 200, "output_tokens": output}
        assert flat.cost(1234, 200, 0, 0, output, 0, 0, 1, exponent=9) == _scaled(
            compute_cost(provider, model, usage, at=AT).usd, 9)


def test_registering_a_price_replaces_the_fast_path_rates(fresh_registry: pricing.Registry) -> None:
    before = flat_prices("openai", "gpt-4o-mini", AT)
    pricing.register_price("openai", "gpt-4o-mini", {"input_mtok": "1", "output_mtok": "2"})
    after = flat_prices("openai", "gpt-4o-mini", AT)
    assert before is not None and after is not None and after.input != before.input
    assert after.cost(1_000_000, 0, 0, 0, 1_000_000, 0, 0, 1, exponent=9) == 3 * 10**9


def test_unknown_models_are_a_cached_bounded_miss_that_price_changes_clear(
    fresh_registry: pricing.Registry, tmp_path, monkeypatch
) -> None:
    """``unknown_model`` lets ingest skip ``compute_cost`` for models without a price: a miss stays a miss,
    the cache of misses stays bounded, and registering or reloading prices is seen at once."""
    model = "no-such-model-for-the-miss-cache"
    for _ in range(2):  # the second answer comes from the cache
        assert pricing.unknown_model("openai", model)
        assert not compute_cost("openai", model, {"input_tokens": 10}, at=AT).priced
    assert not pricing.unknown_model("openai", "gpt-4o-mini")
    pricing.register_price("openai", model, {"input_mtok": "1"})
    assert not pricing.unknown_model("openai", model)
    assert pricing.reload() and pricing.unknown_model("openai", model)  # runtime prices dropped
    path = tmp_path / "overrides.json"
    path.write_text(json.dumps({"providers": [{"id": "openai", "models": [{"id": model, "prices": {
        "input_mtok": "3"}}]}]}))
    monkeypatch.setenv("PRICING_OVERRIDES", str(path))
    pricing.reload()
    assert not pricing.unknown_model("openai", model)
    assert compute_cost("openai", model, {"input_tokens": 1_000_000}, at=AT).usd == Decimal(3)
    registry = pricing.default_registry()
    for index in range(_CACHE_MAX + 10):  # model names come from clients: misses cannot grow memory unbounded
        assert pricing.unknown_model("openai", f"made-up-{index}")
    assert len(registry._cache) <= _CACHE_MAX
