"""Model-name match rules (same vocabulary as genai-prices): equals, starts_with, ends_with, contains,
regex, or, and. Compiled once into closures; names are lower-cased before matching."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Matcher = Callable[[str], bool]
_LEAVES = ("equals", "starts_with", "ends_with", "contains", "regex")


def compile_match(spec: Any, field: str = "match") -> Matcher:
    """Compile a clause tree; raises ValueError naming the field when malformed."""
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise ValueError(f"{field}: expected an object with exactly one of {_LEAVES + ('or', 'and')}")
    ((kind, arg),) = spec.items()
    if kind in ("or", "and"):
        if not isinstance(arg, list) or not arg:
            raise ValueError(f"{field}.{kind}: expected a non-empty list of clauses")
        parts = tuple(compile_match(c, f"{field}.{kind}[{i}]") for i, c in enumerate(arg))
        if kind == "or":
            return lambda name: any(p(name) for p in parts)
        return lambda name: all(p(name) for p in parts)
    if kind not in _LEAVES:
        raise ValueError(f"{field}: unknown clause {kind!r}")
    if not isinstance(arg, str) or not arg:
        raise ValueError(f"{field}.{kind}: expected a non-empty string")
    if kind == "regex":
        try:
            search = re.compile(arg).search
        except re.error as exc:
            raise ValueError(f"{field}.regex: invalid regular expression: {exc}") from None
        return lambda name: search(name) is not None
    text = arg.lower()
    if kind == "equals":
        return lambda name: name == text
    if kind == "starts_with":
        return lambda name: name.startswith(text)
    if kind == "ends_with":
        return lambda name: name.endswith(text)
    return lambda name: text in name
