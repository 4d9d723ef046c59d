"""Price data fetched from ``PRICING_URL`` (our format 1), validated entry by entry.

``validate_entries`` keeps every model entry that parses and names each one that does not (``provider
'openai' model 'gpt-4o': periods[0].prices.input_mtok: expected a finite number >= 0, got '-1'``), so one bad
entry does not hold back the others; a document that is not format 1 at all is refused whole
(``PricingDataError``). The accepted entries are laid over the bundled data and under ``PRICING_OVERRIDES``
(``pricing.set_remote``); their price ids start ``remote:`` and end with the document's version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pricing.aliases import canonical_provider
from pricing.loader import FORMAT, PricingDataError, parse_document

REMOTE_SOURCE = "remote"


def document_version(doc: Mapping[str, Any], raw: bytes) -> str:
    """The document's ``version``, else ``remote-<sha256 of its bytes>`` (so every price id is traceable)."""
    version = doc.get("version")
    if isinstance(version, str) and version.strip():
        return version.strip()[:60]
    return f"remote-{hashlib.sha256(raw).hexdigest()[:10]}"


def parse_remote(raw: bytes, origin: str) -> dict[str, Any]:
    """The JSON document (numbers as Decimal, never float); PricingDataError when it is not JSON."""
    try:
        doc = json.loads(raw, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PricingDataError(f"{origin}: invalid JSON: {error}") from None
    if not isinstance(doc, dict):
        raise PricingDataError(f"{origin}: expected a JSON object with 'providers'")
    return doc


def validate_entries(doc: Mapping[str, Any], origin: str) -> tuple[dict[str, Any], list[str]]:
    """(a document of the entries that parse, the reasons the others do not). PricingDataError when the
    document's own shape (format, providers list) is wrong or no entry parses."""
    if doc.get("format", FORMAT) != FORMAT:
        raise PricingDataError(f"{origin}: format: unsupported {doc.get('format')!r} (expected {FORMAT})")
    providers = doc.get("providers")
    if not isinstance(providers, list):
        raise PricingDataError(f"{origin}: providers: expected a list")
    problems: list[str] = []
    kept_providers = []
    for index, block in enumerate(providers):
        if not isinstance(block, Mapping) or not isinstance(block.get("id"), str) or not isinstance(
                block.get("models"), list):
            problems.append(f"providers[{index}]: expected an object with id and a models list")
            continue
        kept = []
        for model in block["models"]:
            single = {"format": FORMAT, "providers": [{**block, "models": [model]}]}
            try:
                parse_document(single, source=REMOTE_SOURCE, origin=origin, default_version="check",
                               resolve_provider=canonical_provider, known={})
            except PricingDataError as error:
                problems.append(str(error).removeprefix(f"{origin}: "))
                continue
            kept.append(model)
        if kept:
            kept_providers.append({**block, "models": kept})
    if not kept_providers:
        raise PricingDataError(f"{origin}: no valid price entry" + (f" ({problems[0]})" if problems else ""))
    return {**doc, "providers": kept_providers}, problems
