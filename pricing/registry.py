"""The price registry: layered data (bundled < additions < PRICING_OVERRIDES < runtime), model lookup
with a bounded cache, and compute_cost."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pricing._version import PRICE_DATA_VERSION
from pricing.aliases import canonical_provider
from pricing.calc import effective_rates, price_usage, total
from pricing.flat import FlatPrices, build_flat_prices
from pricing.infer import infer
from pricing.loader import PricingDataError, ProviderData, parse_document, read_json
from pricing.model import NOT_BUILT, Cost, Entry, Rate
from pricing.money import to_decimal
from pricing.usage import Usage, read_usage

DATA_DIR = Path(__file__).resolve().parent / "data"
BUNDLED_FILES = (("bundled", "genai_prices.json"), ("additions", "additions.json"))
_NO_TIER = frozenset({"", "auto", "default", "standard", "on_demand", "on-demand"})
_COMPACT_DATE = re.compile(r"-(20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?=-|:|$)")
_CACHE_MAX = 20_000
_MISS = object()
_ZERO = Decimal(0)
_UNKNOWN_NOTES = ("no price matches this provider and model",)


class Registry:
    """All known prices. Thread-safe for readers; writers (register_price) swap whole structures."""

    def __init__(self, *, infer: bool = True) -> None:
        self.infers = infer  # price generic providers' calls by inference (``pricing.infer``)
        self.providers: dict[str, ProviderData] = {}
        self.sources: list[str] = []
        self._cache: dict[tuple[str, str], Any] = {}
        self._inferred: dict[int, Entry] = {}  # id(entry) -> its inferred copy (``pricing.infer``)
        self._lock = threading.Lock()

    def derive(self) -> Registry:
        """A registry that starts with this one's prices; prices registered on it (e.g. one account's
        negotiated rates) do not touch this one. Cheap: entries are shared, never mutated."""
        child = Registry()
        child.providers = dict(self.providers)
        child.sources = [*self.sources]
        return child

    # ----- loading -------------------------------------------------------------------------------
    def load_document(self, doc: Any, *, source: str, origin: str, default_version: str) -> None:
        """Merge one data document above everything loaded so far."""
        blocks = parse_document(
            doc,
            source=source,
            origin=origin,
            default_version=default_version,
            resolve_provider=canonical_provider,
            known=self.providers,
        )
        with self._lock:
            providers = dict(self.providers)
            for block in blocks:
                old = providers.get(block.id)
                if old is None:
                    providers[block.id] = block
                    continue
                providers[block.id] = ProviderData(
                    id=old.id,
                    name=block.name or old.name,
                    pricing_urls=block.pricing_urls or old.pricing_urls,
                    notes=block.notes or old.notes,
                    fallback=block.fallback or old.fallback,
                    entries=block.entries + old.entries,  # newer layer first
                )
            self.providers = providers
            self.sources.append(origin)
            self._cache = {}
            self._inferred = {}

    def load_file(self, path: Path, *, source: str, default_version: str) -> None:
        self.load_document(read_json(path), source=source, origin=str(path), default_version=default_version)

    # ----- lookup ----------------------------------------------------------------------------------
    def lookup(self, provider: str, model: str) -> tuple[str, tuple[Entry, ...]] | None:
        """(canonical provider, candidate entries in precedence order) or None when nothing matches."""
        key = (provider, model)
        hit = self._cache.get(key, _MISS)
        if hit is _MISS:
            hit = self._lookup(provider, model)
            cache = self._cache
            if len(cache) >= _CACHE_MAX:  # bounded: model names come from untrusted clients
                cache = self._cache = {}
            cache[key] = hit
        return hit  # type: ignore[return-value]

    def _lookup(self, provider: str, model: str) -> tuple[str, tuple[Entry, ...]] | None:
        if not isinstance(provider, str) or not isinstance(model, str):
            return None
        pid = canonical_provider(provider)
        data = self.providers.get(pid)
        if data is None:
            return self._infer(model) if self.infers else None
        if not model.strip():
            return None
        for ref in _model_refs(pid, model):
            found = _matches(data.entries, ref)
            if not found:
                for fb in data.fallback:
                    fb_data = self.providers.get(fb)
                    if fb_data is not None:
                        found = _matches(fb_data.entries, ref)
                        if found:
                            break
            if found:
                return pid, tuple(found)
        return None

    def _infer(self, model: str) -> tuple[str, tuple[Entry, ...]] | None:
        """A generic provider's call: the one vendor model its name identifies (``pricing.infer``), as
        inferred copies of that model's entries, or None."""
        providers = self.providers
        fallbacks = {pid: data.fallback for pid, data in providers.items()}
        hit = infer(model, providers, self._lookup, fallbacks)  # uncached: misses must not crowd the cache
        if hit is None:
            return None
        copies = self._inferred
        entries = []
        for entry in hit[1]:
            copy = copies.get(id(entry))
            if copy is None:
                copy = copies[id(entry)] = entry.as_inferred()
            entries.append(copy)
        return hit[0], tuple(entries)

    # ----- pricing ---------------------------------------------------------------------------------
    def compute_cost(
        self,
        provider: str,
        model: str,
        usage: Mapping[str, Any] | Usage,
        *,
        at: datetime | None = None,
        batch: bool = False,
        service_tier: str | None = None,
        provider_reported_cost: Decimal | str | int | float | None = None,
    ) -> Cost:
        counts, audio, units = read_usage(usage)
        if provider_reported_cost is not None:
            usd = to_decimal(provider_reported_cost, "provider_reported_cost")
            return Cost(usd, True, "provider_reported", {"provider_reported": usd})
        if at is not None and at.tzinfo is None:
            raise ValueError("at: expected a timezone-aware datetime")
        hit = self.lookup(provider, model)
        if hit is None:
            return Cost(None, False, None, {}, _UNKNOWN_NOTES)
        pid, candidates = hit
        if at is None and candidates[0].fixed_period is None:
            at = datetime.now(UTC)
        found = in_force(candidates, at)
        if found is None:
            when = f"{at:%Y-%m-%d %H:%M} UTC"
            return Cost(None, False, None, {}, (f"no price for {provider}/{model} in force at {when}",))
        entry, idx = found
        tier = None
        if service_tier is not None:
            tier = str(service_tier).strip().lower()
            if tier == "batch":
                batch, tier = True, None
            elif tier in _NO_TIER:
                tier = None
        if not batch and tier is None:
            plain = _plain(entry, idx)
        else:
            if at is None:
                at = datetime.now(UTC)
            plain = _with_variants(entry, idx, at, batch, tier, pid)
        rates, unit_prices, price_id, notes = plain
        if not rates and not unit_prices:
            # listed with no price at all: free (":free" models) or included in a subscription
            return Cost(_ZERO, True, price_id, {}, (*notes, f"{price_id} is listed with no per-call price"))
        breakdown, missing = price_usage(rates, unit_prices, counts, audio, units, entry.audio_min_seconds)
        if missing:
            why = f"no price for {', '.join(missing)} in {price_id}"
            return Cost(None, False, price_id, breakdown, (*notes, why))
        if not breakdown and "input" not in rates and "output" not in rates:
            # e.g. an image or vector call whose usage carries none of the units it is billed in
            priced_in = ", ".join([*rates, *(f"units:{u}" for u in unit_prices)])
            return Cost(None, False, price_id, {}, (*notes, f"usage has none of what {price_id} bills: {priced_in}"))
        if entry.audio_min_seconds and audio and audio < entry.audio_min_seconds:
            notes = (*notes, f"audio billed at the {entry.audio_min_seconds} s minimum")
        return Cost(total(breakdown), True, price_id, breakdown, notes)

    def flat_prices(self, provider: str, model: str, at: datetime) -> FlatPrices | None:
        """The integer plain rates in force at ``at`` (aware) for a model whose rates are all flat
        (``pricing.flat``), else None."""
        hit = self.lookup(provider, model)
        if hit is None:
            return None
        found = in_force(hit[1], at)
        if found is None:
            return None
        entry, idx = found
        flat = entry._flat[idx]
        if flat is NOT_BUILT:
            flat = entry._flat[idx] = build_flat_prices(entry, _plain(entry, idx))
        return flat

    def price_changes(self, provider: str, model: str) -> tuple[datetime, ...] | None:
        """The instants at which the price in force for ``provider``/``model`` may change (every period start
        of every candidate entry), or None when one is in force only daily (its price changes every day)."""
        hit = self.lookup(provider, model)
        return () if hit is None else period_starts(hit[1])

    # ----- runtime registration -------------------------------------------------------------------
    def register_price(
        self,
        provider: str,
        model: str,
        prices: Mapping[str, Any],
        *,
        match: Mapping[str, Any] | None = None,
        effective_from: date | datetime | str | None = None,
        variants: Iterable[Mapping[str, Any]] | None = None,
        name: str | None = None,
        source: str = "runtime",
    ) -> str:
        """Add a price above all data; returns its price_id. With ``effective_from``, calls before that
        instant keep their previous price (history is not rewritten)."""
        period: dict[str, Any] = {"prices": dict(prices)}
        if effective_from is not None:
            period["from"] = effective_from
        entry: dict[str, Any] = {"id": model, "periods": [period]}
        if match is not None:
            entry["match"] = dict(match)
        if variants:
            entry["variants"] = [dict(v) for v in variants]
        if name:
            entry["name"] = name
        doc = {"format": 1, "providers": [{"id": provider, "models": [entry]}]}
        self.load_document(doc, source=source, origin="register_price", default_version=source)
        new = self.providers[canonical_provider(provider)].entries[0]
        return new.price_id(0)

    # ----- introspection (CLI) ---------------------------------------------------------------------
    def find_all(self, model: str) -> list[tuple[str, Entry]]:
        """Every provider whose own data matches ``model`` (first match per provider); catch-all
        entries (a service billed per unit whatever the model) and fallback providers are left out."""
        out = []
        for pid in self.providers:
            hit = self.lookup(pid, model)
            if hit is not None:
                entry = hit[1][0]
                if entry.provider == pid and entry.match_spec != {"regex": "."}:
                    out.append((pid, entry))
        return out

    def stats(self) -> dict[str, int]:
        ids = {(p.id, e.id) for p in self.providers.values() for e in p.entries}
        return {"providers": len(self.providers), "models": len(ids)}


