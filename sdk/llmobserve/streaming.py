"""Incremental SSE scanning: remember the few lines that carry model/usage, never the stream.

Per chunk we split on newlines and do a couple of substring checks; JSON is decoded later,
off the host's thread. Memory is bounded: one partial line (capped) plus three kept lines.
"""

from __future__ import annotations

import zlib
from typing import Any

MAX_LINE = 1024 * 1024  # a longer single SSE line is skipped, not buffered
# end-of-stream markers: short lines `data: [DONE]` (OpenAI format), `{"type":"message_stop"}`
# (Anthropic); usage-bearing lines `response.completed` (Responses API), `message-end` (Cohere)


class SSETap:
    __slots__ = ("_tail", "_skip", "first_data", "first_usage", "last_usage", "done", "chunks", "_zd", "broken")

    def __init__(self, content_encoding: str | None = None) -> None:
        self._tail = b""
        self._skip = False
        self.first_data: bytes | None = None
        self.first_usage: bytes | None = None
        self.last_usage: bytes | None = None
        self.done = False
        self.chunks = 0
        self.broken = False
        self._zd: Any = None
        enc = (content_encoding or "").strip().lower()
        if enc in ("gzip", "x-gzip"):
            self._zd = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            self._zd = zlib.decompressobj()
        elif enc not in ("", "identity"):
            self.broken = True  # br/zstd: stdlib cannot decode; the call is still recorded

    def feed(self, chunk: bytes | str) -> None:
        self.chunks += 1
        if self.broken:
            return
        if isinstance(chunk, str):
            chunk = chunk.encode()
        if self._zd is not None:
            chunk = self._zd.decompress(chunk)
        if self._tail:
            chunk = self._tail + chunk
            self._tail = b""
        if b"\n" not in chunk:
            self._keep_tail(chunk)
            return
        lines = chunk.split(b"\n")
        last = lines.pop()
        if self._skip:  # remainder of an over-long line
            self._skip = False
            lines[0] = b""
        for line in lines:
            if line[:5] == b"data:":
                self._line(line)
        if last:
            self._keep_tail(last)

    def _keep_tail(self, part: bytes) -> None:
        if self._skip:
            return
        if len(part) > MAX_LINE:
            self._tail = b""
            self._skip = True
        else:
            self._tail = part

    def _line(self, line: bytes) -> None:
        """Remember the lines usage is read from: the first data line, the first and last with usage."""
        if self.first_data is None:
            self.first_data = line
        if b'"usage' in line:
            if self.first_usage is None:
                self.first_usage = line
            self.last_usage = line
        elif not self.done and len(line) < 64 and (b"[DONE]" in line or b'"message_stop"' in line):
            self.done = True

    def end(self) -> None:
        """The byte stream is exhausted: a final line without newline still counts."""
        if self._tail and not self._skip and self._tail.startswith(b"data:"):
            self._line(self._tail.rstrip(b"\r"))
        self._tail = b""

    def finished(self) -> bool:
        """Did the provider signal the end of the stream?"""
        if self.done:
            return True
        last = self.last_usage
        return last is not None and (b'"response.completed"' in last or b'"message-end"' in last)

    def lines(self) -> list[bytes]:
        out = []
        for line in (self.first_data, self.first_usage, self.last_usage):
            if line is not None and (not out or line is not out[-1]) and line not in out:
                out.append(line)
        return out


class BodyTap:
    """Non-SSE body read in streaming mode: keep it (bounded) to parse once complete."""

    __slots__ = ("parts", "size", "limit", "overflow", "chunks")

    def __init__(self, limit: int) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.limit = limit
        self.overflow = False
        self.chunks = 0

    def feed(self, chunk: bytes | str) -> None:
        self.chunks += 1
        if self.overflow:
            return
        if isinstance(chunk, str):
            chunk = chunk.encode()
        self.size += len(chunk)
        if self.size > self.limit:
            self.overflow = True
            self.parts = []
        else:
            self.parts.append(chunk)

    def end(self) -> None:
        pass

    def body(self) -> bytes | None:
        return None if self.overflow else b"".join(self.parts)
