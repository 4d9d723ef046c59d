"""A bounded deque drained in batches into a callback, on one daemon thread.

Knows nothing of what the items are (cf. OpenTelemetry's BatchSpanProcessor, sentry's BackgroundWorker):
- ``put`` never blocks and never takes a lock that a GC finaliser could re-enter
  (deque.append is atomic; waking the thread is a non-blocking ``Lock.release``);
- when the deque holds ``queue_size`` items ``put`` refuses (the caller counts the drop);
- ``handle(batch)`` runs at ``batch_size`` items or every ``flush_interval`` seconds, and ``tick()``
  every ``tick_interval`` seconds;
- ``shutdown`` is bounded by a ``Deadline`` the callback can read to cut its own retries short;
- after ``os.fork()`` the owner calls ``reset_after_fork`` in the child: empty, with its own thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from typing import Generic, TypeVar

from ._internal import logger

T = TypeVar("T")


class Deadline:
    """Set when shutdown starts: the time after which the worker and its callback give up."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at: float | None = None

    def remaining(self) -> float | None:
        return None if self.at is None else self.at - time.monotonic()

    def passed(self) -> bool:
        return self.at is not None and time.monotonic() >= self.at


class Worker(Generic[T]):
    def __init__(
        self,
        handle: Callable[[list[T]], None],
        *,
        batch_size: int,
        flush_interval: float,
        queue_size: int,
        deadline: Deadline,
        tick: Callable[[], None] | None = None,
        tick_interval: float = float("inf"),
    ) -> None:
        self._handle = handle
        self._tick = tick
        self._tick_interval = tick_interval if tick is not None else float("inf")
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.queue_size = queue_size
        self.deadline = deadline
        self.errors = 0  # exceptions that escaped the callbacks
        self._reset()

    def _reset(self) -> None:
        self._dq: deque[T] = deque()
        self._wake = threading.Lock()
        self._wake.acquire()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._flush_asked = 0
        self._inflight = 0
        self._next_tick = time.monotonic() if self._tick_interval != float("inf") else float("inf")

    def __len__(self) -> int:
        return len(self._dq)

    @property
    def stopping(self) -> bool:
        return self._stopping

    # ---- caller side --------------------------------------------------------------------------

    def full(self) -> bool:
        return len(self._dq) >= self.queue_size or self._stopping and self._thread is None

    def put(self, item: T) -> bool:
        """Queue ``item``; False (dropped) when full or stopped."""
        if self.full():
            return False
        self._dq.append(item)
        if self._thread is None:
            self.start()
        if len(self._dq) >= self.batch_size:
            self._poke()
        return True

    def _poke(self) -> None:
        with suppress(RuntimeError):  # already awake
            self._wake.release()

    def start(self) -> None:
        if self._thread is not None or self._stopping:
            return
        t = threading.Thread(target=self._run, name="llmobserve-worker", daemon=True)
        self._thread = t
        t.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def flush(self, timeout: float) -> bool:
        """Wait (bounded) until everything put so far is handled."""
        deadline = time.monotonic() + timeout
        if not self.alive():
            return not self._dq
        while time.monotonic() < deadline:
            if not self._dq and self._inflight == 0:
                return True
            self._flush_asked += 1
            self._poke()
            time.sleep(0.005)
        return not self._dq and self._inflight == 0

    def shutdown(self, timeout: float) -> bool:
        """Flush, then stop; returns within ``timeout`` seconds. True if the thread has ended."""
        self.deadline.at = time.monotonic() + timeout
        self.flush(max(0.0, timeout - 0.02))
        self._stopping = True
        self._poke()
        t = self._thread
        if t is not None and t.is_alive() and t is not threading.current_thread():
            t.join(max(0.0, self.deadline.at - time.monotonic()))
        return t is None or not t.is_alive()

    def reset_after_fork(self) -> None:
        """In a forked child: the parent still owns (and will handle) what was queued before fork."""
        self.deadline.at = None
        self._reset()

    # ---- worker thread ------------------------------------------------------------------------

    def _due(self, next_flush: float) -> bool:
        return (
            time.monotonic() >= next_flush
            or len(self._dq) >= self.batch_size
            or bool(self._flush_asked)
            or self._stopping
        )

    def _run(self) -> None:
        next_flush = time.monotonic() + self.flush_interval
        while True:
            try:
                if self._tick is not None and time.monotonic() >= self._next_tick and not self._stopping:
                    self._next_tick = time.monotonic() + self._tick_interval
                    self._tick()
                wait = max(0.0, min(next_flush, self._next_tick) - time.monotonic())
                if self._dq and (len(self._dq) >= self.batch_size or self._flush_asked or self._stopping):
                    wait = 0.0
                if wait:
                    self._wake.acquire(timeout=wait)
                if self._due(next_flush):
                    self._flush_asked = 0
                    self._drain(len(self._dq))
                    next_flush = time.monotonic() + self.flush_interval
                if self._stopping:
                    return
            except Exception:  # keep the worker alive whatever happens
                self.errors += 1
                logger.debug("llmobserve worker error", exc_info=True)
                time.sleep(0.1)

    def _drain(self, n: int) -> None:
        """Handle the ``n`` items queued when the flush fell due; what arrives meanwhile waits for the
        next one (else each flush ends with tiny batches), unless a flush or shutdown asks for all."""
        while self._dq and (n > 0 or self._flush_asked or self._stopping):
            n -= self._handle_one_batch()
            if self._stopping and self.deadline.passed():
                break

    def _handle_one_batch(self) -> int:
        self._inflight += 1
        try:
            dq = self._dq
            batch = [dq.popleft() for _ in range(min(len(dq), self.batch_size))]
            if batch:
                self._handle(batch)
            return len(batch)
        finally:
            self._inflight -= 1
