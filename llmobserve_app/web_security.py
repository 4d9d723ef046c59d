"""Browser-facing protections wrapped around the whole ASGI app: security headers on every HTTP response
(pages, static frontend files, API) and no CORS credentials on the API-key routes.

Reflex's own CORS middlewares (configured in rxconfig.py from ``settings.cors_origins``) decide which origins
may read responses; this layer sits outside them, so it also sees the preflight answers they produce.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llmobserve_app import routes
from llmobserve_app.settings import origin_of

HSTS = "max-age=31536000"
API_KEY_PREFIX = "/v1/"
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)

# FastAPI's Swagger page loads its bundle from a CDN and starts it with an inline script: it alone gets these.
DOCS_CSP = ("default-src 'self'; script-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; "
            "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def inline_script_hashes(static_dir: Path | None) -> list[str]:
    """CSP sources for every inline ``<script>`` of the built pages (React Router's hydration data, the theme
    and scroll-restoration snippets). The build is static, so hashing it once allows exactly these scripts and
    no injected one, where 'unsafe-inline' would allow any."""
    if static_dir is None or not static_dir.is_dir():
        return []
    hashes = set()
    for page in static_dir.rglob("*.html"):
        for body in _INLINE_SCRIPT.findall(page.read_bytes()):
            if body.strip():
                hashes.add(base64.b64encode(hashlib.sha256(body).digest()).decode())
    return [f"'sha256-{digest}'" for digest in sorted(hashes)]


def websocket_origin(origin: str) -> str:
    """``ws://`` for an ``http://`` origin, ``wss://`` for ``https://``."""
    return re.sub(r"^http", "ws", origin, count=1)


def content_security_policy(api_origin: str, script_hashes: Iterable[str] = (), form_targets: Iterable[str] = ()
                            ) -> str:
    """The pages' policy. Styles need 'unsafe-inline': Emotion (Reflex's styling) and Plotly insert <style>
    elements and style attributes at run time. The event websocket goes to API_URL, which may differ from the
    page's origin when the pages are served elsewhere. ``form_targets``: origins a form post may be redirected
    to (hosted mode: Stripe Checkout and the customer portal; browsers apply form-action to redirects too)."""
    connect = " ".join(dict.fromkeys(["'self'", api_origin, websocket_origin(api_origin)]))
    scripts = " ".join(["'self'", *script_hashes])
    forms = " ".join(dict.fromkeys(["'self'", *form_targets]))
    return (f"default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data: blob:; font-src 'self' data:; connect-src {connect}; "
            f"object-src 'none'; base-uri 'self'; form-action {forms}; frame-ancestors 'none'")


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response and strips CORS credentials from /v1/* (API-key
    routes: a browser must never send cookies there cross-origin). Pure ASGI, so streamed exports stay
    streamed and websockets pass untouched."""

    def __init__(self, app: ASGIApp, *, api_url: str, static_dir: Path | None = None,
                 trusted_proxies: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network] = (),
                 form_targets: Iterable[str] = ()) -> None:
        self.app = app
        self.form_targets = tuple(form_targets)
        self.api_origin = origin_of(api_url)
        self.always_https = self.api_origin.startswith("https://")
        self.static_dir = static_dir
        self.trusted_proxies = tuple(trusted_proxies)

    @cached_property
    def page_csp(self) -> str:
        """Built on first use: in production the frontend is built before the first request."""
        return content_security_policy(self.api_origin, inline_script_hashes(self.static_dir), self.form_targets)

    def _is_https(self, scope: Scope) -> bool:
        if self.always_https or scope.get("scheme") == "https":
            return True
        client = scope.get("client")
        if not client or not self.trusted_proxies:
            return False
        try:
            address = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        if not any(address in network for network in self.trusted_proxies):
            return False
        forwarded = Headers(scope=scope).get("x-forwarded-proto", "")
        return forwarded.split(",")[0].strip().lower() == "https"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        csp = DOCS_CSP if path == routes.API_DOCS else self.page_csp
        https = self._is_https(scope)
        api_key_route = path.startswith(API_KEY_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-security-policy", csp)
                headers.setdefault("x-frame-options", "DENY")
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("referrer-policy", "same-origin")
                headers.setdefault("cross-origin-opener-policy", "same-origin")
                if https:
                    headers.setdefault("strict-transport-security", HSTS)
                if api_key_route and "access-control-allow-credentials" in headers:
                    del headers["access-control-allow-credentials"]
            await send(message)

        await self.app(scope, receive, send_with_headers)
