"""Reading a size-limited, optionally gzip-encoded JSON body without trusting Content-Length."""

from __future__ import annotations

import json
import zlib
from typing import Any

from starlette.requests import Request


class BodyError(Exception):
    def __init__(self, status_code: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.code = code
        self.detail = detail


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw (gunzipped) body; BodyError(413) past ``max_bytes`` before or after gunzip, 415/422 for a bad
    Content-Encoding or gzip stream."""
    too_large = BodyError(413, "body_too_large", f"request body is larger than {max_bytes} bytes")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    raw = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding == "gzip":
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = decompressor.decompress(raw, max_bytes + 1)
        except zlib.error as error:
            raise BodyError(422, "invalid_gzip", f"Content-Encoding is gzip but the body is not: {error}") from None
        if len(raw) > max_bytes or decompressor.unconsumed_tail:
            raise too_large
    elif encoding not in ("identity", ""):
        raise BodyError(415, "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported (use gzip)")
    return raw


def parse_json(raw: bytes) -> Any:
    """The decoded JSON document; BodyError(422) if malformed or nested too deeply to decode."""
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BodyError(422, "invalid_json", f"body is not valid JSON: {error}") from None
    except RecursionError:  # e.g. 1,000 nested arrays: no event is nested more than a few levels
        raise BodyError(422, "json_too_deep", "body: JSON is nested too deeply to decode") from None

