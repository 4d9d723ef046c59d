"""The bundled data: coverage, licence, versioning, and the converter's output being current."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pricing import PRICE_DATA_VERSION, default_registry

DATA = Path(__file__).resolve().parents[2] / "pricing" / "data"


def test_coverage_at_least_40_providers_and_500_models() -> None:
    stats = default_registry().stats()
    assert stats["providers"] >= 40
    assert stats["models"] >= 500


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "gpt-4o-2024-08-06"),  # dated snapshot
        ("openrouter", "anthropic/claude-3.5-sonnet"),  # OpenRouter id
        ("openai", "openai/gpt-4o"),  # provider-prefixed
        ("azure", "gpt-4o"),
        ("bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0"),
        ("vertex", "claude-3-5-sonnet-v2@20241022"),
        ("pinecone", "my-index"),
        ("openai", "text-embedding-3-large"),
        ("cohere", "rerank-v3.5"),
        ("openai", "whisper-1"),
        ("openai", "dall-e-3"),
        ("tavily", "search"),
    ],
)
def test_coverage_of_name_forms_and_services(provider: str, model: str) -> None:
    assert default_registry().lookup(provider, model) is not None


def test_every_data_file_has_our_version() -> None:
    for name in ("genai_prices.json", "additions.json"):
        doc = json.loads((DATA / name).read_text())
        assert doc["format"] == 1
        assert doc["version"] == PRICE_DATA_VERSION, name


def test_licence_and_attribution_are_kept() -> None:
    text = (DATA / "LICENSE-genai-prices.txt").read_text()
    assert "MIT" in text and "Copyright (c) Pydantic Services Inc." in text
    assert "github.com/pydantic/genai-prices" in (DATA / "README.md").read_text()


def test_runtime_never_imports_genai_prices() -> None:
    code = (
        "import sys, pricing; pricing.compute_cost('openai', 'gpt-4o', {'input_tokens': 1});"
        "import pricing.cli; assert 'genai_prices' not in sys.modules, 'genai_prices imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=DATA.parents[1])


def test_converter_output_is_the_committed_file(tmp_path: Path) -> None:
    pytest.importorskip("genai_prices")
    from pricing.tools.import_genai_prices import main

    out = tmp_path / "genai_prices.json"
    assert main(["--out", str(out)]) == 0
    assert out.read_text() == (DATA / "genai_prices.json").read_text()
