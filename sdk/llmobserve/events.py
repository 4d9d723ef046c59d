"""Worker side: a finished ``Call`` -> the event dict the collector takes, and batches -> JSON bytes.

Cost per event matters (it runs on a thread that shares the host's GIL), so a response body is not
decoded whole when the provider's format allows: ``_skeleton`` decodes only the top-level usage
object and the few small fields the extractor reads, and falls back to a full decode whenever it
cannot be sure it would see exactly what the full decode sees.
"""

from __future__ import annotations

import json
import re
import time
import zlib
from contextlib import suppress
from typing import Any

from ._internal import logger
from ._version import __version__
from .capture import Call
from .extractors import EXTRACTORS, Extracted, empty_usage
from .ids import new_id

_MODEL_RE = re.compile(rb'"model"\s*:\s*"([^"\\]{1,200})"')
_DECODER = json.JSONDecoder()
# below this a full decode is cheaper than finding and checking each member (chat replies are ~0.5-2 KB;
# embeddings ~40 KB per vector: there the partial decode is ~6x cheaper, bench/bench_sdk.py)
SKELETON_MIN_BYTES = 2048
_WS = " \t\n\r"

# family -> (usage key, other top-level keys its extractor reads, one or two texts meaning "decode it all")
_SKELETONS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    # "output" is read only for web_search_call items; "type" only for Responses API stream events;
    # "duration"/"text" only when there is no usage object
    "openai": ("usage", ("model", "service_tier"), ('"web_search_call"', '"response.')),
    "anthropic": ("usage", ("model",), ('"message_start"', '"message_delta"')),
    # "candidates" is read only for groundingMetadata
    "google": ("usageMetadata", ("modelVersion",), ('"groundingMetadata"',)),
}


class _Unsure(Exception):
    """The partial decode cannot vouch for its answer: decode the whole body."""


def _skip_ws(s: str, i: int) -> int:
    while s[i] in _WS:
        i += 1
    return i


def _key(s: str, key: str) -> tuple[int, int] | None:
    """(position of the key, start of its value) of the one member named ``key``; None if absent."""
    needle = f'"{key}"'
    pos = s.find(needle)
    if pos < 0:
        return None
    if s.find(needle, pos + 1) >= 0 or s[pos - 1] not in "{," + _WS:
        raise _Unsure  # several (which one is top-level?), or not where a key can start
    i = _skip_ws(s, pos + len(needle))
    if s[i] != ":":
        return None  # the one occurrence is a string value, not a key
    return pos, _skip_ws(s, i + 1)


def _is_top_level(s: str, start: int, end: int) -> bool:
    """Is the member spanning ``s[start:end]`` one of the outermost object's? Decodes the shorter side:
    the text before it closed with ``"":0}``, or ``{`` and the text after it; either parses whole
    only when the member is at the top level."""
    if start <= len(s) - end:
        doc = s[:start] + '"":0}'
    else:
        rest = s[_skip_ws(s, end) :]
        if rest[:1] == ",":
            rest = rest[1:]
        elif rest[:1] != "}":
            return False
        doc = "{" + rest
    try:
        _, stop = _DECODER.raw_decode(doc)
    except ValueError:
        return False
    return not doc[stop:].strip()


def _member(s: str, key: str) -> Any:
    """The value of top-level member ``key`` of the JSON object text ``s`` (None when absent)."""
    found = _key(s, key)
    if found is None:
        return None
    value, end = _DECODER.raw_decode(s, found[1])
    if not _is_top_level(s, found[0], end):
        raise _Unsure
    return value


def _skeleton(body: bytes, family: str) -> dict[str, Any] | None:
    """The top-level members the family's extractor reads, or None when only a full decode will do.

    Each is found by its key (which must occur once), decoded alone, and checked to sit at the top
    level by decoding the shorter side around it. Only for bodies of ``SKELETON_MIN_BYTES`` or more.
    """
    spec = _SKELETONS.get(family)
    if spec is None or len(body) < SKELETON_MIN_BYTES or body[:1] != b"{":
        return None
    usage_key, keys, poison = spec
    try:
        s = body.decode("utf-8", "surrogatepass")
        if poison[0] in s or poison[-1] in s or not s.rstrip().endswith("}"):
            return None
        usage = _member(s, usage_key)
        if not isinstance(usage, dict):
            return None  # no usage object: the extractor may read other fields
        out = {key: _member(s, key) for key in keys}
    except (_Unsure, ValueError, IndexError):
        return None
    out[usage_key] = usage
    return out


def _decode_body(call: Call) -> Any:
    body = call.body or b""
    if call.encoding in ("gzip", "x-gzip", "deflate"):
        try:
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS if call.encoding != "deflate" else zlib.MAX_WBITS)
        except zlib.error:
            return None
    skeleton = _skeleton(body, call.target.family)
    if skeleton is not None:
        return skeleton
    try:
        return json.loads(body)
    except ValueError:
        return None


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
                fn(json.loads(data), ext)
            except ValueError:
                continue
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
    except Exception:
        logger.debug("llmobserve inline parse failed", exc_info=True)
    call.body = None
    call.lines = None
    call.req_body = None


_encoder = json.JSONEncoder(separators=(",", ":"), default=str)
# the C encoder called directly skips building one per call (json.dumps does); None on some Pythons
_c_encode = (
    json.encoder.c_make_encoder(None, str, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True)
    if json.encoder.c_make_encoder is not None
    else None
)


def encode_each(built: list[dict[str, Any]]) -> list[str]:
    """Each event as JSON text (kept apart so that a 413 reply can split the batch anywhere)."""
    if _c_encode is None:
        return [_encoder.encode(event) for event in built]
    return ["".join(_c_encode(event, 0)) for event in built]
