"""The signed-in user, resolved on the server from the session cookie on every handler that needs it.

The session JWT is never a State var: State is pickled to disk or Redis. The cookie is HttpOnly and set by the
server (``ingest_api/browser_auth.py``); the browser sends it when it opens the websocket, and Reflex hands each
event the headers of its live connection, from which ``_session_token`` reads it (``state/pickling.py`` keeps
those headers out of the pickles).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import TypeVar
from urllib.parse import urlencode

import reflex as rx
from sqlmodel import Session

from llmobserve_app import routes
from llmobserve_app.db import session_scope
from llmobserve_app.services import accounts
from llmobserve_app.settings import get_settings

T = TypeVar("T")
SESSION_COOKIE = accounts.SESSION_COOKIE


def _with_session(work: Callable[..., T], *args: object) -> T:
    with session_scope() as session:
        return work(session, *args)


async def run_db(work: Callable[..., T], *args: object) -> T:
    """Run ``work(session, *args)`` in a worker thread and commit, so the event loop never blocks on I/O."""
    return await asyncio.to_thread(_with_session, work, *args)


@dataclass(frozen=True)
class CurrentUser:
    id: int
    email: str
    name: str
    member_since: str


def _current_user(session: Session, token: str) -> CurrentUser | None:
    user = accounts.user_for_token(session, token, secret=get_settings().jwt_secret)
    if user is None:
        return None
    return CurrentUser(user.id, user.email, user.name, user.created_at.strftime("%Y-%m-%d"))


def session_token_from_cookie_header(header: str) -> str:
    """The session cookie's value in a ``Cookie:`` header, or ""."""
    jar = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:  # one malformed cookie of another app on the host must not sign the user out
        for part in header.split(";"):
            name, _, value = part.strip().partition("=")
            if name == SESSION_COOKIE:
                return value
        return ""
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel else ""


class SessionState(rx.State):
    """Base of every page state. The session cookie is verified on every handler that needs the user."""

    user_email: str = ""
    user_name: str = ""

    def _session_token(self) -> str:
        return session_token_from_cookie_header(self.router.headers.cookie)

    def _to_login(self) -> rx.event.EventSpec:
        """Send a visitor to /login, and back to this page once signed in."""
        url = self.router.url
        here = routes.safe_next_path(url.path + (f"?{url.query}" if url.query else ""))
        return rx.redirect(f"{routes.LOGIN}?{urlencode({'next': here})}", replace=True)

    async def _require_user(self) -> CurrentUser | None:
        """The verified user, or None (and the page's public user fields cleared)."""
        token = self._session_token()
        user = await run_db(_current_user, token) if token else None
        if user is None:
            self.user_email = ""
            self.user_name = ""
            return None
        self.user_email = user.email
        self.user_name = user.name
        return user
