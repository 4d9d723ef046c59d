"""Price inference for generic providers: which vendor model a name sent through an unknown provider names.

A call through ``openai-compatible`` (a gateway, a proxy, a local test server), ``ollama`` or any provider
the price data does not know carries only a model name. When that name identifies exactly one model of one
model maker (``gpt-4o-2024-08-06``, ``claude-sonnet-4-5``, ``gemini-2.5-pro``, OpenRouter-style
``openai/gpt-4o``) the call is priced at that maker's list price, under a price id starting ``inferred:``.
Anything less certain stays unpriced — never a guess, never $0:

- the name must *be* the model's id, one of the names its entry lists (``equals``/``starts_with`` leaves of
  its match rule) or such a name plus a snapshot suffix (``-20250929``, ``-2024-08-06``, ``-0709``,
  ``@20250929``, ``-latest``). The maker's broader rules (``starts_with: deepseek-r1``) are not enough:
  ``deepseek-r1-distill-llama-70b`` or an Ollama tag ``deepseek-r1:7b`` is a self-hosted model, not
  DeepSeek's API;
- exactly one maker may claim it. A maker that re-sells another maker's models (Google's Vertex lists
  Anthropic's Claude; its data falls back to Anthropic) yields to that maker;
- ``vendor/model`` names the provider itself: only that provider's data is asked (any provider the data
  knows, e.g. ``bedrock/anthropic.claude-…``), its own rules and fallbacks included, and the name must still
  be one its entry lists.

Makers are the vendors with first-party APIs below. Open-weights-only makers (Meta) are left out on purpose:
their models are mostly self-hosted, so their API price would be a guess for a call to a local server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pricing.aliases import canonical_provider
from pricing.model import Entry

VENDORS: tuple[str, ...] = (
    "openai", "anthropic", "google", "mistral", "cohere", "deepseek", "x-ai", "moonshotai", "zai", "zhipuai",
    "minimax", "perplexity", "voyageai",
)
INFERRED_SOURCE = "inferred"
# A snapshot or alias suffix that keeps naming the same model: dates (compact, dashed, Vertex's @date),
# four-digit snapshots (mistral-large-2411, grok-4-0709) and -latest.
_COMPACT_DATE = re.compile(r"-(20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?=-|:|$)")
_SNAPSHOT = re.compile(r"(?:[-@](?:20\d{2}-\d{2}-\d{2}|20\d{6}|\d{4})|-latest)$")

Lookup = Callable[[str, str], "tuple[str, tuple[Entry, ...]] | None"]


def listed_names(spec: Any) -> set[str]:
    """The names a match rule lists literally: its ``equals`` and ``starts_with`` leaves, lower-cased."""
    names: set[str] = set()
    if isinstance(spec, Mapping):
        for kind, arg in spec.items():
            if kind in ("equals", "starts_with") and isinstance(arg, str):
                names.add(arg.lower())
            elif kind in ("or", "and") and isinstance(arg, list):
                for clause in arg:
                    names |= listed_names(clause)
    return names


def names_the_model(entry: Entry, ref: str) -> bool:
    """True when ``ref`` (lower-cased, already matched by ``entry``) is the entry's model by name, not just
    by a broad rule: the id, a listed name, or one of those plus a snapshot suffix. An OpenAI fine-tune
    (``ft:<base>:<org>::<id>``) is named by OpenAI's own ``ft:`` entries, whose rules only such names meet."""
    if ref.startswith("ft:"):
        return entry.id.lower().startswith("ft:")
    names = listed_names(entry.match_spec) | {entry.id.lower()}
    if ref in names:
        return True
    core = _SNAPSHOT.sub("", ref)
    return core != ref and core in names


def infer(model: str, providers: Iterable[str], lookup: Lookup, fallbacks: Mapping[str, tuple[str, ...]]
          ) -> tuple[str, tuple[Entry, ...]] | None:
    """(provider, candidate entries) of the one vendor model ``model`` names, or None (unknown, ambiguous).

    ``providers`` are the provider ids the data knows, ``lookup`` the registry's (provider, model) lookup,
    ``fallbacks`` each provider's fallback providers."""
    ref = model.strip().lower()
    if ref.startswith("models/"):
        ref = ref[7:]
    if not ref:
        return None
    known = set(providers)
    if "/" in ref:
        prefix, rest = ref.split("/", 1)
        pid = canonical_provider(prefix)
        if pid not in known or not rest:
            return None
        hit = lookup(pid, rest)
        return hit if hit is not None and _names(hit[1][0], rest) else None
    claims: dict[str, tuple[str, tuple[Entry, ...]]] = {}
    for vendor in VENDORS:
        if vendor not in known:
            continue
        hit = lookup(vendor, ref)
        if hit is not None and hit[1][0].provider == vendor and _names(hit[1][0], ref):
            claims[vendor] = hit
    makers = [v for v in claims if not any(other in fallbacks.get(v, ()) for other in claims if other != v)]
    return claims[makers[0]] if len(makers) == 1 else None


def _names(entry: Entry, ref: str) -> bool:
    """``names_the_model`` for ``ref`` as sent or with a compact date written dashed (as the lookup tries)."""
    return names_the_model(entry, ref) or names_the_model(entry, _COMPACT_DATE.sub(r"-\1-\2-\3", ref))
