"""Login and sign-up pages (their forms post to ``ingest_api/browser_auth.py``) and onboarding's first API key."""

from __future__ import annotations

import reflex as rx

from llmobserve_app import routes
from llmobserve_app.services import accounts, api_keys
from llmobserve_app.settings import get_settings
from llmobserve_app.state.session import SessionState, run_db

ONBOARDING_KEY_ID = "new-api-key"  # the read-only input the first key is written into, never a State var


class OnboardingState(SessionState):
    """Shows a new account's first API key once: created on the first visit, written into the page, not kept.

    The plaintext goes to the browser in the one reply that shows it (``rx.set_value`` on an input), so it is
    never part of the pickled State; a reload finds the account already has a key and says so.
    """

    key_shown: bool = False
    checked: bool = False  # whether load has looked: until then neither "here is your key" nor "shown already"

    @rx.event
    async def load(self):
        user = await self._require_user()
        if user is None:
            self.key_shown = False
            yield self._to_login()
            return
        plaintext = await run_db(api_keys.create_first_key, user.id)
        self.key_shown, self.checked = plaintext is not None, True
        if plaintext is not None:
            yield  # render the key panel, then fill its input
            yield rx.set_value(ONBOARDING_KEY_ID, plaintext)

    @rx.event
    def finish(self):
        """To the dashboard; in hosted mode by way of the prompt to subscribe (which can be skipped)."""
        self.key_shown = False
        return rx.redirect(routes.SUBSCRIBE if get_settings().hosted else routes.DASHBOARD)


class AuthFormState(SessionState):
    """The message for the ``?error=`` code the sign-in endpoints sent the browser back with."""

    error: str = ""
    next_path: str = ""

    @rx.event
    async def load(self):
        query = self.router.url.query_parameters
        self.error = accounts.FORM_ERRORS.get(query.get("error", ""), "")
        self.next_path = routes.safe_next_path(query.get("next"))
        if await self._require_user() is not None:
            return rx.redirect(self.next_path, replace=True)
        return None
