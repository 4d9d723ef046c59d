"""PRICING_OVERRIDES and register_price: updatable without a release, validated, history-preserving."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

import pricing
from pricing import PricingDataError, compute_cost, register_price
from tests.pricing.conftest import AT


def _write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "overrides.json"
    path.write_text(json.dumps(doc))
    return path


def test_override_file_is_merged_over_bundled_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry
) -> None:
    path = _write(
        tmp_path,
        {
            "providers": [
                {"id": "openai", "models": [{"id": "gpt-4o", "prices": {"input_mtok": "2", "output_mtok": "8"}}]},
                {
                    "id": "ollama",
                    "models": [{"id": "local", "match": {"regex": "."}, "prices": {"input_mtok": 0, "output_mtok": 0}}],
                },
            ]
        },
    )
    monkeypatch.setenv("PRICING_OVERRIDES", str(path))
    pricing.reload()
    # the override keeps the bundled entry's match rule, so the dated snapshot is overridden too
    cost = compute_cost("openai", "gpt-4o-2024-08-06", {"input_tokens": 1_000_000, "output_tokens": 1_000_000}, at=AT)
    assert cost.usd == D("10")
    assert cost.price_id is not None and cost.price_id.startswith("override:openai/gpt-4o@base#override-")
    assert compute_cost("ollama", "llama3", {"input_tokens": 5}, at=AT).usd == D(0)
    # other models are untouched
    assert compute_cost("openai", "gpt-4o-mini", {"input_tokens": 1_000_000}, at=AT).usd == D("0.15")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"providers": [{"id": "openai", "models": [{"id": "gpt-4o", "prices": {"input_mtok": "-1"}}]}]},
            "provider 'openai' model 'gpt-4o': periods[0].prices.input_mtok: expected a finite number >= 0",
        ),
        (
            {"providers": [{"id": "openai", "models": [{"id": "gpt-4o", "prices": {"input_mtk": "1"}}]}]},
            "model 'gpt-4o': periods[0].prices.input_mtk: unknown price key",
        ),
        (
            {
                "providers": [
                    {
                        "id": "openai",
                        "models": [
                            {"id": "x", "prices": {"input_mtok": {"base": "1", "tiers": [{"above": -5, "price": "2"}]}}}
                        ],
                    }
                ]
            },
            "model 'x': periods[0].prices.input_mtok.tiers[0].above",
        ),
        (
            {
                "providers": [
                    {"id": "openai", "models": [{"id": "x", "periods": [{"from": "yesterday", "prices": {}}]}]}
                ]
            },
            "model 'x': periods[0].from",
        ),
        (
            {"providers": [{"id": "openai", "models": [{"id": "x", "match": {"regex": "("}, "prices": {}}]}]},
            "model 'x': match.regex",
        ),
        (
            {
                "providers": [
                    {"id": "openai", "models": [{"id": "x", "prices": {"input_mtok": "1", "cached_input_mtok": "2"}}]}
                ]
            },
            "model 'x': periods[0].prices.cached_input_mtok: a cache read",
        ),
        ({"providers": [{"id": "openai", "models": [{"prices": {}}]}]}, "models[0]: id"),
        ({"format": 2, "providers": []}, "format"),
    ],
)
def test_invalid_override_names_entry_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry, doc, message
) -> None:
    monkeypatch.setenv("PRICING_OVERRIDES", str(_write(tmp_path, doc)))
    with pytest.raises(PricingDataError, match=re.escape(message)):
        pricing.reload()


def test_missing_override_file_is_an_error(monkeypatch: pytest.MonkeyPatch, fresh_registry) -> None:
    monkeypatch.setenv("PRICING_OVERRIDES", "/nonexistent/prices.json")
    with pytest.raises(PricingDataError, match="no such file"):
        pricing.reload()


def test_register_price_at_run_time(fresh_registry) -> None:
    price_id = register_price("my-gateway", "gpt-4o", {"input_mtok": "3", "output_mtok": "12"})
    assert price_id == "runtime:my-gateway/gpt-4o@base#runtime"
    cost = compute_cost("my-gateway", "gpt-4o", {"input_tokens": 1_000_000}, at=AT)
    assert (cost.usd, cost.price_id) == (D("3"), price_id)


def test_register_price_from_a_date_keeps_history(fresh_registry) -> None:
    register_price("openai", "gpt-4o", {"input_mtok": "2", "output_mtok": "8"}, effective_from="2026-12-01")
    usage = {"input_tokens": 1_000_000}
    assert compute_cost("openai", "gpt-4o", usage, at=AT).usd == D("2.5")  # before: the bundled price
    later = compute_cost("openai", "gpt-4o-2024-11-20", usage, at=datetime(2026, 12, 2, tzinfo=UTC))
    assert later.usd == D("2") and later.price_id == "runtime:openai/gpt-4o@2026-12-01#runtime"


def test_register_price_validates(fresh_registry) -> None:
    with pytest.raises(PricingDataError, match="model 'm': periods\\[0\\].prices.output_mtok"):
        register_price("openai", "m", {"output_mtok": "ten"})


def test_register_price_clears_the_match_cache(fresh_registry) -> None:
    assert not compute_cost("acme", "m1", {"input_tokens": 1}, at=AT).priced
    register_price("acme", "m1", {"input_mtok": "1"})
    assert compute_cost("acme", "m1", {"input_tokens": 1_000_000}, at=AT).usd == D("1")


def test_derived_registry_holds_account_prices_apart() -> None:
    account = pricing.default_registry().derive()
    account.register_price("openai", "gpt-4o", {"input_mtok": "2", "output_mtok": "8"})
    usage = {"input_tokens": 1_000_000}
    assert account.compute_cost("openai", "gpt-4o-2024-11-20", usage, at=AT).usd == D("2")
    assert compute_cost("openai", "gpt-4o-2024-11-20", usage, at=AT).usd == D("2.5")
    assert account.compute_cost("anthropic", "claude-3-haiku", usage, at=AT).usd == D("0.25")
