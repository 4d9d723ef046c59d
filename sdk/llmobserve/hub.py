"""The active client, and the one "is capture on" guard every hook goes through."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._internal import in_sdk, log_internal
from .errors import BudgetExceededError

if TYPE_CHECKING:
    from .capture import Call
    from .client import Client

_client: Client | None = None  # set by observe(), cleared by shutdown()


def active() -> Client | None:
    return _client


def set_active(client: Client | None) -> None:
    global _client
    _client = client


def begin(describe: Callable[..., tuple[str, str, str, Any, Any]], *args: Any) -> Call | None:
    """A ``Call`` when capture is on and the request is a provider call we record, else None.

    ``describe(*args)`` returns (method, host, path, headers, body); it runs only when capture is
    on. Never raises, except ``BudgetExceededError`` when a cap blocks the call (before any I/O).
    """
    client = _client
    if client is None or in_sdk():
        return None
    try:
        return client.begin(*describe(*args))
    except BudgetExceededError:
        raise
    except Exception:
        log_internal("begin")
        return None


def submit(call: Call) -> None:
    """Hand a finished call to the active client (dropped if capture was turned off meanwhile)."""
    client = _client
    if client is not None:
        client.submit(call)


def streams_enabled() -> bool:
    client = _client
    return client is not None and client.config.capture_streams
