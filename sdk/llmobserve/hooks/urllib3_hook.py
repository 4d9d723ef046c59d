"""``urllib3``: wrap ``HTTPConnectionPool.urlopen`` (skipped under requests, which we hook)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from .. import capture
from .._internal import capture_internal_exceptions
from ..errors import BudgetExceededError
from ._guard import local


def install(module: ModuleType) -> Callable[[], None]:
    Pool = module.connectionpool.HTTPConnectionPool
    orig_urlopen = Pool.urlopen

    def _begin(pool: Any, method: str, url: str, body: Any, headers: Any) -> capture.Call | None:
        try:
            if url.startswith(("http://", "https://")):
                parts = urlsplit(url)
                host, path = parts.netloc.lower(), parts.path
            else:
                host = pool.host if pool.port in (None, 80, 443) else f"{pool.host}:{pool.port}"
                path = url.split("?", 1)[0]
            if isinstance(body, str):
                body = body.encode("utf-8", "replace")
            return capture.begin(method, host.lower(), path, headers, body)
        except BudgetExceededError:
            raise
        except Exception:  # noqa: BLE001
            return None

    def urlopen(
        self: Any, method: str, url: str, body: Any = None, headers: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        if capture._client is None or getattr(local, "busy", False):
            return orig_urlopen(self, method, url, body, headers, *args, **kwargs)
        call = _begin(self, method, url, body, headers)
        if call is None:
            return orig_urlopen(self, method, url, body, headers, *args, **kwargs)
        local.busy = True  # urlopen recurses for its own retries/redirects: one span
        try:
            response = orig_urlopen(self, method, url, body, headers, *args, **kwargs)
        except BaseException as exc:
            with capture_internal_exceptions():
                capture.finish(call, None, None, exc)
            raise
        finally:
            local.busy = False
        with capture_internal_exceptions("urllib3 response"):
            preloaded = kwargs.get("preload_content", True)
            data = response.data if preloaded else None  # not preloaded: recorded without usage
            capture.finish(call, response.status, data)
        return response

    urlopen.__wrapped__ = orig_urlopen  # type: ignore[attr-defined]
    Pool.urlopen = urlopen

    def uninstall() -> None:
        if Pool.urlopen is urlopen:
            Pool.urlopen = orig_urlopen

    return uninstall
