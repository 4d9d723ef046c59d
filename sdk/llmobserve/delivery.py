"""Uploads encoded batches to the collector and polls the cap list: 429/5xx/connection errors retry with
jittered backoff, never sooner than ``Retry-After``; 413 splits the batch; counters."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ._internal import capture_internal_exceptions, logger
from .transport import Transport, retry_delay

if TYPE_CHECKING:
    from .caps import Caps
    from .config import Config
    from .worker import Deadline


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


def events_body(parts: list[bytes]) -> bytes:
    """``{"events": [...]}`` from events already encoded as JSON."""
    return b'{"events":[' + b",".join(parts) + b"]}"


class Delivery:
    def __init__(self, config: Config, caps: Caps, deadline: Deadline) -> None:
        self.config = config
        self.caps = caps
        self.deadline = deadline
        self.stats = Stats()
        self.transport = Transport(config.collector_url, config.api_key, config.request_timeout, config.gzip)
        self._skew_warned = False

    def reset_after_fork(self) -> None:
        self.transport.forget_connection()  # the parent's socket: do not close or reuse it
        self.stats = Stats()

    def send(self, parts: list[bytes]) -> None:
        """Deliver events (each one encoded JSON): retry, split on 413, count what is dropped."""
        attempt = 0
        body = events_body(parts)
        while True:
            remaining = self.deadline.remaining()
            if remaining is not None and remaining <= 0:
                self.stats.dropped_send_failed += len(parts)
                return
            res = self.transport.request("POST", "/v1/events", body, timeout=remaining)
            self._check_skew(res.server_time)
            if res.ok:
                self.caps.contacted()
                self.stats.sent += len(parts)
                self._read_reply(res.body)
                return
            if res.status == 413 and len(parts) > 1:
                half = len(parts) // 2
                self.send(parts[:half])
                self.send(parts[half:])
                return
            if res.fatal:
                logger.warning("llmobserve: collector refused the API key (HTTP %s); events dropped", res.status)
                self.stats.dropped_send_failed += len(parts)
                return
            if not res.retry or attempt >= self.config.max_retries:
                self.stats.dropped_send_failed += len(parts)
                return
            delay = retry_delay(attempt, res.retry_after)
            attempt += 1
            self._sleep(delay)

    def _sleep(self, delay: float) -> None:
        """Sleep before a retry, but no later than the shutdown deadline."""
        remaining = self.deadline.remaining()
        if remaining is not None:
            delay = min(delay, max(0.0, remaining))
        end = time.monotonic() + delay
        while time.monotonic() < end and not self.deadline.passed():
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))

    def _read_reply(self, body: Any) -> None:
        if not isinstance(body, dict):
            return
        with capture_internal_exceptions("reply"):
            if "blocked" in body:
                self.caps.update(body.get("blocked"))
            rejected = body.get("rejected") or []
            self.stats.rejected += len(rejected) if isinstance(rejected, list) else 0
            dup = body.get("duplicates")
            self.stats.duplicates += dup if isinstance(dup, int) else 0
            if rejected:
                logger.debug("llmobserve: collector rejected %s", rejected[:5])

    def poll_caps(self) -> None:
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
