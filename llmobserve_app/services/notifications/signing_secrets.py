"""Each account's webhook signing secret: created or rotated by the user (shown once), or created when the
account's first webhook is enqueued (``outbox.enqueue``, in that transaction); delivery only reads it."""

from __future__ import annotations

import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.db import insert_for
from llmobserve_app.models import WebhookSigningSecret, utcnow

SECRET_PREFIX = "whsec_"
SECRETS = WebhookSigningSecret.__table__


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def rotate_signing_secret(session: Session, tenant_id: int) -> str:
    """Create the account's secret or replace it (the old one stops signing at once); returns it to show once."""
    secret = _new_secret()
    statement = insert_for(session.get_bind().dialect.name)(SECRETS).values(
        tenant_id=tenant_id, secret=secret, created_at=utcnow())
    statement = statement.on_conflict_do_update(
        index_elements=[SECRETS.c.tenant_id],
        set_={"secret": statement.excluded.secret, "created_at": statement.excluded.created_at})
    session.execute(statement)
    return secret


def signing_secret_created_at(session: Session, tenant_id: int) -> datetime | None:
    """When the account's current secret was made (the settings page shows this, never the secret)."""
    return session.execute(sa.select(SECRETS.c.created_at).where(SECRETS.c.tenant_id == tenant_id)).scalar()


def ensure_signing_secret(session: Session, tenant_id: int) -> None:
    """Create the account's secret if it has none (every webhook is signed; the user rotates it in Settings to
    see it). The tenant is the table's key: of concurrent creators, the first one's secret is kept."""
    statement = insert_for(session.get_bind().dialect.name)(SECRETS).values(
        tenant_id=tenant_id, secret=_new_secret(), created_at=utcnow())
    session.execute(statement.on_conflict_do_nothing(index_elements=[SECRETS.c.tenant_id]))


def secret_for_signing(session: Session, tenant_id: int) -> str | None:
    """The account's secret (None only if the row was deleted after its webhooks were enqueued)."""
    return session.execute(sa.select(SECRETS.c.secret).where(SECRETS.c.tenant_id == tenant_id)).scalar()
