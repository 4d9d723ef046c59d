"""Uploads to the collector with the standard library's ``http.client`` (never hooked).

Returns a ``Result`` telling the worker what to do; never raises.
"""

from __future__ import annotations

import gzip
import http.client
import json
import random
import ssl
import time
from contextlib import suppress
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from ._internal import logger, sdk_io
from ._version import __version__

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class Result:
    __slots__ = ("ok", "retry", "retry_after", "status", "body", "server_time", "fatal")

    def __init__(self) -> None:
        self.ok = False
        self.retry = False
        self.retry_after: float | None = None
        self.status: int | None = None
        self.body: Any = None
        self.server_time: float | None = None
        self.fatal = False  # e.g. 401: retrying will not help


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def backoff(attempt: int, base: float = 0.5, cap: float = 30.0) -> float:
    """Exponential backoff with "equal jitter": between half and all of ``base * 2**attempt`` (at most
    ``cap``). Full jitter (0 to all) spread retries as well, but could spend a batch's 6 retries in under
    3 s, so a collector restart of ~10 s lost a sixth of the batches in flight; with half the delay fixed,
    6 retries wait at least 15.75 s (at most 31.5 s) before the batch is dropped."""
    delay = min(cap, base * (2**attempt))
    return random.uniform(delay / 2, delay)


def retry_delay(attempt: int, retry_after: float | None, most: float = 60.0) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): the backoff, or longer when the collector's
    ``Retry-After`` asks for it — never shorter, so a collector answering "Retry-After: 1" while it is
    down cannot make the retries run out in a few seconds."""
    return min(most, max(backoff(attempt), retry_after or 0.0))


class Transport:
    def __init__(self, collector_url: str, api_key: str, timeout: float, use_gzip: bool) -> None:
        parts = urlsplit(collector_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._gzip = use_gzip
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "User-Agent": f"llmobserve-python/{__version__}",
        }
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._https:
                self._conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=timeout, context=ssl.create_default_context()
                )
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        else:
            self._conn.timeout = timeout
            if self._conn.sock is not None:
                self._conn.sock.settimeout(timeout)
        return self._conn

    def forget_connection(self) -> None:
        """In a forked child: drop the parent's socket without closing or reusing it."""
        self._conn = None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(Exception):
                conn.close()

    def request(self, method: str, path: str, body: bytes | None = None, timeout: float | None = None) -> Result:
        """``body`` is JSON already encoded (the worker encodes events in slices, between GIL yields)."""
        res = Result()
        timeout = self._timeout if timeout is None else max(0.05, min(timeout, self._timeout))
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
            if self._gzip and len(body) > 1024:
                body = gzip.compress(body, compresslevel=1)
                headers["Content-Encoding"] = "gzip"
        try:
            with sdk_io():
                conn = self._connection(timeout)
                conn.request(method, self._prefix + path, body=body, headers=headers)
                resp = conn.getresponse()
                raw = resp.read(4 * 1024 * 1024)
                if resp.will_close or resp.length:  # unread leftovers: do not reuse
                    self.close()
        except Exception as exc:  # connection refused, timeout, reset, bad status line...
            logger.debug("llmobserve upload failed: %r", exc)
            self.close()
            res.retry = True
            return res
        res.status = resp.status
        date = resp.getheader("Date")
        if date:
            with suppress(TypeError, ValueError, IndexError, OverflowError):
                res.server_time = parsedate_to_datetime(date).timestamp()
        if 200 <= resp.status < 300:
            res.ok = True
            try:
                res.body = json.loads(raw) if raw else None
            except ValueError:
                res.body = None  # garbage reply: the events were delivered, ignore the body
        elif resp.status in RETRY_STATUSES:
            res.retry = True
            res.retry_after = parse_retry_after(resp.getheader("Retry-After"))
        elif resp.status in (401, 403):
            res.fatal = True
        return res
