"""Inference: a generic provider's call whose model name identifies one vendor model is priced at that vendor's
price under an ``inferred:`` price id; ambiguous or unknown names stay unpriced. Provider-specific naming
(Azure, Bedrock, Vertex, fine-tunes) keeps working. Expected costs are worked out by hand from the list prices."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from pricing import PRICE_DATA_VERSION, compute_cost, default_registry, flat_prices, register_price, unknown_model
from pricing.infer import names_the_model
from tests.pricing.conftest import AT

VERSION = f"#{PRICE_DATA_VERSION}"
SMALL = {"input_tokens": 1000, "output_tokens": 100}


@pytest.mark.parametrize(
    ("provider", "model", "usd", "price_id"),
    [
        # gpt-4o $2.5 in / $1.25 cached / $10 out: 800*2.5 + 200*1.25 + 500*10 per 1M = 0.002 + 0.00025 + 0.005
        ("openai-compatible", "gpt-4o-2024-08-06", "0.00725", "openai/gpt-4o@base"),
        ("openai-compatible", "gpt-4o-20240806", "0.00725", "openai/gpt-4o@base"),  # compact date
        ("my-gateway.internal", "openai/gpt-4o", "0.00725", "openai/gpt-4o@base"),  # OpenRouter style
        ("litellm", "GPT-4o", "0.00725", "openai/gpt-4o@base"),
    ],
)
def test_openai_models_through_a_generic_provider(provider: str, model: str, usd: str, price_id: str) -> None:
    usage = {"input_tokens": 1000, "cached_input_tokens": 200, "output_tokens": 500}
    cost = compute_cost(provider, model, usage, at=AT)
    assert (cost.usd, cost.priced, cost.price_id) == (D(usd), True, f"inferred:{price_id}{VERSION}")


@pytest.mark.parametrize(
    ("provider", "model", "usd", "price_id"),
    [
        # claude-sonnet-4-5 $3 in / $15 out: 1000*3 + 100*15 per 1M
        ("ollama", "claude-sonnet-4-5", "0.0045", "anthropic/claude-sonnet-4-5@base"),
        ("openai-compatible", "claude-sonnet-4-5-20250929", "0.0045", "anthropic/claude-sonnet-4-5@base"),
        ("openai-compatible", "claude-sonnet-4-5@20250929", "0.0045", "anthropic/claude-sonnet-4-5@base"),
        ("vllm", "anthropic/claude-sonnet-4.5", "0.0045", "anthropic/claude-sonnet-4-5@base"),
        # gemini-2.5-pro $1.25 in / $10 out: 1000*1.25 + 100*10 per 1M
        ("openai-compatible", "gemini-2.5-pro", "0.00225", "google/gemini-2.5-pro@base"),
        ("openai-compatible", "google/gemini-2.5-pro", "0.00225", "google/gemini-2.5-pro@base"),
        # an OpenAI fine-tune through a gateway: ft:gpt-4o-mini $0.3 in / $1.2 out
        ("openai-compatible", "ft:gpt-4o-mini-2024-07-18:acme::AbC123", "0.00042", "openai/ft:gpt-4o-mini@base"),
    ],
)
def test_vendor_models_through_a_generic_provider(provider: str, model: str, usd: str, price_id: str) -> None:
    cost = compute_cost(provider, model, SMALL, at=AT)
    assert (cost.usd, cost.priced, cost.price_id) == (D(usd), True, f"inferred:{price_id}{VERSION}")


@pytest.mark.parametrize(
    "model",
    [
        "llama3.1:8b",  # an Ollama tag: self-hosted weights
        "deepseek-r1:7b",  # DeepSeek's data matches starts_with deepseek-r1, but this is a local distill
        "deepseek-r1-distill-llama-70b",
        "gpt-4o-mini-acme-tune",  # starts like gpt-4o-mini, is not it
        "meta-llama/Llama-3.3-70B-Instruct",  # a prefix that is no provider we know
        "qwen/qwen3-32b",
        "openai/not-a-model",
        "",
        "   ",
        "mistral",
    ],
)
def test_unknown_or_partial_names_stay_unpriced_never_zero(model: str) -> None:
    cost = compute_cost("openai-compatible", model, SMALL, at=AT)
    assert (cost.usd, cost.priced, cost.price_id) == (None, False, None)
    assert unknown_model("openai-compatible", model)
    assert flat_prices("openai-compatible", model, AT) is None


def test_a_name_two_vendors_claim_is_ambiguous_and_unpriced(fresh_registry) -> None:
    # Mistral starts listing a model OpenAI also lists: neither can be told from the name alone
    register_price("mistral", "o3", {"input_mtok": "1", "output_mtok": "1"})
    assert compute_cost("openai", "o3", SMALL, at=AT).priced  # the vendors themselves are unaffected
    assert compute_cost("openai-compatible", "o3", SMALL, at=AT).priced is False


def test_a_reseller_listing_a_makers_model_yields_to_the_maker() -> None:
    # Google (Vertex) lists claude-sonnet-4-5 too and falls back to Anthropic: Anthropic is the maker
    assert {pid for pid, _ in default_registry().find_all("claude-sonnet-4-5")} >= {"anthropic", "google"}
    assert compute_cost("openai-compatible", "claude-sonnet-4-5", SMALL, at=AT).price_id.startswith(
        "inferred:anthropic/")


def test_known_providers_never_infer() -> None:
    # Groq's own list decides for Groq; a model it does not list stays unpriced even if OpenAI lists it
    assert compute_cost("groq", "gpt-4o", SMALL, at=AT).priced is False
    assert compute_cost("openai", "gpt-4o", SMALL, at=AT).price_id == f"openai/gpt-4o@base{VERSION}"


def test_the_integer_fast_path_carries_the_inferred_price_id() -> None:
    flat = flat_prices("openai-compatible", "gpt-4o-2024-08-06", AT)
    assert flat is not None and flat.price_id == f"inferred:openai/gpt-4o@base{VERSION}"
    # 1000*2.5 + 100*10 per 1M = $0.0035 = 3,500,000 nano-dollars
    assert flat.cost(1000, 0, 0, 0, 100, 0, 0, 0, exponent=9) == 3_500_000
    assert flat_prices("openai", "gpt-4o", AT).price_id == f"openai/gpt-4o@base{VERSION}"  # not shared


def test_effective_dates_follow_the_vendor_entry(fresh_registry) -> None:
    register_price("openai", "gpt-4o", {"input_mtok": "2", "output_mtok": "8"}, effective_from="2027-01-01")
    later = AT.replace(year=2027)
    assert compute_cost("openai-compatible", "gpt-4o", SMALL, at=AT).usd == D("0.0035")
    cost = compute_cost("openai-compatible", "gpt-4o", SMALL, at=later)
    # 1000*2 + 100*8 per 1M
    assert (cost.usd, cost.price_id) == (D("0.0028"), "inferred:runtime:openai/gpt-4o@2027-01-01#runtime")


def test_names_the_model_accepts_ids_listed_names_and_snapshots_only() -> None:
    entry = default_registry().lookup("anthropic", "claude-sonnet-4-5")[1][0]
    assert names_the_model(entry, "claude-sonnet-4-5")
    assert names_the_model(entry, "claude-sonnet-4-5-20250929")
    assert names_the_model(entry, "claude-sonnet-4-5-latest")
    assert not names_the_model(entry, "claude-sonnet-4-5-my-tune")


# ----- provider-specific naming keeps working ----------------------------------------------------------------


def test_azure_is_priced_by_the_responses_model_not_the_deployment_name() -> None:
    # the SDK sends the response's "model" (gpt-4o-2024-08-06), which Azure prices at OpenAI's list price
    cost = compute_cost("azure", "gpt-4o-2024-08-06", SMALL, at=AT)
    assert (cost.usd, cost.price_id) == (D("0.0035"), f"openai/gpt-4o@base{VERSION}")
    # a bare deployment name is the customer's own label: unpriced, and Azure (a known provider) never infers
    assert compute_cost("azure", "prod-chat-deployment", SMALL, at=AT).priced is False


@pytest.mark.parametrize(
    ("provider", "model", "price_id"),
    [
        ("bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0",
         "aws/regional.anthropic.claude-3-5-sonnet-20240620-v1:0@base"),
        ("aws-bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
         "aws/regional.anthropic.claude-sonnet-4-5-20250929-v1:0@base"),
        ("vertex", "claude-sonnet-4-5@20250929", "google/claude-sonnet-4-5@base"),
        ("vertex", "gemini-2.5-pro", "google/gemini-2.5-pro@base"),
        ("google", "models/gemini-2.5-pro", "google/gemini-2.5-pro@base"),
        ("openai", "ft:gpt-4o-mini-2024-07-18:acme::AbC123", "openai/ft:gpt-4o-mini@base"),
        ("openai", "ft:gpt-4o-2024-08-06:acme:custom:AbC", "openai/ft:gpt-4o@base"),
    ],
)
def test_provider_specific_ids_keep_their_own_prices(provider: str, model: str, price_id: str) -> None:
    cost = compute_cost(provider, model, SMALL, at=AT)
    assert cost.priced and cost.price_id == f"{price_id}{VERSION}"


def test_fine_tune_is_priced_at_the_fine_tune_rate_not_the_base_model() -> None:
    # ft:gpt-4o-mini $0.3/$1.2 vs gpt-4o-mini $0.15/$0.6: 1000*0.3 + 100*1.2 per 1M
    assert compute_cost("openai", "ft:gpt-4o-mini-2024-07-18:acme::AbC123", SMALL, at=AT).usd == D("0.00042")
    assert compute_cost("openai", "gpt-4o-mini-2024-07-18", SMALL, at=AT).usd == D("0.00021")
