"""What every hook shares once the hub said capture is on: decide, check caps, time the call,
hand a ``Call`` to the client.

Hooks do the minimum on the host's thread (a few attribute reads and a deque append);
JSON decoding and event building happen in ``events.build_event`` on the worker thread.
"""

from __future__ import annotations

import time
import weakref
from typing import TYPE_CHECKING, Any

from . import context, hub
from ._internal import log_internal
from .providers import Target, detect
from .streaming import BodyTap, SSETap

if TYPE_CHECKING:
    from .caps import Caps
    from .config import Config
    from .extractors import Extracted


class Call:
    """One HTTP attempt to a provider, as seen by a hook."""

    __slots__ = (
        "target",
        "state",
        "started",
        "ended",
        "status",
        "error",
        "streamed",
        "incomplete",
        "body",
        "encoding",
        "req_body",
        "lines",
        "extracted",
        "__weakref__",
    )

    def __init__(self, target: Target, state: context.State, req_body: bytes | None) -> None:
        self.target = target
        self.state = state
        self.req_body = req_body
        self.started = time.time()
        self.ended = 0.0
        self.status: int | None = None
        self.error: str | None = None
        self.streamed = False
        self.incomplete = False
        self.body: bytes | None = None
        self.encoding: str | None = None
        self.lines: list[bytes] | None = None
        self.extracted: Extracted | None = None


def begin(config: Config, caps: Caps, method: str, host: str, path: str, headers: Any, req_body: Any) -> Call | None:
    """Return a Call if this request is a provider call we capture (raises BudgetExceededError)."""
    body = req_body if isinstance(req_body, bytes) else None
    target = detect(host, path, headers, config.provider_hosts, config.capture_unknown_hosts, body)
    if target is None:
        return None
    if method != "POST" and target.family != "pinecone":
        return None
    state = context.current()
    if config.enforce_caps:
        caps.check(target, state, body)  # may raise BudgetExceededError, before any I/O
    return Call(target, state, body if body is not None and len(body) <= 65536 else None)


def _trim_request(call: Call) -> None:
    """Drop the request body once the answer is in, unless we still need it: the model of a failed
    call or of a Cohere answer (which does not name it), the text of a text-to-speech call."""
    if call.req_body is None or call.status is None or call.status >= 400 or call.error is not None:
        return
    if call.target.family != "cohere" and call.target.endpoint != "audio":
        call.req_body = None


def finish(call: Call, status: int | None, body: bytes | None, error: BaseException | None = None) -> None:
    """Non-streamed attempt is over (response read, or the send raised)."""
    call.ended = time.time()
    call.status = status
    if error is not None:
        call.error = type(error).__name__
    if body and status is not None and status < 400 and body[:1] in (b"{", b"["):
        call.body = body  # JSON only: audio/image bytes carry no usage and are not kept
    _trim_request(call)
    hub.submit(call)


def failed(call: Call, error: BaseException) -> None:
    """The send raised: record the attempt (never raises; the caller re-raises the host's error)."""
    try:
        finish(call, None, None, error)
    except Exception:
        log_internal("finish")


# ---- streaming --------------------------------------------------------------------------------

_live_streams: weakref.WeakSet[StreamRecord] = weakref.WeakSet()


class StreamRecord:
    """Owns a tap and finalises its Call exactly once: exhaustion, close, error or GC."""

    __slots__ = ("call", "tap", "finished", "__weakref__")

    def __init__(self, call: Call, sse: bool, encoding: str | None, limit: int) -> None:
        call.streamed = sse
        call.encoding = encoding
        self.call = call
        self.tap: SSETap | BodyTap = SSETap(encoding) if sse else BodyTap(limit)
        self.finished = False
        _live_streams.add(self)

    def feed(self, chunk: bytes) -> None:
        try:
            self.tap.feed(chunk)
        except Exception:  # a parsing hiccup must not break the host's stream
            self.broken()

    def broken(self) -> None:
        """The tap failed: stop parsing; the call is still recorded (without usage)."""
        self.tap = BodyTap(0)
        self.tap.overflow = True

    def finalize(self, exhausted: bool, error: BaseException | None = None) -> None:
        if self.finished:
            return
        self.finished = True
        try:
            call = self.call
            call.ended = time.time()
            tap = self.tap
            if exhausted:
                tap.end()
            if isinstance(tap, SSETap):
                call.lines = tap.lines()
                call.incomplete = not (exhausted or tap.finished())
            else:
                call.body = tap.body() if exhausted else None
                call.incomplete = not exhausted
            if error is not None and not isinstance(error, GeneratorExit):
                call.error = type(error).__name__
            _trim_request(call)
            hub.submit(call)
        except Exception:
            log_internal("stream finalize")


def finalize_live_streams() -> None:
    """At shutdown: abandoned streams are recorded as incomplete with what was seen."""
    for rec in list(_live_streams):
        rec.finalize(exhausted=False)


def is_sse(content_type: str | None) -> bool:
    return bool(content_type) and "text/event-stream" in content_type  # type: ignore[operator]


def body_limit(content_type: str | None, limit: int) -> int:
    """Non-SSE streamed bodies are kept (bounded) only when they are JSON."""
    return limit if content_type and "json" in content_type else 0
