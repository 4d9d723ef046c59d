"""Convert pydantic/genai-prices' price data into our own versioned JSON format.

Run once per data refresh (genai-prices is a dev-only dependency; the app never imports it):

    .venv/bin/python -m pricing.tools.import_genai_prices [--version 2026-11-23.1]

Writes ``pricing/data/genai_prices.json``. The source data is MIT-licensed, Copyright (c) Pydantic
Services Inc.; see ``pricing/data/LICENSE-genai-prices.txt``. Unknown price keys or constraint kinds make
the script fail instead of silently dropping prices.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, time
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "data" / "genai_prices.json"

# genai-prices price key -> our top-level price key
TOKEN_KEYS = {
    "input_mtok": "input_mtok",
    "cache_read_mtok": "cached_input_mtok",
    "cache_write_mtok": "cache_write_mtok",
    "cache_write_5m_mtok": "cache_write_mtok",
    "cache_write_1h_mtok": "cache_write_1h_mtok",
    "output_mtok": "output_mtok",
    "output_reasoning_mtok": "reasoning_mtok",
    "web_searches_kcount": "web_searches_k",
    "requests_kcount": "requests_k",
    "audio_hours": "audio_hour",
}
# genai-prices price key -> (our unit name, per)
UNIT_KEYS = {
    "input_audio_mtok": ("input_audio_tokens", 1_000_000),
    "cache_audio_read_mtok": ("cached_input_audio_tokens", 1_000_000),
    "output_audio_mtok": ("output_audio_tokens", 1_000_000),
    "input_image_mtok": ("input_image_tokens", 1_000_000),
    "cache_image_read_mtok": ("cached_input_image_tokens", 1_000_000),
    "output_image_mtok": ("output_image_tokens", 1_000_000),
    "input_video_mtok": ("input_video_tokens", 1_000_000),
    "output_video_mtok": ("output_video_tokens", 1_000_000),
    "output_citation_mtok": ("citation_tokens", 1_000_000),
    "storage_searches_kcount": ("file_searches", 1_000),
    "input_mchars": ("input_characters", 1_000_000),
    "input_text_messages_kcount": ("input_text_messages", 1_000),
    "input_document_kpages": ("document_pages", 1_000),
    "input_annotated_document_kpages": ("annotated_document_pages", 1_000),
    "rerank_searches_kcount": ("search_units", 1_000),
}
# genai-prices' own code bills Groq Whisper at a 10-second minimum; we carry that as data.
CORRECTIONS: list[str] = []
AUDIO_MIN_SECONDS = {("groq", "whisper-large-v3"): 10, ("groq", "whisper-large-v3-turbo"): 10}


def _dec(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _price_value(value: Any) -> Any:
    from genai_prices import types as t

    if isinstance(value, t.TieredPrices):
        return {
            "base": _dec(value.base),
            "tiers": [{"above": tier.start, "price": _dec(tier.price)} for tier in value.tiers],
        }
    if isinstance(value, Decimal):
        return _dec(value)
    raise TypeError(f"unexpected price value {value!r}")


def _prices(model_price: Any, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    units: dict[str, Any] = {}
    items = {k: v for k, v in model_price.__dict__.items() if v is not None and not k.startswith("_")}
    # audio_hours and input_audio_hours both describe audio seconds; prefer the general one.
    if "input_audio_hours" in items:
        hours = items.pop("input_audio_hours")
        items.setdefault("audio_hours", hours)
    for key, value in items.items():
        if key in TOKEN_KEYS:
            ours = TOKEN_KEYS[key]
            if ours in out:
                raise ValueError(f"{where}: two genai keys map to {ours}")
            out[ours] = _price_value(value)
        elif key in UNIT_KEYS:
            name, per = UNIT_KEYS[key]
            units[name] = {"usd": _price_value(value), "per": per}
        else:
            raise ValueError(f"{where}: unknown genai-prices price key {key!r}")
    if units:
        out["units"] = units
    cached, inp = out.get("cached_input_mtok"), out.get("input_mtok")
    if isinstance(cached, str) and isinstance(inp, str) and Decimal(cached) > Decimal(inp):
        # A cache read never costs more than an uncached token; the source has a typo-like outlier.
        out["cached_input_mtok"] = inp
        CORRECTIONS.append(f"{where}: cached_input_mtok {cached} capped at input_mtok {inp}")
    return out


def _clause(clause: Any) -> dict[str, Any]:
    from genai_prices import types as t

    if isinstance(clause, t.ClauseOr):
        return {"or": [_clause(c) for c in clause.or_]}
    if isinstance(clause, t.ClauseAnd):
        return {"and": [_clause(c) for c in clause.and_]}
    for cls, key in (
        (t.ClauseEquals, "equals"),
        (t.ClauseStartsWith, "starts_with"),
        (t.ClauseEndsWith, "ends_with"),
        (t.ClauseContains, "contains"),
        (t.ClauseRegex, "regex"),
    ):
        if isinstance(clause, cls):
            return {key: getattr(clause, key)}
    raise TypeError(f"unknown clause {clause!r}")


def _hhmm(value: time) -> str:
    if value.tzinfo is not None and value.utcoffset():
        raise ValueError(f"non-UTC time of day {value!r}")
    return value.strftime("%H:%M")


def _constraint(constraint: Any, where: str) -> dict[str, Any]:
    from genai_prices import types as t

    if constraint is None:
        return {}
    if isinstance(constraint, t.StartDateConstraint):
        assert isinstance(constraint.start_date, date)
        return {"from": constraint.start_date.isoformat()}
    if isinstance(constraint, t.TimeOfDateConstraint):
        return {"daily_utc": [_hhmm(constraint.start_time), _hhmm(constraint.end_time)]}
    raise ValueError(f"{where}: unknown constraint {constraint!r}")


def _when(when: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in when.items():
        if key == "processing" and value == "batch":
            out["batch"] = True
        else:
            out[key] = value
    return out


def convert_model(provider_id: str, model: Any) -> dict[str, Any]:
    from genai_prices import types as t

    where = f"{provider_id}/{model.id}"
    entry: dict[str, Any] = {"id": model.id}
    if model.name:
        entry["name"] = model.name
    entry["match"] = _clause(model.match)
    if model.context_window:
        entry["context_window"] = model.context_window
    if model.deprecated:
        entry["deprecated"] = True
    if model.price_comments:
        entry["notes"] = model.price_comments
    if (provider_id, model.id) in AUDIO_MIN_SECONDS:
        entry["audio_min_seconds"] = AUDIO_MIN_SECONDS[(provider_id, model.id)]
    before = len(CORRECTIONS)
    if isinstance(model.prices, t.ModelPrice):
        periods = [{"prices": _prices(model.prices, where)}]
    else:
        periods = []
        for i, cond in enumerate(model.prices):
            period = _constraint(cond.constraint, where)
            if i == 0 and period:
                # genai-prices uses the first price when none is active: make that explicit.
                period = {}
            period["prices"] = _prices(cond.prices, f"{where} prices[{i}]")
            periods.append(period)
    entry["periods"] = periods
    if model.price_variants:
        variants = []
        for i, variant in enumerate(model.price_variants):
            v: dict[str, Any] = {"when": _when(variant.when)}
            v.update(_constraint(variant.constraint, where))
            v["prices"] = _prices(variant.prices, f"{where} variants[{i}]")
            variants.append(v)
        entry["variants"] = variants
    if len(CORRECTIONS) > before:
        fixes = "; ".join(c.split(": ", 1)[1] for c in CORRECTIONS[before:])
        entry["notes"] = (entry.get("notes", "") + f" [LLM Observe correction: {fixes}]").strip()
    return entry


def convert(version: str) -> dict[str, Any]:
    from genai_prices.data import providers

    out_providers = []
    for provider in providers:
        p: dict[str, Any] = {"id": provider.id, "name": provider.name}
        if provider.pricing_urls:
            p["pricing_urls"] = list(provider.pricing_urls)
        if provider.price_comments:
            p["notes"] = provider.price_comments
        if provider.fallback_model_providers:
            p["fallback"] = list(provider.fallback_model_providers)
        p["models"] = [convert_model(provider.id, m) for m in provider.models]
        out_providers.append(p)
    return {
        "format": 1,
        "version": version,
        "source": {
            "name": "pydantic/genai-prices",
            "url": "https://github.com/pydantic/genai-prices",
            "package_version": metadata.version("genai-prices"),
            "license": "MIT, Copyright (c) Pydantic Services Inc. (see LICENSE-genai-prices.txt)",
            "converted_by": "pricing/tools/import_genai_prices.py",
        },
        "providers": out_providers,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", help="data version to stamp (default: PRICE_DATA_VERSION)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.version is None:
        from pricing._version import PRICE_DATA_VERSION

        args.version = PRICE_DATA_VERSION
    data = convert(args.version)
    args.out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    n_models = sum(len(p["models"]) for p in data["providers"])
    for fix in CORRECTIONS:
        print(f"corrected {fix}", file=sys.stderr)
    print(f"wrote {args.out}: {len(data['providers'])} providers, {n_models} models", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
