"""Hand-computed costs. Each case shows its arithmetic from the provider's published list prices
(USD per 1M tokens unless said otherwise), as carried in pricing/data at PRICE_DATA_VERSION."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from pricing import Usage, compute_cost
from tests.pricing.conftest import AT

M = 1_000_000

CASES = [
    # id, provider, model, usage, kwargs, expected usd, expected breakdown subset
    (
        "openai gpt-4o: $2.50 in, $1.25 cached, $10 out",
        "openai",
        "gpt-4o",
        {"input_tokens": 1000, "cached_input_tokens": 200, "output_tokens": 500},
        {},
        # (1000-200)*2.5/M + 200*1.25/M + 500*10/M = 0.002 + 0.00025 + 0.005
        D("0.00725"),
        {"input": D("0.002"), "cached_input": D("0.00025"), "output": D("0.005")},
    ),
    (
        "openai dated snapshot gpt-4o-2024-08-06 is gpt-4o",
        "openai",
        "gpt-4o-2024-08-06",
        {"input_tokens": 10_000, "output_tokens": 1_000},
        {},
        D(10_000) * D("2.5") / M + D(1_000) * 10 / M,  # 0.025 + 0.01
        {},
    ),
    (
        "openai gpt-4o-mini: $0.15 in, $0.60 out",
        "openai",
        "gpt-4o-mini",
        {"input_tokens": 123_456, "output_tokens": 7_890},
        {},
        D("0.0185184") + D("0.004734"),  # 123456*0.15/M ; 7890*0.6/M
        {"input": D("0.0185184"), "output": D("0.004734")},
    ),
    (
        "openai o3 reasoning is billed as output ($8), shown apart",
        "openai",
        "o3",
        {"input_tokens": 2_000, "output_tokens": 3_000, "reasoning_tokens": 2_500},
        {},
        # 2000*2/M + (3000-2500)*8/M + 2500*8/M = 0.004 + 0.004 + 0.02
        D("0.028"),
        {"input": D("0.004"), "output": D("0.004"), "reasoning": D("0.02")},
    ),
    (
        "openai o3 before the 2025-06-10 price cut: $10 in, $40 out",
        "openai",
        "o3",
        {"input_tokens": 2_000, "output_tokens": 3_000},
        {"at": datetime(2025, 6, 9, 23, 59, tzinfo=UTC)},
        D("0.02") + D("0.12"),  # 2000*10/M + 3000*40/M
        {},
    ),
    (
        "openai o3 on the day of the cut (dates are UTC): $2 in, $8 out",
        "openai",
        "o3",
        {"input_tokens": 2_000, "output_tokens": 3_000},
        {"at": datetime(2025, 6, 10, 0, 0, tzinfo=UTC)},
        D("0.004") + D("0.024"),
        {},
    ),
    (
        "openai gpt-4o batch: $1.25 in, $5 out; cached keeps $1.25 (no batch cached rate)",
        "openai",
        "gpt-4o",
        {"input_tokens": 4_000, "cached_input_tokens": 1_000, "output_tokens": 2_000},
        {"batch": True},
        # 3000*1.25/M + 1000*1.25/M + 2000*5/M = 0.00375 + 0.00125 + 0.01
        D("0.015"),
        {"cached_input": D("0.00125")},
    ),
    (
        "openai gpt-4o priority tier: $4.25 in, $17 out",
        "openai",
        "gpt-4o",
        {"input_tokens": 1_000, "output_tokens": 1_000},
        {"service_tier": "priority"},
        D("0.00425") + D("0.017"),
        {},
    ),
    (
        "openai o3 flex tier: $1 in, $0.25 cached, $4 out",
        "openai",
        "o3",
        {"input_tokens": 10_000, "cached_input_tokens": 8_000, "output_tokens": 1_000},
        {"service_tier": "flex"},
        # 2000*1/M + 8000*0.25/M + 1000*4/M = 0.002 + 0.002 + 0.004
        D("0.008"),
        {},
    ),
    (
        "openai service_tier 'default' is the standard price",
        "openai",
        "gpt-4o-mini",
        {"input_tokens": 1_000_000},
        {"service_tier": "default"},
        D("0.15"),
        {},
    ),
    (
        "openai gpt-4o web search tool: $10 per 1K calls",
        "openai",
        "gpt-4o",
        {"input_tokens": 1_000, "output_tokens": 100, "web_searches": 3},
        {},
        # 1000*2.5/M + 100*10/M + 3*10/1000 = 0.0025 + 0.001 + 0.03
        D("0.0335"),
        {"web_searches": D("0.03")},
    ),
    (
        "openai text-embedding-3-small: $0.02 in",
        "openai",
        "text-embedding-3-small",
        {"input_tokens": 12_345},
        {},
        D("0.0002469"),
        {},  # 12345*0.02/M
    ),
    (
        "openai whisper-1: $0.006/min = $0.36/hour, 90 s",
        "openai",
        "whisper-1",
        {"audio_seconds": 90},
        {},
        D("0.009"),
        {"audio": D("0.009")},  # 90*0.36/3600
    ),
    (
        "openai tts-1: $15 per 1M characters",
        "openai",
        "tts-1",
        {"units": {"input_characters": 2_000}},
        {},
        D("0.03"),
        {},  # 2000*15/M
    ),
    (
        "openai gpt-4o-realtime: audio in $40, audio out $80, text in $5, text out $20",
        "openai",
        "gpt-4o-realtime-preview",
        {
            "input_tokens": 1_500,
            "output_tokens": 700,
            "units": {"input_audio_tokens": 1_000, "output_audio_tokens": 500},
        },
        {},
        # text in (1500-1000)*5/M + audio in 1000*40/M + text out (700-500)*20/M + audio out 500*80/M
        # = 0.0025 + 0.04 + 0.004 + 0.04
        D("0.0865"),
        {"units:input_audio_tokens": D("0.04"), "output": D("0.004")},
    ),
    (
        "openai dall-e-3 HD 1024x1792: $0.12 per image",
        "openai",
        "dall-e-3",
        {"units": {"image_hd_1024x1792": 2}},
        {},
        D("0.24"),
        {},
    ),
    (
        "anthropic claude-3-5-haiku: $0.80 in, $1 5m write, $1.60 1h write, $0.08 read, $4 out",
        "anthropic",
        "claude-3-5-haiku-20241022",
        {
            "input_tokens": 10_000,
            "cached_input_tokens": 4_000,
            "cache_write_tokens": 2_000,
            "cache_write_1h_tokens": 1_000,
            "output_tokens": 1_000,
        },
        {},
        # (10000-4000-2000-1000)*0.8/M + 4000*0.08/M + 2000*1/M + 1000*1.6/M + 1000*4/M
        # = 0.0024 + 0.00032 + 0.002 + 0.0016 + 0.004
        D("0.01032"),
        {
            "input": D("0.0024"),
            "cached_input": D("0.00032"),
            "cache_write": D("0.002"),
            "cache_write_1h": D("0.0016"),
            "output": D("0.004"),
        },
    ),
    (
        "anthropic claude-opus-4-1: $15 in, $75 out, web search $10/1K",
        "anthropic",
        "claude-opus-4-1-20250805",
        {"input_tokens": 20_000, "output_tokens": 2_000, "web_searches": 2},
        {},
        D("0.3") + D("0.15") + D("0.02"),  # 20000*15/M + 2000*75/M + 2*10/1000
        {},
    ),
    (
        "anthropic claude-3-haiku: cache write $0.30, read $0.03",
        "anthropic",
        "claude-3-haiku-20240307",
        {"input_tokens": 100_000, "cache_write_tokens": 100_000, "output_tokens": 0},
        {},
        D("0.03"),
        {"cache_write": D("0.03")},  # 100000*0.3/M, no uncached input left
    ),
    (
        "anthropic sonnet 4.5 batch at 250K input (tier): $3 in, $0.30 read, $11.25 out",
        "anthropic",
        "claude-sonnet-4-5",
        {"input_tokens": 250_000, "cached_input_tokens": 100_000, "output_tokens": 2_000},
        {"batch": True},
        # 150000*3/M + 100000*0.3/M + 2000*11.25/M = 0.45 + 0.03 + 0.0225
        D("0.5025"),
        {},
    ),
    (
        "google gemini-2.5-flash: $0.30 in, $0.03 cached, $2.50 out, audio in $1",
        "google",
        "gemini-2.5-flash",
        {
            "input_tokens": 3_000,
            "cached_input_tokens": 1_000,
            "output_tokens": 400,
            "units": {"input_audio_tokens": 1_000},
        },
        {},
        # (3000-1000-1000)*0.3/M + 1000*0.03/M + 1000*1/M + 400*2.5/M = 0.0003+0.00003+0.001+0.001
        D("0.00233"),
        {},
    ),
    (
        "vertex alias -> google; models/ prefix stripped",
        "vertex",
        "models/gemini-2.5-flash",
        {"input_tokens": 1_000_000},
        {},
        D("0.3"),
        {},
    ),
    (
        "google gemini-2.5-pro just above 200K is the >200K tier for all tokens: $2.50 in, $15 out",
        "google",
        "gemini-2.5-pro",
        {"input_tokens": 200_001, "output_tokens": 1_000},
        {},
        D("0.5000025") + D("0.015"),  # 200001*2.5/M + 1000*15/M
        {},
    ),
    (
        "mistral-large-latest: $2 in, $6 out",
        "mistral",
        "mistral-large-latest",
        {"input_tokens": 5_000, "output_tokens": 5_000},
        {},
        D("0.01") + D("0.03"),
        {},
    ),
    (
        "mistral OCR: $1 per 1K pages, annotated pages $3 per 1K (included in pages)",
        "mistral",
        "mistral-ocr-2505",
        {"units": {"document_pages": 10, "annotated_document_pages": 4}},
        {},
        D("0.006") + D("0.012"),  # (10-4)*1/1000 + 4*3/1000
        {},
    ),
    (
        "groq llama-3.3-70b-versatile: $0.59 in, $0.79 out",
        "groq",
        "llama-3.3-70b-versatile",
        {"input_tokens": 1_000, "output_tokens": 1_000},
        {},
        D("0.00059") + D("0.00079"),
        {},
    ),
    (
        "groq whisper-large-v3: $0.111/hour, 10 s minimum (3 s billed as 10 s, rounded to 1e-12)",
        "groq",
        "whisper-large-v3",
        {"audio_seconds": 3},
        {},
        D("0.000308333333"),  # 10*0.111/3600 = 0.0003083333... -> pico-dollar
        {},
    ),
    (
        "deepseek-chat off-peak (outside 00:30-16:30 UTC): $0.135 in, $0.035 cached, $0.55 out",
        "deepseek",
        "deepseek-chat",
        {"input_tokens": 1_000_000, "cached_input_tokens": 500_000, "output_tokens": 100_000},
        {},
        D("0.0675") + D("0.0175") + D("0.055"),  # 500000*0.135/M + 500000*0.035/M + 100000*0.55/M
        {},
    ),
    (
        "deepseek-chat peak (12:00 UTC): $0.27 in, $0.07 cached, $1.10 out",
        "deepseek",
        "deepseek-chat",
        {"input_tokens": 1_000_000, "cached_input_tokens": 500_000, "output_tokens": 100_000},
        {"at": datetime(2026, 11, 23, 12, 0, tzinfo=UTC)},
        D("0.135") + D("0.035") + D("0.11"),
        {},
    ),
    (
        "xai alias -> x-ai grok-3: $3 in, $0.75 cached, $15 out",
        "xai",
        "grok-3",
        {"input_tokens": 2_000, "cached_input_tokens": 1_000, "output_tokens": 100},
        {},
        D("0.003") + D("0.00075") + D("0.0015"),
        {},
    ),
    (
        "together Llama-3.3-70B-Instruct-Turbo: $0.88 in and out",
        "together",
        "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        {"input_tokens": 1_000, "output_tokens": 1_000},
        {},
        D("0.00176"),
        {},
    ),
    (
        "fireworks llama-v3p1-8b-instruct: $0.20 in and out",
        "fireworks",
        "accounts/fireworks/models/llama-v3p1-8b-instruct",
        {"input_tokens": 5_000},
        {},
        D("0.001"),
        {},
    ),
    (
        "perplexity sonar: $1 in, $1 out, $12 per 1K requests (one call = one request)",
        "perplexity",
        "sonar",
        {"input_tokens": 1_000, "output_tokens": 1_000},
        {},
        D("0.001") + D("0.001") + D("0.012"),
        {"requests": D("0.012")},
    ),
    (
        "perplexity sonar-deep-research: reasoning $3, citations $2, searches $5/1K",
        "perplexity",
        "sonar-deep-research",
        {
            "input_tokens": 10_000,
            "output_tokens": 5_000,
            "reasoning_tokens": 2_000,
            "units": {"citation_tokens": 1_000},
            "web_searches": 4,
        },
        {},
        # 10000*2/M + (5000-2000-1000)*8/M + 2000*3/M + 1000*2/M + 4*5/1000 = 0.02+0.016+0.006+0.002+0.02
        D("0.064"),
        {},
    ),
    (
        "cohere command-r: $0.15 in, $0.60 out",
        "cohere",
        "command-r",
        {"input_tokens": 10_000, "output_tokens": 1_000},
        {},
        D("0.0015") + D("0.0006"),
        {},
    ),
    (
        "cohere rerank-v3.5: $2 per 1K search units",
        "cohere",
        "rerank-v3.5",
        {"units": {"search_units": 3}},
        {},
        D("0.006"),
        {},
    ),
    (
        "voyage alias -> voyageai voyage-3 embeddings: $0.06 in",
        "voyage",
        "voyage-3",
        {"input_tokens": 50_000},
        {},
        D("0.003"),
        {},
    ),
    (
        "azure gpt-4o (own Azure entry): $2.50 in, $10 out",
        "azure",
        "gpt-4o",
        {"input_tokens": 1_000, "output_tokens": 1_000},
        {},
        D("0.0125"),
        {},
    ),
    (
        "bedrock alias -> aws, cross-region id us.anthropic.claude-3-5-sonnet: $3 in, $15 out",
        "bedrock",
        "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
        {"input_tokens": 1_000, "output_tokens": 500},
        {},
        D("0.003") + D("0.0075"),
        {},
    ),
    (
        "bedrock amazon.nova-pro: $0.80 in, $0.20 cached, $3.20 out",
        "bedrock",
        "amazon.nova-pro-v1:0",
        {"input_tokens": 1_000, "cached_input_tokens": 500, "output_tokens": 1_000},
        {},
        D("0.0004") + D("0.0001") + D("0.0032"),
        {},
    ),
    (
        "openrouter id openai/gpt-4o: $2.50 in, $10 out",
        "openrouter",
        "openai/gpt-4o",
        {"input_tokens": 1_000, "output_tokens": 1_000},
        {},
        D("0.0125"),
        {},
    ),
    (
        "provider-prefixed name under its own provider: openai + openai/gpt-4o-mini",
        "openai",
        "openai/gpt-4o-mini",
        {"input_tokens": 1_000_000},
        {},
        D("0.15"),
        {},
    ),
    (
        "compact date gpt-4o-20240806 is the dated snapshot",
        "openai",
        "gpt-4o-20240806",
        {"input_tokens": 1_000_000},
        {},
        D("2.5"),
        {},
    ),
    (
        "pinecone serverless: $16 per 1M read units, $4 per 1M write units",
        "pinecone",
        "my-index",
        {"units": {"read_units": 5.25, "write_units": 10}},
        {},
        D("0.000084") + D("0.00004"),  # 5.25*16/M + 10*4/M
        {},
    ),
    (
        "pinecone inference multilingual-e5-large: $0.08 in",
        "pinecone",
        "multilingual-e5-large",
        {"input_tokens": 100_000},
        {},
        D("0.008"),
        {},
    ),
    (
        "deepgram nova-3: $0.0043/min, 90 s",
        "deepgram",
        "nova-3",
        {"audio_seconds": 90},
        {},
        D("0.00645"),
        {},  # 90*0.0043/60
    ),
    (
        "tavily basic search: 1 credit x $0.008",
        "tavily",
        "search",
        {},
        {},
        D("0.008"),
        {},
    ),
    (
        "you.com search API: $5 per 1K calls, 3 requests",
        "you.com",
        "search",
        {"requests": 3},
        {},
        D("0.015"),
        {},
    ),
]


@pytest.mark.parametrize(
    ("provider", "model", "usage", "kwargs", "usd", "parts"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_hand_computed(provider, model, usage, kwargs, usd, parts) -> None:
    kwargs.setdefault("at", AT)
    cost = compute_cost(provider, model, usage, **kwargs)
    assert cost.priced, cost.notes
    assert cost.usd == usd
    assert isinstance(cost.usd, D)
    assert sum(cost.breakdown.values(), D(0)) == cost.usd
    for component, amount in parts.items():
        assert cost.breakdown[component] == amount
    assert cost.price_id and cost.price_id.endswith("#2026-11-23.1")


def test_typed_usage_equals_mapping() -> None:
    usage = Usage(input_tokens=1000, cached_input_tokens=200, output_tokens=500)
    cost = compute_cost("openai", "gpt-4o", usage, at=AT)
    assert cost.usd == D("0.00725")


def test_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