def in_force(candidates: tuple[Entry, ...], at: datetime | None) -> tuple[Entry, int] | None:
    """The entry and period in force at ``at`` among a lookup's candidates (in precedence order), or None.
    ``at`` may be None only when the first candidate's last period always applies."""
    entry = candidates[0]
    if entry.fixed_period is not None:
        return entry, entry.fixed_period
    for entry in candidates:
        idx = entry.period_index(at)  # type: ignore[arg-type]
        if idx is not None:
            return entry, idx
    return None


def period_starts(candidates: Iterable[Entry]) -> tuple[datetime, ...] | None:
    """Every period start of ``candidates`` (sorted), or None when a period is in force only daily."""
    starts: set[datetime] = set()
    for entry in candidates:
        for period in entry.periods:
            if period.when.daily is not None:
                return None
            if period.when.start is not None:
                starts.add(period.when.start)
    return tuple(sorted(starts))


def _plain(entry: Entry, idx: int) -> tuple[Any, ...]:
    """Period ``idx``'s rates with fallbacks, unit prices, price id and no notes (cached on the entry)."""
    plain = entry._plain[idx]
    if plain is None:
        prices = entry.periods[idx].prices
        plain = entry._plain[idx] = (effective_rates(prices), dict(prices.units), entry.price_id(idx), ())
    return plain


