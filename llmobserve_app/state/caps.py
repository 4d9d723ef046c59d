"""/settings/caps: the account's spending caps (spend against limit, status, projection), their form (create,
edit) with per-field errors from the caps service, disable/enable, delete, and the alert history.

Webhook URLs are credentials (whoever has a Slack incoming-webhook URL can post to the channel): they never
enter State. The form's URL inputs are uncontrolled and reach the handler only inside the submitted form data;
an edit shows whether a URL is set, keeps it when the input is left empty, and removes it when asked.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import reflex as rx
from sqlmodel import Session

from llmobserve_app.clock import app_clock
from llmobserve_app.db import get_engine
from llmobserve_app.delivery_config import delivery_config
from llmobserve_app.services import notifications
from llmobserve_app.services.caps import changes, crud
from llmobserve_app.services.caps.overview import overviews
from llmobserve_app.services.errors import UserFacingError
from llmobserve_app.services.money import usd_plain
from llmobserve_app.state import formatting as fmt
from llmobserve_app.state.session import SessionState, run_db

SCOPE_OPTIONS = [("global", "Everything (global)"), ("provider", "One provider"), ("model", "One model"),
                 ("agent", "One agent"), ("customer", "One customer, or * for each customer")]
PERIOD_OPTIONS = [("day", "Day (UTC)"), ("week", "Week (ISO, from Monday 00:00 UTC)"), ("month", "Month (UTC)")]
ACTION_OPTIONS = [("alert", "Alert only"), ("block", "Alert and block calls in the SDK")]
# The service names fields as the API spells them; the form's inputs are named without the "notify." prefix.
_FORM_FIELD = {"notify.email": "notify_email", "notify.slack_webhook_url": "slack_webhook_url",
               "notify.webhook_url": "webhook_url"}


def _caps(session: Session, tenant_id: int, now: datetime) -> list[dict[str, str]]:
    return [fmt.cap_row(view) for view in overviews(session, crud.list_caps(session, tenant_id), now)]


def _deliveries(found: list[notifications.Delivery]) -> str:
    if not found:
        return "in the app only"
    return " · ".join(f"{delivery.channel}: {delivery.status}" for delivery in found)


def _alerts(session: Session, tenant_id: int) -> list[dict[str, str]]:
    alerts = crud.alert_history(session, tenant_id)
    caps = {cap.id: cap for cap in crud.list_caps(session, tenant_id)}
    deliveries = notifications.deliveries_for(session, tenant_id, "cap_alert", [alert.id for alert in alerts])
    return [{
        "time": fmt.moment(alert.created_at), "cap": caps[alert.cap_id].name,
        "scope": (f"customer {alert.scope_value}" if alert.scope_value
                  else fmt.cap_scope_label(caps[alert.cap_id].scope, caps[alert.cap_id].value, "")),
        "level": alert.level, "spend": fmt.usd(alert.spend_nanos),
        "limit": fmt.usd(alert.limit_nanos), "deliveries": _deliveries(deliveries.get(alert.id, [])),
    } for alert in alerts if alert.cap_id in caps]  # (a cap deleted meanwhile takes its alerts with it)


@dataclass(frozen=True)
class CapForm:
    """What the form starts from: a cap's non-secret fields (a new cap's defaults), and whether each URL is
    set. One State var; the page reads its fields (``CapsState.form.scope``)."""

    name: str = ""
    scope: str = "customer"
    value: str = ""
    period: str = "day"
    limit_usd: str = ""
    threshold_pct: str = "80"
    action: str = "alert"
    notify_email: bool = True
    slack_set: bool = False
    webhook_set: bool = False


def _editable(session: Session, tenant_id: int, cap_id: int) -> CapForm:
    cap = crud.get_cap(session, tenant_id, cap_id)
    return CapForm(name=cap.name, scope=cap.scope, value=cap.value, period=cap.period,
                   limit_usd=usd_plain(cap.limit_nanos), threshold_pct=str(cap.threshold_pct), action=cap.action,
                   notify_email=cap.notify_email, slack_set=bool(cap.slack_webhook_url),
                   webhook_set=bool(cap.webhook_url))


def form_fields(form: dict[str, Any], editing: bool) -> dict[str, Any]:
    """The submitted form as ``crud`` fields. On an edit an empty URL input keeps the stored URL unless its
    "remove" box is ticked. A threshold that is not a whole number fails here, naming the field."""
    threshold = str(form.get("threshold_pct", "")).strip()
    if not threshold.isdigit():
        raise UserFacingError("must be a whole percentage from 1 to 99", "threshold_pct")
    fields: dict[str, Any] = {
        "name": str(form.get("name", "")), "scope": form.get("scope", ""), "value": str(form.get("value", "")),
        "period": form.get("period", ""), "limit_usd": str(form.get("limit_usd", "")),
        "threshold_pct": int(threshold), "action": form.get("action", ""),
        "notify_email": form.get("notify_email") in ("on", True, "true"),
    }
    for url_field in ("slack_webhook_url", "webhook_url"):
        url = str(form.get(url_field, "")).strip()
        if url or not editing:
            fields[url_field] = url or None
        elif form.get(f"remove_{url_field}") in ("on", True, "true"):
            fields[url_field] = None
    return fields


def _save(session: Session, tenant_id: int, cap_id: int | None, fields: dict[str, Any]):
    if cap_id is None:
        return crud.create_cap(session, tenant_id, **fields)
    return crud.update_cap(session, tenant_id, cap_id, **fields)


class CapsState(SessionState):
    loading: bool = True
    error: str = ""
    email_configured: bool = False
    caps: list[dict[str, str]] = []
    # The form (a dialog): the cap being edited ("" = a new one), its starting values, and per-field errors.
    form_open: bool = False
    form_cap_id: str = ""
    form_key: int = 0  # changes each time the form opens, so its uncontrolled inputs start afresh
    form: CapForm = CapForm()
    field_errors: dict[str, str] = {}
    # Delete confirmation and the alert history (a dialog).
    delete_cap_id: str = ""
    delete_cap_name: str = ""
    alerts_open: bool = False
    alerts_loading: bool = False
    alerts: list[dict[str, str]] = []

    async def _tenant(self) -> int | None:
        user = await self._require_user()
        return None if user is None else user.id

    async def _refresh(self, tenant_id: int) -> None:
        self.caps = await run_db(_caps, tenant_id, app_clock()())

    @rx.event
    async def load(self):
        self.loading, self.error, self.form_open, self.alerts_open, self.delete_cap_id = True, "", False, False, ""
        tenant_id = await self._tenant()
        if tenant_id is None:
            return self._to_login()
        self.email_configured = notifications.email_configured(delivery_config())
        await self._refresh(tenant_id)
        self.loading = False
        return None

    def _open_form(self, cap_id: str, values: CapForm) -> None:
        self.form_cap_id, self.form_key, self.field_errors, self.form_open = cap_id, self.form_key + 1, {}, True
        self.form = values

    @rx.event
    def new_cap(self) -> None:
        self._open_form("", CapForm())

    @rx.event
    async def edit_cap(self, cap_id: str):
        tenant_id = await self._tenant()
        if tenant_id is None:
            return self._to_login()
        try:
            values = await run_db(_editable, tenant_id, int(cap_id))
        except (crud.CapNotFound, ValueError):
            self.error = "That cap no longer exists."
            return None
        self._open_form(cap_id, values)
        return None

    @rx.event
    def set_form_open(self, value: bool) -> None:
        self.form_open = value

    @rx.event
    def set_form_scope(self, value: str) -> None:
        self.form = replace(self.form, scope=value)  # the value's hint follows the scope

    @rx.event
    async def save_cap(self, form: dict[str, Any]):
        """Create or change the cap; a field the service refuses is shown under its input, nothing is saved."""
        tenant_id = await self._tenant()
        if tenant_id is None:
            return self._to_login()
        cap_id = int(self.form_cap_id) if self.form_cap_id else None
        try:
            fields = form_fields(form, editing=cap_id is not None)
            await asyncio.to_thread(changes.save_and_check, get_engine(), app_clock()(),
                                    lambda session: _save(session, tenant_id, cap_id, fields))
        except UserFacingError as error:
            field = _FORM_FIELD.get(error.field or "", error.field or "form")
            self.field_errors = {field: error.message}
            return None
        except crud.CapNotFound:
            self.form_open, self.error = False, "That cap no longer exists."
            await self._refresh(tenant_id)
            return None
        self.form_open, self.field_errors, self.error = False, {}, ""
        await self._refresh(tenant_id)
        return rx.toast.success("Cap saved." if cap_id else "Cap created.")

    @rx.event
    async def toggle_enabled(self, cap_id: str, enable: bool):
        tenant_id = await self._tenant()
        if tenant_id is None:
            return self._to_login()
        try:
            await asyncio.to_thread(changes.save_and_check, get_engine(), app_clock()(),
                                    lambda session: crud.update_cap(session, tenant_id, int(cap_id), enabled=enable))
        except (crud.CapNotFound, ValueError):
            self.error = "That cap no longer exists."
        await self._refresh(tenant_id)
        return None

    @rx.event
    def ask_delete(self, cap_id: str, name: str) -> None:
        self.delete_cap_id, self.delete_cap_name = cap_id, name

    @rx.event
    def cancel_delete(self) -> None:
        self.delete_cap_id = ""

    @rx.event
    async def confirm_delete(self):
        tenant_id = await self._tenant()
        if tenant_id is None:
            return self._to_login()
        cap_id, self.delete_cap_id = self.delete_cap_id, ""
        try:
            await asyncio.to_thread(changes.delete, get_engine(), tenant_id, int(cap_id))
        except (crud.CapNotFound, ValueError):
            self.error = "That cap no longer exists."
        await self._refresh(tenant_id)
        return None

    @rx.event
    async def open_alerts(self):
        tenant_id = await self._tenant()
        if tenant_id is None:
            yield self._to_login()
            return
        self.alerts_open, self.alerts_loading = True, True
        yield
        self.alerts = await run_db(_alerts, tenant_id)
        self.alerts_loading = False

    @rx.event
    def set_alerts_open(self, value: bool) -> None:
        self.alerts_open = value
