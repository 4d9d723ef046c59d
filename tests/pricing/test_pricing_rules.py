"""Rules: tier boundaries, effective dates, variants, provider rules, unpriced cases, bad input."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from pricing import InvalidUsage, compute_cost
from tests.pricing.conftest import AT

# ----- context-length tiers: strictly above the threshold, then every token at the tier price ------


@pytest.mark.parametrize(
    ("input_tokens", "usd"),
    [
        (199_999, D(199_999) * D("1.25") / 1_000_000 + D("0.01")),  # base $1.25 in, $10 out
        (200_000, D("0.25") + D("0.01")),  # exactly at 200K: still base (threshold is strict)
        (200_001, D("0.5000025") + D("0.015")),  # one above: $2.50 in and $15 out for all tokens
    ],
)
def test_gemini_25_pro_tier_boundary(input_tokens: int, usd: D) -> None:
    cost = compute_cost("google", "gemini-2.5-pro", {"input_tokens": input_tokens, "output_tokens": 1_000}, at=AT)
    assert cost.usd == usd


@pytest.mark.parametrize(
    ("input_tokens", "cached", "usd"),
    [
        # gpt-5.4: $2.50 in, $0.25 cached, $15 out; above 272K: $5, $0.50, $22.50
        (272_000, 72_000, D("0.5") + D("0.018") + D("0.015")),  # 200000*2.5/M + 72000*0.25/M + 1000*15/M
        (272_001, 72_000, D("1.000005") + D("0.036") + D("0.0225")),  # 200001*5/M + 72000*0.5/M + 1000*22.5/M
    ],
)
def test_gpt_54_tier_boundary_applies_to_cached_and_output(input_tokens: int, cached: int, usd: D) -> None:
    usage = {"input_tokens": input_tokens, "cached_input_tokens": cached, "output_tokens": 1_000}
    assert compute_cost("openai", "gpt-5.4", usage, at=AT).usd == usd


def test_claude_sonnet_45_tier_boundary_for_cache_writes() -> None:
    # $3.75 5m write below/at 200K, $7.50 above; 1h write $6 / $12
    at_limit = compute_cost(
        "anthropic", "claude-sonnet-4-5", {"input_tokens": 200_000, "cache_write_tokens": 200_000}, at=AT
    )
    above = compute_cost(
        "anthropic", "claude-sonnet-4-5", {"input_tokens": 200_001, "cache_write_tokens": 200_001}, at=AT
    )
    assert at_limit.usd == D("0.75")  # 200000*3.75/M
    assert above.usd == D("1.5000075")  # 200001*7.5/M


# ----- effective dates ---------------------------------------------------------------------------


def test_price_id_names_the_period_in_force() -> None:
    before = compute_cost("openai", "o3", {"input_tokens": 1}, at=datetime(2025, 1, 1, tzinfo=UTC))
    after = compute_cost("openai", "o3", {"input_tokens": 1}, at=datetime(2025, 7, 1, tzinfo=UTC))
    assert before.price_id == "openai/o3@base#2026-11-23.1"
    assert after.price_id == "openai/o3@2025-06-10#2026-11-23.1"


def test_batch_before_the_batch_price_is_known_uses_standard_with_a_note() -> None:
    # gpt-4o's batch rate is in the data from 2026-10-14 only
    cost = compute_cost(
        "openai", "gpt-4o", {"input_tokens": 1_000_000}, at=datetime(2026, 1, 1, tzinfo=UTC), batch=True
    )
    assert cost.usd == D("2.5")
    assert any("no batch price" in n for n in cost.notes)


def test_naive_at_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_cost("openai", "gpt-4o", {"input_tokens": 1}, at=datetime(2026, 1, 1))


def test_at_in_other_timezone_is_compared_as_an_instant() -> None:
    from datetime import timedelta, timezone

    # 2025-06-10 01:00 at UTC+02:00 is 2025-06-09 23:00 UTC: still the old o3 price ($10 in)
    at = datetime(2025, 6, 10, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    assert compute_cost("openai", "o3", {"input_tokens": 1_000_000}, at=at).usd == D("10")


# ----- variants ------------------------------------------------------------------------------------


def test_service_tier_batch_means_batch() -> None:
    a = compute_cost("openai", "gpt-4o", {"input_tokens": 1000}, at=AT, service_tier="batch")
    b = compute_cost("openai", "gpt-4o", {"input_tokens": 1000}, at=AT, batch=True)
    assert a == b and "+batch" in (a.price_id or "")


def test_unknown_service_tier_is_standard_with_a_note() -> None:
    cost = compute_cost("openai", "gpt-4o", {"input_tokens": 1_000_000}, at=AT, service_tier="scale")
    assert cost.usd == D("2.5")
    assert any("service_tier 'scale'" in n for n in cost.notes)


def test_fallback_provider_does_not_get_the_other_providers_batch_price() -> None:
    # azure has no gpt-4o-mini entry of its own; it falls back to OpenAI's list price, not OpenAI's batch price
    cost = compute_cost("azure", "gpt-4o-mini", {"input_tokens": 1_000_000}, at=AT, batch=True)
    assert cost.usd == D("0.15")
    assert cost.price_id == "openai/gpt-4o-mini@base#2026-11-23.1"


# ----- provider rules ------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai-compatible", "litellm", "ollama", "vllm", "", "OpenAI-Compatible"])
def test_unknown_provider_with_a_self_hosted_model_is_unpriced(provider: str) -> None:
    # a well-known vendor name is priced at the vendor's price (tests/pricing/test_inference.py); this is not one
    cost = compute_cost(provider, "llama3.1:8b", {"input_tokens": 1000, "output_tokens": 10}, at=AT)
    assert (cost.usd, cost.priced, cost.price_id, cost.breakdown) == (None, False, None, {})


@pytest.mark.parametrize(("provider", "model"), [("openai", "gpt-99-ultra"), ("anthropic", "haiku"), ("openai", "")])
def test_unknown_model_is_unpriced_never_zero(provider: str, model: str) -> None:
    cost = compute_cost(provider, model, {"input_tokens": 1000}, at=AT)
    assert cost.usd is None and not cost.priced


def test_provider_names_are_case_insensitive() -> None:
    assert compute_cost("OpenAI", "GPT-4o", {"input_tokens": 1_000_000}, at=AT).usd == D("2.5")


def test_provider_reported_cost_wins() -> None:
    cost = compute_cost("openrouter", "openai/gpt-4o", {"input_tokens": 1000}, at=AT, provider_reported_cost="0.0123")
    assert (cost.usd, cost.priced, cost.price_id) == (D("0.0123"), True, "provider_reported")
    # even for a model we do not know, and a float is read through its repr (0.1 stays 0.1)
    cost = compute_cost("openrouter", "some/new-model", {}, provider_reported_cost=0.1)
    assert cost.usd == D("0.1") and cost.priced


def test_provider_reported_zero_is_a_real_zero() -> None:
    assert compute_cost("openrouter", "x/free", {}, provider_reported_cost=0).usd == D(0)


@pytest.mark.parametrize("bad", ["-1", "nan", "abc", True])
def test_bad_provider_reported_cost(bad: object) -> None:
    with pytest.raises(ValueError, match="provider_reported_cost"):
        compute_cost("openrouter", "openai/gpt-4o", {}, provider_reported_cost=bad)  # type: ignore[arg-type]


# ----- components without a price ------------------------------------------------------------------


def test_usage_the_entry_cannot_price_makes_the_call_unpriced() -> None:
    # mistral-large has no web search price: the total would be too low, so it is unknown
    cost = compute_cost("mistral", "mistral-large-latest", {"input_tokens": 1000, "web_searches": 1}, at=AT)
    assert cost.usd is None and not cost.priced
    assert cost.breakdown == {"input": D("0.002")}
    assert "web_searches" in cost.notes[-1]


def test_unit_billed_entry_with_no_units_is_unpriced_not_zero() -> None:
    cost = compute_cost("openai", "dall-e-3", {}, at=AT)
    assert cost.usd is None and not cost.priced


def test_zero_token_llm_call_costs_zero() -> None:
    cost = compute_cost("openai", "gpt-4o", {}, at=AT)
    assert cost.usd == D(0) and cost.priced


def test_cache_read_without_discount_is_billed_at_input_rate() -> None:
    # mistral-large has no cache price: cached tokens cost the $2 input price
    cost = compute_cost("mistral", "mistral-large", {"input_tokens": 1000, "cached_input_tokens": 1000}, at=AT)
    assert cost.breakdown == {"cached_input": D("0.002")}


# ----- bad usage -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usage", "field"),
    [
        ({"input_tokens": -1}, "input_tokens"),
        ({"output_tokens": 1.5}, "output_tokens"),
        ({"input_tokens": "many"}, "input_tokens"),
        ({"input_tokens": 10, "cached_input_tokens": 11}, "input_tokens"),
        ({"output_tokens": 10, "reasoning_tokens": 11}, "output_tokens"),
        ({"units": {"read_units": -2}}, "units.read_units"),
        ({"units": [1, 2]}, "units"),
        ({"audio_seconds": float("nan")}, "audio_seconds"),
    ],
)
def test_invalid_usage_names_the_field(usage: dict, field: str) -> None:
    with pytest.raises(InvalidUsage, match=field):
        compute_cost("openai", "gpt-4o", usage, at=AT)


def test_missing_keys_are_zero_and_none_is_zero() -> None:
    cost = compute_cost("openai", "gpt-4o", {"input_tokens": 1_000_000, "output_tokens": None}, at=AT)
    assert cost.usd == D("2.5")


def test_integral_float_tokens_are_accepted() -> None:
    assert compute_cost("openai", "gpt-4o", {"input_tokens": 1e6}, at=AT).usd == D("2.5")


def test_entry_listed_without_any_price_is_free() -> None:
    # GitHub Copilot models are included in the subscription: the data lists them with no price
    cost = compute_cost("github-copilot", "gpt-4o", {"input_tokens": 1000, "output_tokens": 100}, at=AT)
    assert cost.usd == D(0) and cost.priced and "no per-call price" in cost.notes[-1]


def test_audio_minimum_is_noted() -> None:
    cost = compute_cost("groq", "whisper-large-v3-turbo", {"audio_seconds": 4}, at=AT)
    # 10 s minimum x $0.04/hour = 10*0.04/3600 = 0.000111111111... -> 0.000111111111
    assert cost.usd == D("0.000111111111")
    assert "10 s minimum" in cost.notes[-1]


def test_match_cache_is_bounded(fresh_registry, monkeypatch: pytest.MonkeyPatch) -> None:
    import pricing.registry as registry_module

    monkeypatch.setattr(registry_module, "_CACHE_MAX", 50)
    for i in range(200):
        compute_cost("openai", f"random-model-{i}", {}, at=AT)
    assert len(fresh_registry._cache) <= 50