def _with_variants(
    entry: Entry, idx: int, at: datetime, batch: bool, tier: str | None, pid: str
) -> tuple[dict[str, Rate], dict[str, Rate], str, tuple[str, ...]]:
    """Rates of period ``idx`` with the variants for this request laid over, cached per variant set."""
    own = entry.provider == pid  # a fallback provider's variants are not this provider's prices
    active = (
        tuple(
            i for i, v in enumerate(entry.variants) if _variant_applies(v.conditions, batch, tier) and v.when.active(at)
        )
        if own
        else ()
    )
    key = (idx, batch, tier, active)
    hit = entry._with_variants.get(key)
    if hit is not None:
        return hit
    prices = entry.periods[idx].prices
    overlay = None
    for i in active:
        # the first variant to set a key wins (genai-prices' rule): lay earlier ones over later ones
        overlay = entry.variants[i].prices if overlay is None else entry.variants[i].prices.overlay(overlay)
    if overlay is not None:
        prices = prices.overlay(overlay)
    chosen = [entry.variants[i] for i in active]
    notes: list[str] = []
    if batch and not any("batch" in v.conditions for v in chosen):
        notes.append("no batch price in force for this model; standard rates used (an upper bound)")
    if tier is not None and not any("service_tier" in v.conditions for v in chosen):
        notes.append(f"no price for service_tier {tier!r}; standard rates used")
    label = "+".join(v.label() for v in chosen)
    result = (effective_rates(prices), dict(prices.units), entry.price_id(idx, label), tuple(notes))
    if len(entry._with_variants) < 64:
        entry._with_variants[key] = result
    return result


