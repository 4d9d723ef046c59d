"""Keep credentials out of Reflex's pickled State.

Reflex stores each connection's request headers on the root State twice — ``router.headers`` (a HeaderData) and
the raw dict in ``router_data`` — and the state manager pickles State to ``.states/`` or Redis. Those headers
hold the browser's ``Cookie``: our HttpOnly session JWT. Every event is handed the headers of its live
connection again (and ``router.headers`` is rebuilt from them whenever they differ from the stored dict), so
the stored copies need no credentials: HeaderData is pickled without them, and a middleware drops them from
``router_data`` before any handler runs.
"""

from __future__ import annotations

import copyreg
import dataclasses
from typing import Any

import reflex as rx
from reflex.istate.data import HeaderData
from reflex.middleware import Middleware
from reflex.utils.prerequisites import get_states_dir

CREDENTIAL_HEADERS = frozenset({
    "cookie", "authorization", "proxy-authorization", "x-forwarded-access-token", "cf-access-jwt-assertion",
    "x-auth-request-access-token", "x-amzn-oidc-accesstoken", "x-amzn-oidc-data", "x-goog-iap-jwt-assertion",
})


def without_credentials(headers: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in headers.items() if name.lower() not in CREDENTIAL_HEADERS}


def _rebuild_header_data(fields: dict[str, Any], raw_headers: dict[str, str]) -> HeaderData:
    return HeaderData(**fields, raw_headers=type(HeaderData().raw_headers)(**raw_headers))


def _reduce_header_data(headers: HeaderData) -> tuple[Any, tuple[Any, ...]]:
    fields = {field.name: getattr(headers, field.name) for field in dataclasses.fields(headers)
              if field.name not in ("cookie", "raw_headers")}
    return _rebuild_header_data, (fields, without_credentials(dict(headers.raw_headers)))


class ScrubStoredHeaders(Middleware):
    """Drops credential headers from the root State's stored ``router_data`` (the live ones stay available to
    handlers through ``router.headers``, which Reflex filled from this event's connection just before)."""

    async def preprocess(self, app: rx.App, state: rx.State, event: object) -> None:
        headers = state.router_data.get("headers")
        if isinstance(headers, dict) and any(name.lower() in CREDENTIAL_HEADERS for name in headers):
            state.router_data = {**state.router_data, "headers": without_credentials(headers)}
        return None


def install_reduction() -> None:
    copyreg.pickle(HeaderData, _reduce_header_data)


def install(app: rx.App) -> None:
    """Keep credentials out of every pickled State of ``app``, and the disk state folder private to its owner
    (the pickles still hold users' emails and page data)."""
    install_reduction()
    app.add_middleware(ScrubStoredHeaders())
    states_dir = get_states_dir()
    states_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    states_dir.chmod(0o700)
