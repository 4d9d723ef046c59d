"""Swap a method for a wrapper, and put it back only if nobody replaced ours since."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def patch(owner: Any, name: str, make: Callable[..., Callable[..., Any]], *args: Any) -> Callable[[], None]:
    """``owner.name = make(original, *args)``; returns the undo."""
    original = getattr(owner, name)
    wrapper = make(original, *args)
    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(owner, name, wrapper)

    def undo() -> None:
        if getattr(owner, name) is wrapper:
            setattr(owner, name, original)

    return undo


def undo_all(undos: list[Callable[[], None]]) -> Callable[[], None]:
    def undo() -> None:
        for one in undos:
            one()

    return undo
