"""The signed-in user, resolved on the server from the session cookie on every handler that needs it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import reflex as rx
from sqlmodel import Session

from llmobserve_app import routes
from llmobserve_app.db import session_scope
from llmobserve_app.services import accounts

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
    subscription_tier: str
    member_since: str


def _current_user(session: Session, token: str) -> CurrentUser | None:
    user = accounts.user_for_token(session, token)
    if user is None:
        return None
    return CurrentUser(user.id, user.email, user.name, user.subscription_tier, user.created_at.strftime("%Y-%m-%d"))


class SessionState(rx.State):
    """Base of every page state. ``session_token`` is the browser's cookie: verified, never trusted."""

    session_token: str = rx.Cookie("", name=SESSION_COOKIE, path="/", max_age=7 * 24 * 3600, same_site="strict")
    user_email: str = ""
    user_name: str = ""

    async def _require_user(self) -> CurrentUser | None:
        """The verified user, or None (and the page's public user fields cleared)."""
        user = await run_db(_current_user, self.session_token) if self.session_token else None
        if user is None:
            self.user_email = ""
            self.user_name = ""
            return None
        self.user_email = user.email
        self.user_name = user.name
        return user

    @rx.event
    async def logout(self):  # noqa: ANN201
        token = self.session_token
        if token:
            await run_db(accounts.end_session, token)
        self.reset()
        return [rx.remove_cookie(SESSION_COOKIE, {"path": "/"}), rx.redirect(routes.LOGIN, replace=True)]
