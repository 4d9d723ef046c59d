"""Read and validate price data in our JSON format (format 1, see pricing/data/README.md).

Every error names the source, the provider, the model entry and the field, e.g.
``overrides.json: provider 'openai' model 'gpt-4o': periods[0].prices.input_mtok: expected a finite
number >= 0, got '-1'``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from pricing.match import compile_match
from pricing.model import PRICE_KEYS, Entry, Period, PriceSet, Rate, Variant, When
from pricing.money import to_decimal

FORMAT = 1
_MODEL_KEYS = {
    "id",
    "name",
    "match",
    "context_window",
    "notes",
    "deprecated",
    "audio_min_seconds",
    "periods",
    "prices",
    "variants",
}
_PROVIDER_KEYS = {"id", "name", "pricing_urls", "notes", "fallback", "models"}


class PricingDataError(ValueError):
    """Invalid price data; the message names the source, entry and field."""


@dataclass
class ProviderData:
    id: str
    name: str | None = None
    pricing_urls: tuple[str, ...] = ()
    notes: str | None = None
    fallback: tuple[str, ...] = ()
    entries: list[Entry] = field(default_factory=list)


def parse_rate(value: Any, per: int, where: str) -> Rate:
    if isinstance(value, Mapping):
        extra = set(value) - {"base", "tiers"}
        if extra:
            raise ValueError(f"{where}: unknown keys {sorted(extra)} (expected base, tiers)")
        base = to_decimal(value.get("base"), f"{where}.base")
        raw_tiers = value.get("tiers")
        if not isinstance(raw_tiers, list) or not raw_tiers:
            raise ValueError(f"{where}.tiers: expected a non-empty list of {{above, price}}")
        tiers = []
        last = -1
        for i, tier in enumerate(raw_tiers):
            tw = f"{where}.tiers[{i}]"
            if not isinstance(tier, Mapping) or set(tier) != {"above", "price"}:
                raise ValueError(f"{tw}: expected an object with exactly 'above' and 'price'")
            above = tier["above"]
            if type(above) is not int or above < 0:
                raise ValueError(f"{tw}.above: expected an integer >= 0 (input tokens), got {above!r}")
            if above <= last:
                raise ValueError(f"{tw}.above: tiers must be in strictly increasing order")
            last = above
            tiers.append((above, to_decimal(tier["price"], f"{tw}.price")))
        return Rate.make(base, per, tuple(tiers))
    return Rate.make(to_decimal(value, where), per)


def parse_prices(raw: Any, where: str) -> PriceSet:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected an object of price keys")
    rates: dict[str, Rate] = {}
    units: dict[str, Rate] = {}
    for key, value in raw.items():
        kw = f"{where}.{key}"
        if key == "units":
            if not isinstance(value, Mapping):
                raise ValueError(f"{kw}: expected an object of unit name: {{usd, per}}")
            for name, spec in value.items():
                uw = f"{kw}.{name}"
                if not isinstance(spec, Mapping) or not set(spec) <= {"usd", "per"} or "usd" not in spec:
                    raise ValueError(f'{uw}: expected {{"usd": price, "per": count}}')
                per = spec.get("per", 1)
                if type(per) is not int or per <= 0:
                    raise ValueError(f"{uw}.per: expected a positive integer, got {per!r}")
                units[name] = parse_rate(spec["usd"], per, f"{uw}.usd")
            continue
        if key not in PRICE_KEYS:
            raise ValueError(f"{kw}: unknown price key (known: {', '.join(PRICE_KEYS)}, units)")
        component, per = PRICE_KEYS[key]
        if component in rates:
            raise ValueError(f"{kw}: {component} is already priced by another key")
        rates[component] = parse_rate(value, per, kw)
    cached, inp = rates.get("cached_input"), rates.get("input")
    if cached is not None and inp is not None:
        for n in {0, *(a + 1 for a, _ in cached.tiers), *(a + 1 for a, _ in inp.tiers)}:
            if cached.price_for(n) > inp.price_for(n):
                raise ValueError(
                    f"{where}.cached_input_mtok: a cache read ({cached.price_for(n)}) cannot cost more than "
                    f"an uncached input token ({inp.price_for(n)}) at {n} input tokens"
                )
    return PriceSet(rates, units)


def _parse_time(value: Any, where: str) -> time:
    try:
        return time.fromisoformat(value).replace(tzinfo=None)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: expected HH:MM (UTC), got {value!r}") from None


def parse_when(raw: Mapping[str, Any], where: str) -> When:
    start = raw.get("from")
    start_dt: datetime | None = None
    if start is not None:
        if isinstance(start, datetime):
            start_dt = start
        elif isinstance(start, date):
            start_dt = datetime(start.year, start.month, start.day, tzinfo=UTC)
        elif isinstance(start, str):
            try:
                start_dt = datetime.fromisoformat(start.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"{where}.from: expected an ISO date or datetime, got {start!r}") from None
        else:
            raise ValueError(f"{where}.from: expected an ISO date or datetime, got {start!r}")
        if start_dt.tzinfo is None:
            start_dt = start_dt.replace(tzinfo=UTC)  # dates and naive datetimes in the data are UTC
    daily = raw.get("daily_utc")
    daily_t = None
    if daily is not None:
        if not isinstance(daily, list | tuple) or len(daily) != 2:
            raise ValueError(f"{where}.daily_utc: expected [start HH:MM, end HH:MM]")
        daily_t = (_parse_time(daily[0], f"{where}.daily_utc[0]"), _parse_time(daily[1], f"{where}.daily_utc[1]"))
    return When(start_dt, daily_t)


def parse_entry(provider: str, raw: Any, *, source: str, version: str, inherited_match: Any = None) -> Entry:
    if not isinstance(raw, Mapping):
        raise ValueError("expected a model object")
    model_id = raw.get("id")
    if not isinstance(model_id, str) or not model_id:
        raise ValueError("id: expected a non-empty string")
    extra = set(raw) - _MODEL_KEYS
    if extra:
        raise ValueError(f"unknown fields {sorted(extra)}")
    match_spec = raw.get("match") or inherited_match or {"equals": model_id}
    matcher = compile_match(match_spec)
    if "periods" in raw and "prices" in raw:
        raise ValueError("give either 'prices' (one undated period) or 'periods', not both")
    raw_periods = raw.get("periods")
    if raw_periods is None:
        if "prices" not in raw:
            raise ValueError("prices: missing (give 'prices' or 'periods')")
        raw_periods = [{"prices": raw["prices"]}]
    if not isinstance(raw_periods, list) or not raw_periods:
        raise ValueError("periods: expected a non-empty list")
    periods = []
    for i, rp in enumerate(raw_periods):
        pw = f"periods[{i}]"
        if not isinstance(rp, Mapping) or not set(rp) <= {"from", "daily_utc", "prices"}:
            raise ValueError(f"{pw}: expected an object with prices and optional from, daily_utc")
        periods.append(Period(parse_when(rp, pw), parse_prices(rp.get("prices"), f"{pw}.prices")))
    variants = []
    for i, rv in enumerate(raw.get("variants") or ()):
        vw = f"variants[{i}]"
        if not isinstance(rv, Mapping) or not set(rv) <= {"when", "from", "daily_utc", "prices"}:
            raise ValueError(f"{vw}: expected an object with when, prices and optional from, daily_utc")
        cond = rv.get("when")
        if not isinstance(cond, Mapping) or not cond:
            raise ValueError(f'{vw}.when: expected a non-empty object, e.g. {{"batch": true}}')
        if "batch" in cond and cond["batch"] is not True:
            raise ValueError(f"{vw}.when.batch: expected true")
        variants.append(Variant(dict(cond), parse_when(rv, vw), parse_prices(rv.get("prices"), f"{vw}.prices")))
    cw = raw.get("context_window")
    if cw is not None and (type(cw) is not int or cw <= 0):
        raise ValueError(f"context_window: expected a positive integer, got {cw!r}")
    ams = raw.get("audio_min_seconds", 0)
    if type(ams) is not int or ams < 0:
        raise ValueError(f"audio_min_seconds: expected an integer >= 0, got {ams!r}")
    for key in ("name", "notes"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise ValueError(f"{key}: expected a string")
    return Entry(
        provider=provider,
        id=model_id,
        match=matcher,
        match_spec=match_spec,
        periods=tuple(periods),
        variants=tuple(variants),
        name=raw.get("name"),
        context_window=cw,
        notes=raw.get("notes"),
        deprecated=bool(raw.get("deprecated", False)),
        audio_min_seconds=ams,
        source=source,
        version=version,
    )


def parse_document(
    doc: Any,
    *,
    source: str,
    origin: str,
    default_version: str,
    resolve_provider: Any,
    known: Mapping[str, ProviderData],
) -> list[ProviderData]:
    """Parse one data document into per-provider blocks (entries in file order).

    ``resolve_provider`` maps a provider id or alias to its canonical id; ``known`` holds the providers
    already loaded (an entry without ``match`` inherits the match of the same id there).
    """
    if not isinstance(doc, Mapping):
        raise PricingDataError(f"{origin}: expected a JSON object with 'providers'")
    if doc.get("format", FORMAT) != FORMAT:
        raise PricingDataError(f"{origin}: format: unsupported {doc.get('format')!r} (expected {FORMAT})")
    version = doc.get("version", default_version)
    if not isinstance(version, str) or not version:
        raise PricingDataError(f"{origin}: version: expected a non-empty string")
    providers = doc.get("providers")
    if not isinstance(providers, list):
        raise PricingDataError(f"{origin}: providers: expected a list")
    out: list[ProviderData] = []
    for pi, rp in enumerate(providers):
        if not isinstance(rp, Mapping) or not isinstance(rp.get("id"), str) or not rp["id"]:
            raise PricingDataError(f"{origin}: providers[{pi}].id: expected a non-empty string")
        pid = resolve_provider(rp["id"])
        where = f"{origin}: provider {pid!r}"
        extra = set(rp) - _PROVIDER_KEYS
        if extra:
            raise PricingDataError(f"{where}: unknown fields {sorted(extra)}")
        fallback = rp.get("fallback") or ()
        if not isinstance(fallback, list | tuple) or not all(isinstance(f, str) for f in fallback):
            raise PricingDataError(f"{where}: fallback: expected a list of provider ids")
        block = ProviderData(
            id=pid,
            name=rp.get("name"),
            pricing_urls=tuple(rp.get("pricing_urls") or ()),
            notes=rp.get("notes"),
            fallback=tuple(resolve_provider(f) for f in fallback),
        )
        models = rp.get("models")
        if not isinstance(models, list):
            raise PricingDataError(f"{where}: models: expected a list")
        below = known.get(pid)
        for mi, rm in enumerate(models):
            mid = rm.get("id") if isinstance(rm, Mapping) else None
            label = f"model {mid!r}" if isinstance(mid, str) else f"models[{mi}]"
            inherited = None
            if below is not None and isinstance(mid, str):
                inherited = next((e.match_spec for e in below.entries if e.id == mid), None)
            try:
                block.entries.append(parse_entry(pid, rm, source=source, version=version, inherited_match=inherited))
            except ValueError as exc:
                raise PricingDataError(f"{where} {label}: {exc}") from None
        out.append(block)
    return out


def read_json(path: Path) -> Any:
    """JSON with numbers as Decimal (never float)."""
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh, parse_float=Decimal)
    except OSError as exc:
        raise PricingDataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise PricingDataError(f"{path}: invalid JSON: {exc}") from None
