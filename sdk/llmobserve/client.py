"""The running SDK instance: config + caps + worker + hooks; one per process."""

from __future__ import annotations

import atexit
import logging
import threading
from typing import Any

from . import capture, context, hooks, providers
from ._internal import capture_internal_exceptions, logger
from .caps import Caps
from .config import Config
from .worker import Worker


class Client:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.collector_host = config.collector_netloc
        self.caps = Caps(fail_open=config.caps_fail_open, stale_after=config.caps_stale_after)
        self.worker = Worker(config, self.caps)

    def submit(self, call: capture.Call) -> None:
        self.worker.submit(call)


_lock = threading.Lock()
_atexit_registered = False


def observe(collector_url: str, api_key: str, **options: Any) -> Client | None:
    """Start capturing. Safe to call twice (the second call replaces the first configuration).

    Never raises: a bad configuration is logged on the ``llmobserve`` logger and capture stays off.
    """
    global _atexit_registered
    known = set(Config.__dataclass_fields__)
    unknown = sorted(set(options) - known)
    if unknown:
        logger.warning("llmobserve: ignoring unknown observe() options %s", unknown)
        options = {k: v for k, v in options.items() if k in known}
    try:
        config = Config(collector_url=collector_url, api_key=api_key, **options)
    except (TypeError, ValueError) as exc:
        logger.error("llmobserve: not started, bad configuration: %s", exc)
        return None
    with _lock:
        old = capture.active()
        if old is not None:
            _stop(old, timeout=0.5)
        client = Client(config)
        with capture_internal_exceptions("observe"):
            if config.debug:
                logger.setLevel(logging.DEBUG)
            providers.clear_cache()
            capture.set_active(client)
            hooks.install(config.libraries)
            if config.propagate_to_threads:
                context.install_thread_propagation()
            client.worker.start()
            if not _atexit_registered:
                atexit.register(_at_exit)
                _atexit_registered = True
        return client


def _stop(client: Client, timeout: float | None) -> None:
    with capture_internal_exceptions("shutdown"):
        capture.finalize_live_streams()
        capture.set_active(None)
        hooks.uninstall()
        context.uninstall_thread_propagation()
        client.worker.shutdown(timeout)


def flush(timeout: float = 2.0) -> bool:
    """Send what is queued; wait at most ``timeout`` seconds. True if everything went out."""
    client = capture.active()
    if client is None:
        return True
    try:
        return client.worker.flush(timeout)
    except Exception:  # noqa: BLE001
        return False


def shutdown(timeout: float | None = None) -> None:
    """Flush (bounded by ``timeout``, default ``shutdown_timeout``), stop the worker, unhook."""
    with _lock:
        client = capture.active()
        if client is not None:
            _stop(client, timeout)


def _at_exit() -> None:
    client = capture.active()
    if client is not None:
        _stop(client, client.config.shutdown_timeout)


def stats() -> dict[str, Any]:
    """Counters: captured, sent, dropped_queue_full, dropped_send_failed, rejected, ..."""
    client = capture.active()
    if client is None:
        return {}
    out: dict[str, Any] = client.worker.stats.as_dict()
    out["queued"] = len(client.worker._dq)
    out["blocked"] = client.caps.snapshot()
    out["hooks"] = hooks.installed()
    return out
