"""``requests``: wrap ``Session.send``; streamed bodies are tapped through ``iter_content``."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from .. import capture
from .._internal import capture_internal_exceptions
from ..errors import BudgetExceededError
from ._guard import local

STREAM_BODY_LIMIT = 1024 * 1024


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


def install(module: ModuleType) -> Callable[[], None]:
    Session = module.sessions.Session
    orig_send = Session.send

    def _begin(request: Any) -> capture.Call | None:
        try:
            parts = urlsplit(request.url)
            body = request.body
            if isinstance(body, str):
                body = body.encode("utf-8", "replace")
            return capture.begin(request.method, parts.netloc.lower(), parts.path, request.headers, body)
        except BudgetExceededError:
            raise
        except Exception:  # noqa: BLE001
            return None

    def _after(call: capture.Call, response: Any, stream: bool) -> None:
        with capture_internal_exceptions("requests response"):
            status = response.status_code
            if not stream or status >= 400 or not capture.streams_enabled():
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

    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        call = _begin(request) if capture._client is not None else None
        if call is None:
            return orig_send(self, request, **kwargs)
        prev = getattr(local, "busy", False)
        local.busy = True
        try:
            response = orig_send(self, request, **kwargs)
        except BaseException as exc:
            with capture_internal_exceptions():
                capture.finish(call, None, None, exc)
            raise
        finally:
            local.busy = prev
        _after(call, response, bool(kwargs.get("stream", False)))
        return response

    send.__wrapped__ = orig_send  # type: ignore[attr-defined]
    Session.send = send

    def uninstall() -> None:
        if Session.send is send:
            Session.send = orig_send

    return uninstall
