"""Login and sign-up forms."""

from __future__ import annotations

import reflex as rx
from sqlmodel import Session

from llmobserve_app import routes
from llmobserve_app.services import accounts, api_keys
from llmobserve_app.services.errors import UserFacingError
from llmobserve_app.state.session import SessionState, run_db


def _signup(session: Session, email: str, password: str, name: str) -> tuple[str, str]:
    user = accounts.signup(session, email, password, name)
    _, plaintext = api_keys.create_api_key(session, user.id, "Default key")
    return accounts.start_session(session, user), plaintext


def _login(session: Session, email: str, password: str, address: str) -> str:
    user = accounts.authenticate(session, email, password, address)
    return accounts.start_session(session, user)


class OnboardingState(SessionState):
    """Holds a new account's first API key until the user leaves the onboarding page: shown once."""

    api_key_once: str = ""
    _key_displayed: bool = False

    @rx.event
    async def load(self):  # noqa: ANN201
        if await self._require_user() is None:
            self.api_key_once = ""
            return rx.redirect(routes.LOGIN, replace=True)
        if self._key_displayed:  # a reload or a second visit: the key is gone for good
            self.api_key_once = ""
        self._key_displayed = True
        return None

    @rx.event
    def finish(self):  # noqa: ANN201
        self.api_key_once = ""
        return rx.redirect(routes.DASHBOARD)


class AuthFormState(SessionState):
    error: str = ""
    busy: bool = False

    @rx.event
    async def login(self, form: dict[str, str]):  # noqa: ANN201
        self.error, self.busy = "", True
        yield
        try:
            token = await run_db(_login, form.get("email", ""), form.get("password", ""),
                                 self.router.session.client_ip)
        except UserFacingError as error:
            self.error, self.busy = error.message, False
            return
        self.busy = False
        self.session_token = token
        yield rx.redirect(routes.DASHBOARD, replace=True)

    @rx.event
    async def signup(self, form: dict[str, str]):  # noqa: ANN201
        self.error, self.busy = "", True
        yield
        try:
            token, plaintext = await run_db(_signup, form.get("email", ""), form.get("password", ""),
                                            form.get("name", ""))
        except UserFacingError as error:
            self.error, self.busy = error.message, False
            return
        self.busy = False
        self.session_token = token
        onboarding = await self.get_state(OnboardingState)
        onboarding.api_key_once = plaintext
        onboarding._key_displayed = False
        yield rx.redirect(routes.ONBOARDING, replace=True)

    @rx.event
    async def redirect_if_signed_in(self):  # noqa: ANN201
        self.error = ""
        if self.session_token and await self._require_user() is not None:
            return rx.redirect(routes.DASHBOARD, replace=True)
        return None
