"""Background delivery: bounded deque -> batches -> collector, on one daemon thread.

Modelled on OpenTelemetry's BatchSpanProcessor and sentry's BackgroundWorker:
- ``submit`` never blocks and never takes a lock that a GC finaliser could re-enter
  (deque.append is atomic; waking the thread is a non-blocking ``Lock.release``);
- when the deque holds ``queue_size`` calls we drop and count;
- batches go out at ``batch_size`` calls or every ``flush_interval`` seconds;
- 429/5xx/connection errors retry with jittered backoff, never sooner than ``Retry-After``;
- after ``os.fork()`` the child starts empty with its own thread.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import deque
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from ._internal import capture_internal_exceptions, logger
from .capture import Call, build_event, held_bytes, parse_inline
from .transport import Transport, retry_delay

if TYPE_CHECKING:
    from .caps import Caps
    from .config import Config


class Stats:
    __slots__ = (
        "captured",
        "sent",
        "dropped_queue_full",
        "dropped_send_failed",
        "rejected",
        "duplicates",
        "internal_errors",
        "batches",
    )

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


_workers: weakref.WeakSet[Worker] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for w in list(_workers):
        w._reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Worker:
    def __init__(self, config: Config, caps: Caps) -> None:
        self.config = config
        self.caps = caps
        self.stats = Stats()
        self.transport = Transport(config.collector_url, config.api_key, config.request_timeout, config.gzip)
        self._dq: deque[Call] = deque()
        self._pending_bytes = 0
        self._wake = threading.Lock()
        self._wake.acquire()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._deadline: float | None = None  # while shutting down: give up retries after this
        self._flush_asked = 0
        self._inflight = 0
        self._next_caps_poll = 0.0 if config.enforce_caps else float("inf")
        self._skew_warned = False
        _workers.add(self)

    # ---- host side ----------------------------------------------------------------------------

    def submit(self, call: Call) -> None:
        stats = self.stats
        stats.captured += 1
        if len(self._dq) >= self.config.queue_size or self._stopping and self._thread is None:
            stats.dropped_queue_full += 1
            return
        size = held_bytes(call)
        if size and self._pending_bytes + size > self.config.max_pending_bytes:
            parse_inline(call)  # keep memory bounded: parse now, hold only the small result
            size = 0
        self._pending_bytes += size
        self._dq.append(call)
        if self._thread is None:
            self.start()
        if len(self._dq) >= self.config.batch_size:
            self._poke()

    def _poke(self) -> None:
        with suppress(RuntimeError):  # already awake
            self._wake.release()

    def start(self) -> None:
        if self._thread is not None or self._stopping:
            return
        t = threading.Thread(target=self._run, name="llmobserve-worker", daemon=True)
        self._thread = t
        t.start()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait (bounded) until everything submitted so far is sent or dropped."""
        deadline = time.monotonic() + (self.config.shutdown_timeout if timeout is None else timeout)
        if self._thread is None or not self._thread.is_alive():
            return not self._dq
        self._flush_asked += 1
        while time.monotonic() < deadline:
            if not self._dq and self._inflight == 0:
                return True
            self._poke()
            time.sleep(0.005)
        return not self._dq and self._inflight == 0

    def shutdown(self, timeout: float | None = None) -> None:
        """Bounded: returns within ``timeout`` seconds; the daemon thread gives up at the same deadline."""
        timeout = self.config.shutdown_timeout if timeout is None else timeout
        start = time.monotonic()
        self._deadline = start + timeout
        self.flush(max(0.0, timeout - 0.02))
        self._stopping = True
        self._poke()
        t = self._thread
        if t is not None and t.is_alive() and t is not threading.current_thread():
            t.join(max(0.0, self._deadline - time.monotonic()))
        if t is None or not t.is_alive():
            self.transport.close()

    def _reset_after_fork(self) -> None:
        """In the child: the parent still owns (and will send) what was queued before fork."""
        self._dq = deque()
        self._pending_bytes = 0
        self._inflight = 0
        self._wake = threading.Lock()
        self._wake.acquire()
        self._thread = None
        self.transport._conn = None  # the parent's socket: do not close or reuse it
        self.caps._lock = threading.Lock()  # it may have been held by the parent's worker at fork time
        self.stats = Stats()

    # ---- worker thread ------------------------------------------------------------------------

    def _run(self) -> None:
        interval = self.config.flush_interval
        next_flush = time.monotonic() + interval
        while True:
            try:
                now = time.monotonic()
                if self.config.enforce_caps and now >= self._next_caps_poll and not self._stopping:
                    self._next_caps_poll = now + self.config.caps_poll_interval
                    self._poll_caps()
                wait = max(0.0, min(next_flush, self._next_caps_poll) - time.monotonic())
                if self._dq and (len(self._dq) >= self.config.batch_size or self._flush_asked or self._stopping):
                    wait = 0.0
                if wait:
                    self._wake.acquire(timeout=wait)
                if (
                    time.monotonic() >= next_flush
                    or len(self._dq) >= self.config.batch_size
                    or self._flush_asked
                    or self._stopping
                ):
                    self._flush_asked = 0
                    while self._dq:
                        self._send_one_batch()
                        if self._stopping and self._past_deadline():
                            break
                    next_flush = time.monotonic() + interval
                if self._stopping:
                    return
            except Exception:  # noqa: BLE001 - keep the worker alive whatever happens
                self.stats.internal_errors += 1
                logger.debug("llmobserve worker error", exc_info=True)
                time.sleep(0.1)

    def _past_deadline(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _take_batch(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        tags = self.config.tags
        dq = self._dq
        while dq and len(events) < self.config.batch_size:
            call = dq.popleft()
            self._pending_bytes -= held_bytes(call)
            try:
                events.append(build_event(call, tags))
            except Exception:  # noqa: BLE001
                self.stats.internal_errors += 1
                logger.debug("llmobserve could not build an event", exc_info=True)
        return events

    def _send_one_batch(self) -> None:
        self._inflight += 1
        try:
            events = self._take_batch()
            if events:
                self.stats.batches += 1
                self._deliver(events)
        finally:
            self._inflight -= 1

    def _deliver(self, events: list[dict[str, Any]]) -> None:
        attempt = 0
        while True:
            remaining = None if self._deadline is None else self._deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                self.stats.dropped_send_failed += len(events)
                return
            res = self.transport.request("POST", "/v1/events", {"events": events}, timeout=remaining)
            self._check_skew(res.server_time)
            if res.ok:
                self.caps.contacted()
                self.stats.sent += len(events)
                body = res.body
                if isinstance(body, dict):
                    with capture_internal_exceptions("reply"):
                        if "blocked" in body:
                            self.caps.update(body.get("blocked"))
                        rejected = body.get("rejected") or []
                        self.stats.rejected += len(rejected) if isinstance(rejected, list) else 0
                        dup = body.get("duplicates")
                        self.stats.duplicates += dup if isinstance(dup, int) else 0
                        if rejected:
                            logger.debug("llmobserve: collector rejected %s", rejected[:5])
                return
            if res.status == 413 and len(events) > 1:
                half = len(events) // 2
                self._deliver(events[:half])
                self._deliver(events[half:])
                return
            if res.fatal:
                logger.warning("llmobserve: collector refused the API key (HTTP %s); events dropped", res.status)
                self.stats.dropped_send_failed += len(events)
                return
            if not res.retry or attempt >= self.config.max_retries:
                self.stats.dropped_send_failed += len(events)
                return
            delay = retry_delay(attempt, res.retry_after)
            attempt += 1
            if self._deadline is not None:
                delay = min(delay, max(0.0, self._deadline - time.monotonic()))
            end = time.monotonic() + delay
            while time.monotonic() < end:  # sleep, but wake for shutdown
                if self._stopping and self._past_deadline():
                    break
                time.sleep(min(0.05, max(0.0, end - time.monotonic())))

    def _poll_caps(self) -> None:
        res = self.transport.request("GET", "/v1/caps/status", timeout=min(2.0, self.config.request_timeout))
        if res.ok:
            self.caps.contacted()
            if isinstance(res.body, dict):
                self.caps.update(res.body.get("blocked"))
        elif res.status == 404:  # caps not available on this server: no blocks
            self.caps.contacted()
            self.caps.update([])

    def _check_skew(self, server_time: float | None) -> None:
        if server_time is None or self._skew_warned:
            return
        skew = server_time - time.time()
        if abs(skew) > self.config.clock_skew_warning:
            self._skew_warned = True
            logger.warning(
                "llmobserve: this machine's clock differs from the collector's by %.0f s; event times may be misplaced",
                -skew,
            )
