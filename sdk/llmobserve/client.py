"""The running SDK instance: config + caps + worker + delivery + hooks; one per process."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from typing import Any

from . import capture, context, events, hooks, hub, ids, providers
from ._internal import capture_internal_exceptions, logger
from .caps import Caps
from .config import Config
from .delivery import Delivery
from .worker import Deadline, Worker

# Events are built and encoded this many at a time, then the worker sleeps briefly: a real sleep (not
# sleep(0), which often takes the GIL straight back) lets host threads waiting for the GIL run, so a
# host call waits at most about one slice (16 events: ~0.1 ms idle machine, ~0.3 ms busy) instead of the
# interpreter's 5 ms switch interval, possibly several times over, while a 500-event batch is built.
SLICE = 16
YIELD_SECONDS = 0.0001


class Client:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.collector_host = config.collector_netloc
        self.caps = Caps(fail_open=config.caps_fail_open, stale_after=config.caps_stale_after)
        deadline = Deadline()
        self.delivery = Delivery(config, self.caps, deadline)
        self.worker: Worker[capture.Call] = Worker(
            self._handle,
            batch_size=config.batch_size,
            flush_interval=config.flush_interval,
            queue_size=config.queue_size,
            deadline=deadline,
            tick=self.delivery.poll_caps if config.enforce_caps else None,
            tick_interval=config.caps_poll_interval,
        )
        self._pending_bytes = 0

    @property
    def stats(self) -> dict[str, int]:
        out = self.delivery.stats.as_dict()
        out["internal_errors"] += self.worker.errors
        return out

    # ---- host side ----------------------------------------------------------------------------

    def begin(self, method: str, host: str, path: str, headers: Any, body: Any) -> capture.Call | None:
        if host == self.collector_host:
            return None
        return capture.begin(self.config, self.caps, method, host, path, headers, body)

    def submit(self, call: capture.Call) -> None:
        stats = self.delivery.stats
        stats.captured += 1
        if self.worker.full():
            stats.dropped_queue_full += 1
            return
        size = events.held_bytes(call)
        if size and self._pending_bytes + size > self.config.max_pending_bytes:
            events.parse_inline(call)  # keep memory bounded: parse now, hold only the small result
            size = 0
        self._pending_bytes += size
        if not self.worker.put(call):
            self._pending_bytes -= size
            stats.dropped_queue_full += 1

    # ---- worker thread ------------------------------------------------------------------------

    def _handle(self, calls: list[capture.Call]) -> None:
        """Build and encode ``calls`` a slice at a time, yielding the GIL between slices; send."""
        stats = self.delivery.stats
        tags = self.config.tags
        parts: list[bytes] = []
        for i in range(0, len(calls), SLICE):
            if i:
                time.sleep(YIELD_SECONDS)
            built = []
            chunk = calls[i : i + SLICE]
            for call, span_id in zip(chunk, ids.new_ids(len(chunk))):
                self._pending_bytes -= events.held_bytes(call)
                try:
                    built.append(events.build_event(call, tags, span_id))
                except Exception:
                    stats.internal_errors += 1
                    logger.debug("llmobserve could not build an event", exc_info=True)
            parts.extend(events.encode_each(built))
        if parts:
            stats.batches += 1
            self.delivery.send(parts)

    def shutdown(self, timeout: float | None) -> None:
        if self.worker.shutdown(self.config.shutdown_timeout if timeout is None else timeout):
            self.delivery.transport.close()

    def reset_after_fork(self) -> None:
        self.worker.reset_after_fork()
        self.delivery.reset_after_fork()
        self.caps.reset_after_fork()
        self._pending_bytes = 0


def _after_fork_in_child() -> None:
    client = hub.active()
    if client is not None:
        client.reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


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
        old = hub.active()
        if old is not None:
            _stop(old, timeout=0.5)
        client = Client(config)
        with capture_internal_exceptions("observe"):
            if config.debug:
                logger.setLevel(logging.DEBUG)
            providers.clear_cache()
            hub.set_active(client)
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
        hub.set_active(None)
        hooks.uninstall()
        context.uninstall_thread_propagation()
        client.shutdown(timeout)


def flush(timeout: float = 2.0) -> bool:
    """Send what is queued; wait at most ``timeout`` seconds. True if everything went out."""
    client = hub.active()
    if client is None:
        return True
    try:
        return client.worker.flush(timeout)
    except Exception:
        return False


def shutdown(timeout: float | None = None) -> None:
    """Flush (bounded by ``timeout``, default ``shutdown_timeout``), stop the worker, unhook."""
    with _lock:
        client = hub.active()
        if client is not None:
            _stop(client, timeout)


def _at_exit() -> None:
    client = hub.active()
    if client is not None:
        _stop(client, client.config.shutdown_timeout)


def stats() -> dict[str, Any]:
    """Counters: captured, sent, dropped_queue_full, dropped_send_failed, rejected, ..."""
    client = hub.active()
    if client is None:
        return {}
    out: dict[str, Any] = client.stats
    out["queued"] = len(client.worker)
    out["blocked"] = client.caps.snapshot()
    out["hooks"] = hooks.installed()
    return out