def _variant_applies(cond: Mapping[str, Any], batch: bool, tier: str | None) -> bool:
    for key, value in cond.items():
        if key == "batch":
            if not batch:
                return False
        elif key == "service_tier":
            if tier is None or value != tier:
                return False
        else:  # request contexts we are not told about (speed, route...) never match
            return False
    return True


def _matches(entries: list[Entry], ref: str) -> list[Entry]:
    found = []
    for entry in entries:
        if entry.match(ref):
            found.append(entry)
            if entry.always_in_force:  # nothing after it can be reached
                break
    return found


def _model_refs(pid: str, model: str) -> list[str]:
    """Names to try, in order: as sent, then without a provider/'models/' prefix, then with a compact
    date (gpt-4o-20240806) written the dashed way."""
    ref = model.strip().lower()
    refs = [ref]
    if ref.startswith("models/"):
        refs.append(ref[7:])
    if "/" in ref:
        prefix, rest = ref.split("/", 1)
        if rest and canonical_provider(prefix) == pid:
            refs.append(rest)
    for r in list(refs):
        dashed = _COMPACT_DATE.sub(lambda m: f"-{m[1]}-{m[2]}-{m[3]}", r)
        if dashed != r:
            refs.append(dashed)
    return refs


def overrides_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


def build_default(remote: tuple[Any, str, str] | None = None) -> Registry:
    """Bundled data, then our additions, then ``remote`` (a validated ``PRICING_URL`` document, its origin and
    version: ``pricing.remote``), then the PRICING_OVERRIDES file if set."""
    registry = Registry()
    for source, filename in BUNDLED_FILES:
        registry.load_file(DATA_DIR / filename, source=source, default_version=PRICE_DATA_VERSION)
    if remote is not None:
        doc, origin, version = remote
        registry.load_document({**doc, "version": version}, source="remote", origin=origin, default_version=version)
    override = os.environ.get("PRICING_OVERRIDES", "").strip()
    if override:
        path = Path(override)
        if not path.is_file():
            raise PricingDataError(f"PRICING_OVERRIDES={override}: no such file")
        registry.load_file(path, source="override", default_version=f"override-{overrides_digest(path)}")
    return registry
