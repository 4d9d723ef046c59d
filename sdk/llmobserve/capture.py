"""What every hook shares: decide, check caps, time the call, hand a ``Call`` to the worker.

Hooks do the minimum on the host's thread (a few attribute reads and a deque append);
JSON decoding and event building happen in ``build_event`` on the worker thread.
"""

from __future__ import annotations

import json
import re
import time
import weakref
import zlib
from contextlib import suppress
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import context
from ._internal import in_sdk, logger
from ._version import __version__
from .extractors import EXTRACTORS, Extracted, empty_usage
from .ids import new_id
from .providers import Target, detect
from .streaming import BodyTap, SSETap

if TYPE_CHECKING:
    from .client import Client

_client: Client | None = None  # set by observe(), cleared by shutdown()


def active() -> Client | None:
    return _client


def set_active(client: Client | None) -> None:
    global _client
    _client = client


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

    def __init__(self, target: Target, state: context._State, req_body: bytes | None) -> None:
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


def begin(method: str, host: str, path: str, headers: Any, req_body: Any) -> Call | None:
    """Return a Call if this request is a provider call we capture (raises BudgetExceededError)."""
    client = _client
    if client is None or in_sdk():
        return None
    cfg = client.config
    if host == client.collector_host:
        return None
    body = req_body if isinstance(req_body, bytes) else None
    target = detect(host, path, headers, cfg.provider_hosts, cfg.capture_unknown_hosts, body)
    if target is None:
        return None
    if method != "POST" and target.family != "pinecone":
        return None
    state = context._state.get()
    if cfg.enforce_caps:
        client.caps.check(target, state, body)  # may raise BudgetExceededError, before any I/O
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
    client = _client
    if client is not None:
        client.submit(call)


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
        except Exception:  # noqa: BLE001 - a parsing hiccup must not break the host's stream
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
            client = _client
            if client is not None:
                client.submit(call)
        except Exception:  # noqa: BLE001
            pass


def finalize_live_streams() -> None:
    """At shutdown: abandoned streams are recorded as incomplete with what was seen."""
    for rec in list(_live_streams):
        rec.finalize(exhausted=False)


def streams_enabled() -> bool:
    client = _client
    return client is not None and client.config.capture_streams


def is_sse(content_type: str | None) -> bool:
    return bool(content_type) and "text/event-stream" in content_type  # type: ignore[operator]


def body_limit(content_type: str | None, limit: int) -> int:
    """Non-SSE streamed bodies are kept (bounded) only when they are JSON."""
    return limit if content_type and "json" in content_type else 0


# ---- worker side ------------------------------------------------------------------------------

_MODEL_RE = re.compile(rb'"model"\s*:\s*"([^"\\]{1,200})"')


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()


def _decode(raw: bytes | str) -> Any:
    return json.loads(raw)


def extract(call: Call) -> Extracted:
    if call.extracted is not None:
        return call.extracted
    ext = Extracted()
    ext.model = call.target.model
    ok = call.status is not None and call.status < 400 and call.error is None
    fn = EXTRACTORS[call.target.family]
    if not ok and not (call.streamed and call.status is not None and call.status < 400):
        ext.usage = empty_usage(requests=0)  # 429/5xx/4xx and transport errors are not charged
    elif call.lines:
        for line in call.lines:
            data = line[5:].strip()
            if not data or data == b"[DONE]":
                continue
            try:
                fn(_decode(data), ext)
            except ValueError:
                continue
    elif call.body:
        body = call.body
        if call.encoding in ("gzip", "x-gzip", "deflate"):
            try:
                body = zlib.decompress(body, 16 + zlib.MAX_WBITS if call.encoding != "deflate" else zlib.MAX_WBITS)
            except zlib.error:
                body = b""
        with suppress(ValueError):
            fn(_decode(body), ext)
    if ext.model is None and call.req_body:
        m = _MODEL_RE.search(call.req_body[:8192])
        if m:
            ext.model = m.group(1).decode("utf-8", "replace")
    if ok and call.target.endpoint == "audio" and call.req_body and not ext.found:
        with suppress(ValueError):  # text-to-speech: priced per input character
            req = _decode(call.req_body)
            if isinstance(req, dict) and isinstance(req.get("input"), str):
                ext.usage["units"]["characters"] = len(req["input"])
    return ext


def build_event(call: Call, tags: dict[str, str]) -> dict[str, Any]:
    ext = extract(call)
    state = call.state
    return {
        "span_id": new_id(),
        "run_id": state.run_id,
        "parent_span_id": state.parent_span_id,
        "started_at": _iso(call.started),
        "ended_at": _iso(call.ended or call.started),
        "provider": call.target.provider,
        "model": ext.model,
        "endpoint": call.target.endpoint,
        "status_code": call.status,
        "streamed": call.streamed,
        "incomplete": call.incomplete,
        "error": call.error,
        "usage": ext.usage,
        "customer_id": state.customer_id,
        "section_path": state.section_path,
        "tags": tags,
        "batch": False,
        "service_tier": ext.service_tier,
        "provider_reported_cost": ext.reported_cost,
        "sdk_version": __version__,
    }


def held_bytes(call: Call) -> int:
    """Raw bytes a queued call keeps alive until the worker parses it."""
    n = len(call.body) if call.body else 0
    if call.lines:
        n += sum(len(line) for line in call.lines)
    if call.req_body:
        n += len(call.req_body)
    return n


def parse_inline(call: Call) -> None:
    """Over the pending-bytes budget: parse now and drop the raw bytes."""
    try:
        call.extracted = extract(call)
    except Exception:  # noqa: BLE001
        logger.debug("llmobserve inline parse failed", exc_info=True)
    call.body = None
    call.lines = None
    call.req_body = None
