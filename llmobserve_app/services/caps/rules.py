"""``CapRule``: an immutable copy of a ``caps`` row, safe to cache and share between threads."""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property

import sqlalchemy as sa

from llmobserve_app.models import Cap

SCOPES = ("global", "provider", "model", "agent", "customer")
EVERY_CUSTOMER = "*"
ACTIONS = ("alert", "block")


@dataclass(frozen=True)
class CapRule:
    id: int
    tenant_id: int
    name: str
    scope: str
    value: str
    period: str
    limit_nanos: int
    threshold_pct: int
    action: str
    notify_email: bool
    slack_webhook_url: str | None
    webhook_url: str | None
    enabled: bool

    @property
    def every_customer(self) -> bool:
        """A ``customer:*`` cap: each customer is held to the limit separately."""
        return self.scope == "customer" and self.value == EVERY_CUSTOMER

    @cached_property
    def threshold_nanos(self) -> int:
        """The spend at which the early warning fires (rounded up: never before the percentage is reached)."""
        return -(-self.limit_nanos * self.threshold_pct // 100)


def rule_of(cap: Cap) -> CapRule:
    assert cap.id is not None
    return CapRule(cap.id, cap.tenant_id, cap.name, cap.scope, cap.value, cap.period, cap.limit_nanos,
                   cap.threshold_pct, cap.action, cap.notify_email, cap.slack_webhook_url, cap.webhook_url,
                   cap.enabled)


RULE_COLUMNS = tuple(Cap.__table__.c[field.name] for field in fields(CapRule))


def select_rules() -> sa.Select[tuple[object, ...]]:
    """The columns of ``CapRule`` from ``caps`` (rows become rules with ``CapRule(*row)``; no ORM objects:
    the catch-up reads every enabled cap of the installation)."""
    return sa.select(*RULE_COLUMNS)
