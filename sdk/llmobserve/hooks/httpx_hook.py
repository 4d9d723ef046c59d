"""``httpx`` and ``httpx2`` (openai, anthropic, google-genai, pinecone): wrap ``Client.send``.

``send`` is one HTTP attempt as far as the provider clients are concerned (their retry loops
call it again), so each call of it is one span. Streamed bodies are tapped by swapping
``response.stream`` for a pass-through stream that feeds our incremental parser.

Some clients (pinecone) skip ``Client.send`` and call ``client._transport.handle_request``
themselves, so ``HTTPTransport.handle_request`` is hooked too; a ContextVar set by the
``send`` hook stops the same attempt being captured twice.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Callable, Iterator
from types import ModuleType
from typing import Any

from .. import capture, hub
from .._internal import log_internal
from ._wrap import patch, undo_all

STREAM_BODY_LIMIT = 1024 * 1024
_in_send: contextvars.ContextVar[bool] = contextvars.ContextVar("llmobserve_in_httpx_send", default=False)
Wrap = Callable[[Any, capture.StreamRecord], Any]  # (inner byte stream, record) -> tapped stream


def _describe(request: Any) -> tuple[str, str, str, Any, Any]:
    url = request.url
    port = url.port
    host = url.host if port is None else f"{url.host}:{port}"
    try:
        body = request.content
    except Exception:  # streaming upload (multipart files): no body for us
        body = None
    return request.method, host.lower(), url.path, request.headers, body


def _tap_stream_type(module: ModuleType) -> Wrap:
    """A pass-through sync byte stream deriving from this module's own base class."""

    class TapStream(module.SyncByteStream):  # type: ignore[misc, name-defined]
        def __init__(self, inner: Any, rec: capture.StreamRecord) -> None:
            self._inner = inner
            self._rec = rec

        def __iter__(self) -> Iterator[bytes]:
            rec = self._rec
            try:
                for chunk in self._inner:
                    rec.feed(chunk)
                    yield chunk
            except BaseException as exc:
                rec.finalize(False, exc)
                raise
            rec.finalize(True)

        def close(self) -> None:
            try:
                self._inner.close()
            finally:
                self._rec.finalize(False)

        def __del__(self) -> None:
            self._rec.finalize(False)

    return TapStream


def _async_tap_stream_type(module: ModuleType) -> Wrap:
    """The same for async clients."""

    class AsyncTapStream(module.AsyncByteStream):  # type: ignore[misc, name-defined]
        def __init__(self, inner: Any, rec: capture.StreamRecord) -> None:
            self._inner = inner
            self._rec = rec

        async def __aiter__(self) -> AsyncIterator[bytes]:
            rec = self._rec
            try:
                async for chunk in self._inner:
                    rec.feed(chunk)
                    yield chunk
            except BaseException as exc:
                rec.finalize(False, exc)
                raise
            rec.finalize(True)

        async def aclose(self) -> None:
            try:
                await self._inner.aclose()
            finally:
                self._rec.finalize(False)

        def __del__(self) -> None:
            self._rec.finalize(False)

    return AsyncTapStream


def _after(call: capture.Call, response: Any, stream: bool, wrap: Wrap) -> None:
    """The response headers are in: finish now, or tap the body if it is still to be read."""
    try:
        status = response.status_code
        if not stream or status >= 400 or not hub.streams_enabled():
            capture.finish(call, status, response.content if not stream else None)
            return
        call.status = status
        headers = response.headers
        ctype = headers.get("content-type")
        sse = capture.is_sse(ctype)
        rec = capture.StreamRecord(
            call, sse, headers.get("content-encoding"), capture.body_limit(ctype, STREAM_BODY_LIMIT)
        )
        response.stream = wrap(response.stream, rec)
    except Exception:  # never raise into the host
        log_internal("httpx response")


def _send(orig: Callable[..., Any], wrap: Wrap) -> Callable[..., Any]:
    def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        call = hub.begin(_describe, request)
        if call is None:
            return orig(self, request, *args, **kwargs)
        token = _in_send.set(True)
        try:
            response = orig(self, request, *args, **kwargs)
        except BaseException as exc:
            capture.failed(call, exc)
            raise
        finally:
            _in_send.reset(token)
        _after(call, response, bool(kwargs.get("stream", False)), wrap)
        return response

    return send


def _async_send(orig: Callable[..., Any], wrap: Wrap) -> Callable[..., Any]:
    async def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        call = hub.begin(_describe, request)
        if call is None:
            return await orig(self, request, *args, **kwargs)
        token = _in_send.set(True)
        try:
            response = await orig(self, request, *args, **kwargs)
        except BaseException as exc:
            capture.failed(call, exc)
            raise
        finally:
            _in_send.reset(token)
        _after(call, response, bool(kwargs.get("stream", False)), wrap)
        return response

    return send


def _handle(orig: Callable[..., Any], wrap: Wrap) -> Callable[..., Any]:
    """Transport level, for clients that bypass ``send``: the body is not read yet, so tap it."""

    def handle_request(self: Any, request: Any) -> Any:
        call = None if _in_send.get() else hub.begin(_describe, request)
        if call is None:
            return orig(self, request)
        try:
            response = orig(self, request)
        except BaseException as exc:
            capture.failed(call, exc)
            raise
        _after(call, response, True, wrap)
        return response

    return handle_request


def _async_handle(orig: Callable[..., Any], wrap: Wrap) -> Callable[..., Any]:
    async def handle_async_request(self: Any, request: Any) -> Any:
        call = None if _in_send.get() else hub.begin(_describe, request)
        if call is None:
            return await orig(self, request)
        try:
            response = await orig(self, request)
        except BaseException as exc:
            capture.failed(call, exc)
            raise
        _after(call, response, True, wrap)
        return response

    return handle_async_request


def install(module: ModuleType) -> Callable[[], None]:
    tap, async_tap = _tap_stream_type(module), _async_tap_stream_type(module)
    return undo_all(
        [
            patch(module.Client, "send", _send, tap),
            patch(module.AsyncClient, "send", _async_send, async_tap),
            patch(module.HTTPTransport, "handle_request", _handle, tap),
            patch(module.AsyncHTTPTransport, "handle_async_request", _async_handle, async_tap),
        ]
    )
