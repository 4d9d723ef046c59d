"""Exceptions the SDK raises on purpose (and only these)."""

from __future__ import annotations


class BudgetExceededError(Exception):
    """A cap blocks this call; raised before any network I/O.

    Deliberately a plain ``Exception`` subclass, unrelated to httpx/requests/openai/anthropic
    error types, so the provider clients neither retry it nor wrap it: the host sees it as is.
    """

    def __init__(self, scope: str, value: str, until: str | None = None) -> None:
        self.scope = scope
        self.value = value
        self.until = until
        msg = f"llmobserve: budget cap reached for {scope}"
        if value:
            msg += f" {value!r}"
        if until:
            msg += f" (blocked until {until})"
        super().__init__(msg)


# Base classes of provider SDKs whose own errors they re-raise untouched and never retry.
# anthropic wraps any foreign exception from the transport in APIConnectionError (which it
# retries); an AnthropicError instance passes through as is. Only modules the host already
# imported are used: we never import them ourselves.
_PASS_THROUGH_BASES = (("anthropic", "AnthropicError"), ("openai", "OpenAIError"))
_classes: dict[tuple[type, ...], type[BudgetExceededError]] = {}


def budget_error(scope: str, value: str, until: str | None = None) -> BudgetExceededError:
    """A BudgetExceededError that is also an instance of the loaded clients' base errors."""
    import sys

    bases: list[type] = []
    for mod_name, attr in _PASS_THROUGH_BASES:
        mod = sys.modules.get(mod_name)
        base = getattr(mod, attr, None) if mod is not None else None
        if isinstance(base, type) and issubclass(base, Exception):
            bases.append(base)
    key = tuple(bases)
    cls = _classes.get(key)
    if cls is None:
        try:
            cls = type("BudgetExceededError", (BudgetExceededError, *bases), {"__module__": __name__})
        except TypeError:  # incompatible layouts: fall back to the plain class
            cls = BudgetExceededError
        _classes[key] = cls
    return cls(scope, value, until)
