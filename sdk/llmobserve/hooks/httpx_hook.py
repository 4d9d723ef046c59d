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

from .. import capture
from .._internal import capture_internal_exceptions, log_internal
from ..errors import BudgetExceededError

STREAM_BODY_LIMIT = 1024 * 1024
_in_send: contextvars.ContextVar[bool] = contextvars.ContextVar("llmobserve_in_httpx_send", default=False)


def _describe(request: Any) -> tuple[str, str, str, Any, Any]:
    url = request.url
    port = url.port
    host = url.host if port is None else f"{url.host}:{port}"
    try:
        body = request.content
    except Exception:  # noqa: BLE001 - streaming upload (multipart files): no body for us
        body = None
    return request.method, host.lower(), url.path, request.headers, body


def install(module: ModuleType) -> Callable[[], None]:
    Client = module.Client
    AsyncClient = module.AsyncClient
    orig_send = Client.send
    orig_async_send = AsyncClient.send
    Transport = module.HTTPTransport
    AsyncTransport = module.AsyncHTTPTransport
    orig_handle = Transport.handle_request
    orig_async_handle = AsyncTransport.handle_async_request

    class TapStream(module.SyncByteStream):  # type: ignore[misc, name-defined]
        def __init__(self, inner: Any, rec: capture.StreamRecord) -> None:
            self._inner = inner
            self._rec = rec

        def __iter__(self) -> Iterator[bytes]:
            rec = self._rec
            feed = rec.tap.feed
            try:
                for chunk in self._inner:
                    if feed is not None:
                        try:
                            feed(chunk)
                        except Exception:  # noqa: BLE001 - never break the host's stream
                            feed = None
                            rec.broken()
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

    class AsyncTapStream(module.AsyncByteStream):  # type: ignore[misc, name-defined]
        def __init__(self, inner: Any, rec: capture.StreamRecord) -> None:
            self._inner = inner
            self._rec = rec

        async def __aiter__(self) -> AsyncIterator[bytes]:
            rec = self._rec
            feed = rec.tap.feed
            try:
                async for chunk in self._inner:
                    if feed is not None:
                        try:
                            feed(chunk)
                        except Exception:  # noqa: BLE001
                            feed = None
                            rec.broken()
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

    def _begin(request: Any) -> capture.Call | None:
        try:
            return capture.begin(*_describe(request))
        except BudgetExceededError:
            raise
        except Exception:  # noqa: BLE001
            return None

    def _after(call: capture.Call, response: Any, stream: bool, is_async: bool) -> None:
        try:
            status = response.status_code
            if not stream or status >= 400 or not capture.streams_enabled():
                capture.finish(call, status, response.content if not stream else None)
                return
            call.status = status
            headers = response.headers
            ctype = headers.get("content-type")
            rec = capture.StreamRecord(
                call,
                capture.is_sse(ctype),
                headers.get("content-encoding"),
                capture.body_limit(ctype, STREAM_BODY_LIMIT),
            )
            response.stream = (AsyncTapStream if is_async else TapStream)(response.stream, rec)
        except Exception:  # noqa: BLE001 - never raise into the host
            log_internal("httpx response")

    def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        call = _begin(request) if capture._client is not None else None
        if call is None:
            return orig_send(self, request, *args, **kwargs)
        token = _in_send.set(True)
        try:
            response = orig_send(self, request, *args, **kwargs)
        except BaseException as exc:
            with capture_internal_exceptions():
                capture.finish(call, None, None, exc)
            raise
        finally:
            _in_send.reset(token)
        _after(call, response, bool(kwargs.get("stream", False)), False)
        return response

    async def async_send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        call = _begin(request) if capture._client is not None else None
        if call is None:
            return await orig_async_send(self, request, *args, **kwargs)
        token = _in_send.set(True)
        try:
            response = await orig_async_send(self, request, *args, **kwargs)
        except BaseException as exc:
            with capture_internal_exceptions():
                capture.finish(call, None, None, exc)
            raise
        finally:
            _in_send.reset(token)
        _after(call, response, bool(kwargs.get("stream", False)), True)
        return response

    def handle_request(self: Any, request: Any) -> Any:
        call = _begin(request) if capture._client is not None and not _in_send.get() else None
        if call is None:
            return orig_handle(self, request)
        try:
            response = orig_handle(self, request)
        except BaseException as exc:
            with capture_internal_exceptions():
                capture.finish(call, None, None, exc)
            raise
        _after(call, response, True, False)  # body not read yet at this level: tap it
        return response

    async def handle_async_request(self: Any, request: Any) -> Any:
        call = _begin(request) if capture._client is not None and not _in_send.get() else None
        if call is None:
            return await orig_async_handle(self, request)
        try:
            response = await orig_async_handle(self, request)
        except BaseException as exc:
            with capture_internal_exceptions():
                capture.finish(call, None, None, exc)
            raise
        _after(call, response, True, True)
        return response

    send.__wrapped__ = orig_send  # type: ignore[attr-defined]
    async_send.__wrapped__ = orig_async_send  # type: ignore[attr-defined]
    Client.send = send
    AsyncClient.send = async_send
    Transport.handle_request = handle_request
    AsyncTransport.handle_async_request = handle_async_request

    def uninstall() -> None:
        if Client.send is send:
            Client.send = orig_send
        if AsyncClient.send is async_send:
            AsyncClient.send = orig_async_send
        if Transport.handle_request is handle_request:
            Transport.handle_request = orig_handle
        if AsyncTransport.handle_async_request is handle_async_request:
            AsyncTransport.handle_async_request = orig_async_handle

    return uninstall
