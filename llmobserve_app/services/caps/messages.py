"""What each newly fired alert says, per channel of its cap: the arguments of one outbox message
(``notifications.enqueue(session, **message)``), built in the firing transaction by ``checks.check``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlmodel import Session, select

from llmobserve_app.models import CapAlert, User
from llmobserve_app.services.caps.periods import period_bounds
from llmobserve_app.services.caps.rules import CapRule
from llmobserve_app.services.money import format_usd, usd_plain

SOURCE_KIND = "cap_alert"


def _iso(moment: Any) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def alert_payload(alert: CapAlert, rule: CapRule) -> dict[str, Any]:
    """The facts of an alert, as JSON values (the webhook body; Slack and email render them)."""
    period_end = period_bounds(rule.period, alert.period_start)[1]
    return {
        "alert_id": alert.id, "cap_id": rule.id, "cap_name": rule.name, "level": alert.level,
        "scope": rule.scope, "value": alert.scope_value or rule.value, "period": rule.period,
        "period_start": _iso(alert.period_start), "period_end": _iso(period_end),
        "spend_usd": usd_plain(alert.spend_nanos),
        "limit_usd": usd_plain(alert.limit_nanos),
        "percent": round(100 * alert.spend_nanos / alert.limit_nanos, 1), "threshold_pct": rule.threshold_pct,
        "action": rule.action, "blocked": alert.level == "exceeded" and rule.action == "block",
        "fired_at": _iso(alert.created_at),
    }


def alert_subject(alert: CapAlert, rule: CapRule) -> str:
    scope = rule.scope if rule.scope == "global" else f"{rule.scope} {alert.scope_value or rule.value}"
    spent = f"{format_usd(alert.spend_nanos)} of {format_usd(alert.limit_nanos)} this {rule.period}"
    if alert.level == "threshold":
        return f"Cap '{rule.name}' ({scope}) reached {rule.threshold_pct}% of its limit: {spent}"
    blocked = ": calls are blocked until the period ends" if rule.action == "block" else ""
    return f"Cap '{rule.name}' ({scope}) exceeded its limit: {spent}{blocked}"


def alert_messages(session: Session, alerts: Iterable[CapAlert],
                   rules: Mapping[int, CapRule]) -> list[dict[str, Any]]:
    """One message per alert and channel of its cap: email to the account's address (if on), the Slack
    webhook and the generic webhook (if set)."""
    alerts = list(alerts)
    if not alerts:
        return []
    tenant_ids = {alert.tenant_id for alert in alerts}
    emails = dict(session.exec(select(User.id, User.email).where(User.id.in_(tenant_ids))).all())
    messages = []
    for alert in alerts:
        rule = rules[alert.cap_id]
        channels = [("email", emails.get(alert.tenant_id) if rule.notify_email else None),
                    ("slack", rule.slack_webhook_url), ("webhook", rule.webhook_url)]
        payload, subject = alert_payload(alert, rule), alert_subject(alert, rule)
        messages += [{"tenant_id": alert.tenant_id, "source_kind": SOURCE_KIND, "source_id": alert.id,
                      "channel": channel, "target": target, "subject": subject, "payload": payload}
                     for channel, target in channels if target]
    return messages
