"""``python -m pricing show`` and ``cost``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pricing.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_show_prints_entry_and_prices(capsys) -> None:
    assert main(["show", "gpt-4o-2024-08-06", "--provider", "openai", "--at", "2026-11-23"]) == 0
    out = capsys.readouterr().out
    assert "openai/gpt-4o" in out and "input" in out and "$2.5 per 1M" in out and "<- in force" in out


def test_show_unknown_model(capsys) -> None:
    assert main(["show", "no-such-model-zz"]) == 1


def test_cost_prices_one_call(capsys) -> None:
    rc = main(
        [
            "cost",
            "-p",
            "openai",
            "-m",
            "gpt-4o",
            "--input-tokens",
            "1000",
            "--cached-input-tokens",
            "200",
            "--output-tokens",
            "500",
            "--at",
            "2026-11-23T18:00:00Z",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "usd:      0.00725" in out and "price_id: openai/gpt-4o@base#" in out


def test_cost_unpriced_exits_1(capsys) -> None:
    assert main(["cost", "-p", "openai-compatible", "-m", "llama3.1:8b", "--input-tokens", "1"]) == 1
    assert "unpriced" in capsys.readouterr().out


def test_cost_with_units_and_usage_json(capsys) -> None:
    rc = main(
        [
            "cost",
            "-p",
            "pinecone",
            "-m",
            "idx",
            "--unit",
            "read_units=5.25",
            "--usage",
            '{"units": {"write_units": 10}}',
        ]
    )
    assert rc == 0 and "0.000124" in capsys.readouterr().out


def test_validate_reports_the_field(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "o.json"
    bad.write_text('{"providers": [{"id": "openai", "models": [{"id": "gpt-4o", "prices": {"output_mtok": "x"}}]}]}')
    assert main(["validate", str(bad)]) == 2
    assert "model 'gpt-4o': periods[0].prices.output_mtok" in capsys.readouterr().err


def test_python_dash_m_entry_point() -> None:
    done = subprocess.run([sys.executable, "-m", "pricing", "stats"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and '"providers"' in done.stdout


def test_show_without_provider_lists_the_model_maker_first(capsys) -> None:
    assert main(["show", "gpt-4o", "--limit", "1"]) == 0
    assert capsys.readouterr().out.startswith("openai/gpt-4o")
