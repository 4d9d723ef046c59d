"""Command line: ``python -m pricing show MODEL``, ``python -m pricing cost ...``, ``validate FILE``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pricing import PRICE_DATA_VERSION, InvalidUsage, PricingDataError, default_registry
from pricing.model import Entry
from pricing.registry import Registry
from pricing.usage import TOKEN_FIELDS

_FIRST_PARTY = ("openai", "anthropic", "google", "mistral", "cohere", "x-ai", "deepseek", "moonshotai", "zai")


def _parse_at(text: str | None) -> datetime | None:
    if text is None:
        return None
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _describe(pid: str, entry: Entry, at: datetime) -> list[str]:
    lines = [f"{pid}/{entry.id}" + (f"  ({entry.name})" if entry.name else "") + f"  [{entry.source}]"]
    lines.append(f"  match: {json.dumps(entry.match_spec)}")
    if entry.context_window:
        lines.append(f"  context window: {entry.context_window:,} tokens")
    current = entry.period_index(at)
    for i, period in enumerate(entry.periods):
        mark = "  <- in force" if i == current else ""
        lines.append(f"  period {period.when.label()}{mark}  price_id {entry.price_id(i)}")
        lines.extend(_prices(period.prices, "    "))
    for variant in entry.variants:
        lines.append(f"  variant {variant.label()}:")
        lines.extend(_prices(variant.prices, "    "))
    if entry.audio_min_seconds:
        lines.append(f"  audio billed at least {entry.audio_min_seconds} s per call")
    if entry.notes:
        lines.append(f"  notes: {entry.notes}")
    return lines


def _prices(prices: Any, indent: str) -> list[str]:
    per_label = {1_000_000: "per 1M", 1_000: "per 1K", 3_600: "per hour", 60: "per minute", 1: "each"}
    out = []
    for component, rate in prices.rates.items():
        out.append(f"{indent}{component:<16} {rate.describe()} {per_label.get(rate.per, f'per {rate.per}')}")
    for name, rate in prices.units.items():
        out.append(f"{indent}units:{name:<10} {rate.describe()} {per_label.get(rate.per, f'per {rate.per}')}")
    return out


def cmd_show(args: argparse.Namespace, registry: Registry) -> int:
    at = _parse_at(args.at) or datetime.now(UTC)
    if args.provider:
        hit = registry.lookup(args.provider, args.model)
        matches = [(hit[0], hit[1][0])] if hit else []
    else:
        # model makers' own APIs first, then everyone reselling the model
        matches = sorted(registry.find_all(args.model), key=lambda m: m[0] not in _FIRST_PARTY)
    if not matches:
        print(f"no price matches {args.model!r}" + (f" for provider {args.provider!r}" if args.provider else ""))
        return 1
    for pid, entry in matches[: args.limit]:
        print("\n".join(_describe(pid, entry, at)))
    if len(matches) > args.limit:
        print(f"... and {len(matches) - args.limit} more providers (use --provider or --limit)")
    return 0


def cmd_cost(args: argparse.Namespace, registry: Registry) -> int:
    usage: dict[str, Any] = json.loads(args.usage, parse_float=Decimal) if args.usage else {}
    for name in TOKEN_FIELDS:
        value = getattr(args, name)
        if value is not None:
            usage[name] = value
    if args.audio_seconds is not None:
        usage["audio_seconds"] = Decimal(args.audio_seconds)
    for item in args.unit or ():
        name, _, count = item.partition("=")
        usage.setdefault("units", {})[name] = Decimal(count)
    cost = registry.compute_cost(
        args.provider,
        args.model,
        usage,
        at=_parse_at(args.at),
        batch=args.batch,
        service_tier=args.service_tier,
        provider_reported_cost=args.provider_reported_cost,
    )
    print(f"usd:      {cost.usd if cost.priced else 'unpriced'}")
    print(f"price_id: {cost.price_id}")
    for component, amount in cost.breakdown.items():
        print(f"  {component:<20} {amount}")
    for note in cost.notes:
        print(f"note: {note}")
    return 0 if cost.priced else 1


def cmd_validate(args: argparse.Namespace, registry: Registry) -> int:
    check = Registry()
    for path in args.files:
        check.load_file(Path(path), source="override", default_version="check")
    print(f"ok: {check.stats()['models']} model entries in {len(args.files)} file(s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pricing", description=f"Price data {PRICE_DATA_VERSION}")
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="print the entry matching MODEL and its prices")
    show.add_argument("model")
    show.add_argument("--provider", "-p")
    show.add_argument("--at", help="ISO date/time (UTC) to mark the period in force")
    show.add_argument("--limit", type=int, default=5)
    cost = sub.add_parser("cost", help="price one call")
    cost.add_argument("--provider", "-p", required=True)
    cost.add_argument("--model", "-m", required=True)
    for name in TOKEN_FIELDS:
        cost.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int)
    cost.add_argument("--audio-seconds")
    cost.add_argument("--unit", action="append", metavar="NAME=COUNT")
    cost.add_argument("--usage", help="usage as a JSON object (flags override its keys)")
    cost.add_argument("--at")
    cost.add_argument("--batch", action="store_true")
    cost.add_argument("--service-tier")
    cost.add_argument("--provider-reported-cost")
    validate = sub.add_parser("validate", help="check a PRICING_OVERRIDES file")
    validate.add_argument("files", nargs="+")
    sub.add_parser("stats", help="count providers and models")
    args = parser.parse_args(argv)
    try:
        if args.command == "validate":
            return cmd_validate(args, Registry())
        registry = default_registry()
        if args.command == "stats":
            print(json.dumps({**registry.stats(), "version": PRICE_DATA_VERSION, "sources": registry.sources}))
            return 0
        return cmd_show(args, registry) if args.command == "show" else cmd_cost(args, registry)
    except (PricingDataError, InvalidUsage, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
