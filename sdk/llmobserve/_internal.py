"""Helpers that keep SDK failures inside the SDK (cf. sentry's capture_internal_exceptions)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

logger = logging.getLogger("llmobserve")

_local = threading.local()


def in_sdk() -> bool:
    """True while the current thread is running the SDK's own I/O (never capture it)."""
    return getattr(_local, "busy", False)


@contextmanager
def sdk_io() -> Iterator[None]:
    prev = getattr(_local, "busy", False)
    _local.busy = True
    try:
        yield
    finally:
        _local.busy = prev


def log_internal(what: str) -> None:
    """Call from an ``except`` block on hot paths (a plain try/except is cheaper than a with)."""
    with suppress(Exception):
        logger.debug("llmobserve %s error", what, exc_info=True)


@contextmanager
def capture_internal_exceptions(what: str = "internal") -> Iterator[None]:
    """Swallow and log any exception: the SDK must never raise into the host."""
    try:
        yield
    except Exception:  # by design
        with suppress(Exception):
            logger.debug("llmobserve %s error", what, exc_info=True)
