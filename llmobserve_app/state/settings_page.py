"""Settings page: account details, API keys (create once-shown, revoke) and alert delivery (whether e-mail is
configured; the webhook signing secret, created or rotated and then shown once)."""

from __future__ import annotations

import reflex as rx
from sqlmodel import Session

from llmobserve_app.delivery_config import delivery_config
from llmobserve_app.services import api_keys, price_updates
from llmobserve_app.services.errors import UserFacingError
from llmobserve_app.services.notifications import email_configured
from llmobserve_app.services.notifications.signing_secrets import rotate_signing_secret, signing_secret_created_at
from llmobserve_app.state.session import SessionState, run_db
from llmobserve_app.state.subscription import current_view


def _key_rows(session: Session, user_id: int) -> list[dict[str, str]]:
    return [{
        "id": str(key.id),
        "name": key.name,
        "prefix": key.prefix + "…",
        "created": key.created_at.strftime("%Y-%m-%d"),
        "last_used": key.last_used_at.strftime("%Y-%m-%d %H:%M UTC") if key.last_used_at else "never",
        "status": "revoked" if key.revoked_at else "active",
    } for key in api_keys.list_api_keys(session, user_id)]


def _create(session: Session, user_id: int, name: str) -> str:
    return api_keys.create_api_key(session, user_id, name)[1]


def _revoke(session: Session, user_id: int, key_id: int) -> None:
    api_keys.revoke_api_key(session, user_id, key_id)


def _signing_secret_created(session: Session, user_id: int) -> str:
    created = signing_secret_created_at(session, user_id)
    return created.strftime("%Y-%m-%d %H:%M UTC") if created else ""


def _price_data(session: Session) -> str:
    """Which prices are in force: "Bundled data 2026-11-23.1", or "… as of <date> from <source>"."""
    found = price_updates.status(session)
    if found.as_of is None:
        text = f"Bundled price data {found.version}"
    else:
        text = f"Prices as of {found.as_of:%Y-%m-%d %H:%M} UTC from {found.source} (version {found.version})"
    if found.last_problem:
        text += f" — last fetch: {found.last_problem[:200]}"
    return text


CREATED_KEY_ID = "created-api-key"
SIGNING_SECRET_ID = "webhook-signing-secret"


class SettingsState(SessionState):
    loading: bool = True
    error: str = ""
    plan_label: str = ""
    member_since: str = ""
    keys: list[dict[str, str]] = []
    new_key_name: str = ""
    key_created: bool = False  # the new key itself is written into the page, never kept in State
    email_configured: bool = False
    signing_secret_created: str = ""  # when the current webhook signing secret was made ("" = none yet)
    signing_secret_shown: bool = False  # the secret itself is written into the page, never kept in State
    price_data: str = ""

    @rx.event
    def set_new_key_name(self, value: str) -> None:
        self.new_key_name = value

    async def _refresh(self, user_id: int) -> None:
        self.keys = await run_db(_key_rows, user_id)

    @rx.event
    async def load(self):
        self.loading, self.error, self.key_created, self.signing_secret_shown = True, "", False, False
        user = await self._require_user()
        if user is None:
            return self._to_login()
        self.plan_label = (await run_db(current_view, user.id)).plan.label  # "Self-hosted" when self-hosted
        self.member_since = user.member_since
        self.email_configured = email_configured(delivery_config())
        await self._refresh(user.id)
        self.signing_secret_created = await run_db(_signing_secret_created, user.id)
        self.price_data = await run_db(_price_data)
        self.loading = False
        return None

    @rx.event
    async def create_key(self):
        user = await self._require_user()
        if user is None:
            return self._to_login()
        try:
            plaintext = await run_db(_create, user.id, self.new_key_name)
        except UserFacingError as error:
            self.error = error.message
            return None
        self.new_key_name, self.error, self.key_created = "", "", True
        await self._refresh(user.id)
        return rx.set_value(CREATED_KEY_ID, plaintext)

    @rx.event
    def dismiss_created_key(self):
        self.key_created = False
        return rx.set_value(CREATED_KEY_ID, "")

    @rx.event
    async def revoke_key(self, key_id: str):
        user = await self._require_user()
        if user is None:
            return self._to_login()
        try:
            await run_db(_revoke, user.id, int(key_id))
        except (UserFacingError, ValueError):
            self.error = "That key does not exist."
            return None
        await self._refresh(user.id)
        return rx.toast.success("Key revoked: calls using it are now refused.")

    @rx.event
    async def rotate_signing_secret(self):
        """Create the webhook signing secret, or replace it (the old one stops signing at once); shown once."""
        user = await self._require_user()
        if user is None:
            return self._to_login()
        secret = await run_db(rotate_signing_secret, user.id)
        self.signing_secret_created = await run_db(_signing_secret_created, user.id)
        self.signing_secret_shown, self.error = True, ""
        return rx.set_value(SIGNING_SECRET_ID, secret)

    @rx.event
    def dismiss_signing_secret(self):
        self.signing_secret_shown = False
        return rx.set_value(SIGNING_SECRET_ID, "")
