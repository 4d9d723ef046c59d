"""Create, change, delete and list a tenant's caps, and read its alert history. Every function takes the
tenant id and only ever touches that tenant's rows; a cap of another tenant is ``CapNotFound``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from llmobserve_app.models import Cap, CapAlert, utcnow
from llmobserve_app.services.caps import validation
from llmobserve_app.services.caps.registry import forget_after_commit
from llmobserve_app.services.errors import UserFacingError
from llmobserve_app.services.money import nanos_to_usd

EDITABLE = ("name", "scope", "value", "period", "limit_usd", "threshold_pct", "action", "notify_email",
            "slack_webhook_url", "webhook_url", "enabled")


class CapNotFound(LookupError):
    """No cap with that id for this tenant (it may exist for another: callers answer 404 either way)."""


def _checked(fields: dict[str, Any]) -> dict[str, Any]:
    """Column values of a complete set of ``EDITABLE`` fields, each validated (UserFacingError names it)."""
    scope = validation.scope(fields["scope"])
    return {
        "name": validation.name(fields["name"]),
        "scope": scope,
        "value": validation.scope_value(scope, fields["value"]),
        "period": validation.period(fields["period"]),
        "limit_nanos": validation.limit_nanos(fields["limit_usd"]),
        "threshold_pct": validation.threshold_pct(fields["threshold_pct"]),
        "action": validation.action(fields["action"]),
        "notify_email": validation.flag(fields["notify_email"], "notify.email"),
        "slack_webhook_url": validation.webhook_url(fields["slack_webhook_url"], "notify.slack_webhook_url"),
        "webhook_url": validation.webhook_url(fields["webhook_url"], "notify.webhook_url"),
        "enabled": validation.flag(fields["enabled"], "enabled"),
    }


def create_cap(session: Session, tenant_id: int, *, scope: str, period: str, limit_usd: Any, value: str = "",
               name: str = "", threshold_pct: int = 80, action: str = "alert", notify_email: bool = True,
               slack_webhook_url: str | None = None, webhook_url: str | None = None, enabled: bool = True) -> Cap:
    values = _checked({"name": name, "scope": scope, "value": value, "period": period, "limit_usd": limit_usd,
                       "threshold_pct": threshold_pct, "action": action, "notify_email": notify_email,
                       "slack_webhook_url": slack_webhook_url, "webhook_url": webhook_url, "enabled": enabled})
    if not values["name"]:
        values["name"] = f"{values['scope']}{':' + values['value'] if values['value'] else ''} per {values['period']}"
    now = utcnow()
    cap = Cap(tenant_id=tenant_id, created_at=now, updated_at=now, **values)
    session.add(cap)
    session.flush()
    forget_after_commit(session, tenant_id)
    return cap


def get_cap(session: Session, tenant_id: int, cap_id: int) -> Cap:
    cap = session.exec(select(Cap).where(Cap.id == cap_id, Cap.tenant_id == tenant_id)).first()
    if cap is None:
        raise CapNotFound(cap_id)
    return cap


def update_cap(session: Session, tenant_id: int, cap_id: int, **changes: Any) -> Cap:
    """Change some of a cap's ``EDITABLE`` fields; the result is validated as a whole (a scope changed to
    ``global`` needs an empty value, and so on). The new limit applies at once: spend is derived."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise UserFacingError("cannot be changed", sorted(unknown)[0])
    cap = get_cap(session, tenant_id, cap_id)
    current = {field: getattr(cap, field) for field in EDITABLE if field != "limit_usd"}
    current["limit_usd"] = nanos_to_usd(cap.limit_nanos)
    values = _checked({**current, **changes})
    if not values["name"]:
        values["name"] = cap.name
    for field, value in values.items():
        setattr(cap, field, value)
    cap.updated_at = utcnow()
    session.add(cap)
    session.flush()
    forget_after_commit(session, tenant_id)
    return cap


def delete_cap(session: Session, tenant_id: int, cap_id: int) -> None:
    """Delete a cap and its alert history (a block it held lifts at the next reply)."""
    cap = get_cap(session, tenant_id, cap_id)
    session.execute(sa.delete(CapAlert).where(CapAlert.cap_id == cap.id))
    session.delete(cap)
    session.flush()
    forget_after_commit(session, tenant_id)


def list_caps(session: Session, tenant_id: int) -> list[Cap]:
    return list(session.exec(select(Cap).where(Cap.tenant_id == tenant_id).order_by(Cap.id)))


def alert_history(session: Session, tenant_id: int, *, cap_id: int | None = None, limit: int = 100) -> list[CapAlert]:
    """The tenant's latest alerts, newest first (of one cap when ``cap_id`` is given)."""
    query = select(CapAlert).where(CapAlert.tenant_id == tenant_id)
    if cap_id is not None:
        query = query.where(CapAlert.cap_id == cap_id)
    return list(session.exec(query.order_by(CapAlert.created_at.desc(), CapAlert.id.desc()).limit(limit)))
