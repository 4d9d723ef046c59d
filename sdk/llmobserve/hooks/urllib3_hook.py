"""``urllib3``: wrap ``HTTPConnectionPool.urlopen`` (skipped under requests, which we hook)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from .. import capture, hub
from .._internal import capture_internal_exceptions
from ._guard import local
from ._wrap import patch


def _describe(pool: Any, method: str, url: str, body: Any, headers: Any) -> tuple[str, str, str, Any, Any]:
    if url.startswith(("http://", "https://")):
        parts = urlsplit(url)
        host, path = parts.netloc, parts.path
    else:
        host = pool.host if pool.port in (None, 80, 443) else f"{pool.host}:{pool.port}"
        path = url.split("?", 1)[0]
    if isinstance(body, str):
        body = body.encode("utf-8", "replace")
    return method, host.lower(), path, headers, body


def _urlopen(orig: Callable[..., Any]) -> Callable[..., Any]:
    def urlopen(
        self: Any, method: str, url: str, body: Any = None, headers: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        call = None if getattr(local, "busy", False) else hub.begin(_describe, self, method, url, body, headers)
        if call is None:
            return orig(self, method, url, body, headers, *args, **kwargs)
        local.busy = True  # urlopen recurses for its own retries/redirects: one span
        try:
            response = orig(self, method, url, body, headers, *args, **kwargs)
        except BaseException as exc:
            capture.failed(call, exc)
            raise
        finally:
            local.busy = False
        with capture_internal_exceptions("urllib3 response"):
            preloaded = kwargs.get("preload_content", True)
            data = response.data if preloaded else None  # not preloaded: recorded without usage
            capture.finish(call, response.status, data)
        return response

    return urlopen


def install(module: ModuleType) -> Callable[[], None]:
    return patch(module.connectionpool.HTTPConnectionPool, "urlopen", _urlopen)
