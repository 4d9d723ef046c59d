"""``requests``: wrap ``Session.send``; streamed bodies are tapped through ``iter_content``."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from .. import capture, hub
from .._internal import capture_internal_exceptions
from ._guard import local
from ._wrap import patch

STREAM_BODY_LIMIT = 1024 * 1024


def _describe(request: Any) -> tuple[str, str, str, Any, Any]:
    parts = urlsplit(request.url)
    body = request.body
    if isinstance(body, str):
        body = body.encode("utf-8", "replace")
    return request.method, parts.netloc.lower(), parts.path, request.headers, body


def _tap(gen: Iterator[Any], rec: capture.StreamRecord) -> Iterator[Any]:
    feed = rec.feed
    try:
        for chunk in gen:
            feed(chunk)
            yield chunk
    except BaseException as exc:
        rec.finalize(False, exc)
        raise
    rec.finalize(True)


def _after(call: capture.Call, response: Any, stream: bool) -> None:
    with capture_internal_exceptions("requests response"):
        status = response.status_code
        if not stream or status >= 400 or not hub.streams_enabled():
            capture.finish(call, status, response.content if not stream else None)
            return
        call.status = status
        ctype = response.headers.get("content-type")
        rec = capture.StreamRecord(call, capture.is_sse(ctype), None, capture.body_limit(ctype, STREAM_BODY_LIMIT))
        orig_iter = response.iter_content

        def iter_content(*args: Any, **kwargs: Any) -> Iterator[Any]:
            return _tap(orig_iter(*args, **kwargs), rec)

        response.iter_content = iter_content
        weakref.finalize(response, rec.finalize, False)


def _send(orig: Callable[..., Any]) -> Callable[..., Any]:
    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        call = hub.begin(_describe, request)
        if call is None:
            return orig(self, request, **kwargs)
        prev = getattr(local, "busy", False)
        local.busy = True  # urllib3 underneath: already captured here
        try:
            response = orig(self, request, **kwargs)
        except BaseException as exc:
            capture.failed(call, exc)
            raise
        finally:
            local.busy = prev
        _after(call, response, bool(kwargs.get("stream", False)))
        return response

    return send


def install(module: ModuleType) -> Callable[[], None]:
    return patch(module.sessions.Session, "send", _send)
