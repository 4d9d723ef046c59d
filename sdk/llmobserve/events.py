"""Worker side: a finished ``Call`` -> the event dict the collector takes, and events -> JSON bytes.

Cost per event matters (it runs on a thread that shares the host's GIL): replies are decoded by
``decode.decode_reply`` (only the members the extractor reads), span ids are made a slice at a time,
and events are encoded by msgspec.
"""

from __future__ import annotations

import json
import re
import time
import zlib
from contextlib import suppress
from typing import Any

import msgspec

from ._internal import logger
from ._version import __version__
from .capture import Call
from .decode import decode_reply
from .extractors import EXTRACTORS, Extracted, empty_usage

_MODEL_RE = re.compile(rb'"model"\s*:\s*"([^"\\]{1,200})"')


def _decode_body(call: Call) -> Any:
    body = call.body or b""
    if call.encoding in ("gzip", "x-gzip", "deflate"):
        try:
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS if call.encoding != "deflate" else zlib.MAX_WBITS)
        except zlib.error:
            return None
    return decode_reply(body, call.target.family)


def extract(call: Call) -> Extracted:
    if call.extracted is not None:
        return call.extracted
    ext = Extracted()
    ext.model = call.target.model
    ok = call.status is not None and call.status < 400 and call.error is None
    family = call.target.family
    fn = EXTRACTORS[family]
    if not ok and not (call.streamed and call.status is not None and call.status < 400):
        ext.usage = empty_usage(requests=0)  # 429/5xx/4xx and transport errors are not charged
    elif call.lines:
        for line in call.lines:
            data = line[5:].strip()
            if data and data != b"[DONE]":
                fn(decode_reply(data, family), ext)  # None (not JSON) is skipped by every extractor
    elif call.body:
        obj = _decode_body(call)
        if obj is not None:
            fn(obj, ext)
    if ext.model is None and call.req_body:
        m = _MODEL_RE.search(call.req_body[:8192])
        if m:
            ext.model = m.group(1).decode("utf-8", "replace")
    if ok and call.target.endpoint == "audio" and call.req_body and not ext.found:
        with suppress(ValueError):  # text-to-speech: priced per input character
            req = json.loads(call.req_body)
            if isinstance(req, dict) and isinstance(req.get("input"), str):
                ext.usage["units"]["characters"] = len(req["input"])
    return ext


_second: tuple[int, str] = (-1, "")  # the last whole second formatted, swapped in one assignment


def _iso(ts: float) -> str:
    """``datetime.fromtimestamp(ts, timezone.utc).isoformat()``, at a fraction of its cost."""
    global _second
    sec = int(ts)
    micro = round((ts - sec) * 1e6)  # half-even, as datetime rounds
    if micro >= 1_000_000:
        sec, micro = sec + 1, micro - 1_000_000
    cached = _second
    if cached[0] != sec:
        cached = _second = (sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)))
    return f"{cached[1]}.{micro:06d}+00:00" if micro else f"{cached[1]}+00:00"


def build_event(call: Call, tags: dict[str, str], span_id: str) -> dict[str, Any]:
    """``span_id``: from ``ids.new_ids``, made for a slice of events at once."""
    ext = extract(call)
    state = call.state
    return {
        "span_id": span_id,
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
    except Exception:
        logger.debug("llmobserve inline parse failed", exc_info=True)
    call.body = None
    call.lines = None
    call.req_body = None


# default=str as json.dumps had it: a tag value of another type is sent as its str()
_encoder = msgspec.json.Encoder(enc_hook=str)


def encode_each(built: list[dict[str, Any]]) -> list[bytes]:
    """Each event as JSON (kept apart so that a 413 reply can split the batch anywhere)."""
    encode = _encoder.encode
    return [encode(event) for event in built]
