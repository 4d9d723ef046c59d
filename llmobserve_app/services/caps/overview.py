"""What a caps list shows for each cap (API and page): spend against limit now, status, period, projection.

A ``customer:*`` cap shows its customer nearest the limit (the one furthest over it when several are).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from llmobserve_app.models import Cap
from llmobserve_app.services.caps.crud import list_caps
from llmobserve_app.services.caps.evaluation import CapStatus, evaluate, status_at
from llmobserve_app.services.caps.periods import period_bounds
from llmobserve_app.services.caps.rules import rule_of
from llmobserve_app.services.caps.spend import Spend, top_customers


@dataclass(frozen=True)
class CapOverview:
    cap: Cap
    spend_nanos: int
    unpriced_calls: int
    status: str  # ok | warning | exceeded | blocked, or disabled
    period_start: datetime
    period_end: datetime
    projected_at: datetime | None
    scope_value: str  # for a ``customer:*`` cap, the customer shown ('' when none spent anything)

    @property
    def percent(self) -> float:
        return 100.0 * self.spend_nanos / self.cap.limit_nanos


AT_WARNING_OR_BEYOND = ("warning", "exceeded", "blocked")


def alerting(session: Session, tenant_id: int, now: datetime) -> list[CapOverview]:
    """The tenant's enabled caps at warning or beyond (the dashboard's callout); disabled caps are not evaluated."""
    enabled = [cap for cap in list_caps(session, tenant_id) if cap.enabled]
    return [view for view in overviews(session, enabled, now) if view.status in AT_WARNING_OR_BEYOND]


def overviews(session: Session, caps: Sequence[Cap], now: datetime) -> list[CapOverview]:
    """One overview per cap (all of one tenant), in the order given."""
    statuses = evaluate(session, [rule_of(cap) for cap in caps], now)
    worst: dict[int, CapStatus] = {}
    for status in statuses:
        best = worst.get(status.rule.id)
        if best is None or status.spend_nanos > best.spend_nanos:
            worst[status.rule.id] = status
    missing = [cap for cap in caps if cap.id not in worst]  # customer:* caps with no customer near the threshold
    bounds = {cap.period: period_bounds(cap.period, now) for cap in missing}
    tops = top_customers(session, caps[0].tenant_id, bounds) if missing else {}
    result = []
    for cap in caps:
        status = worst.get(cap.id)
        if status is None:
            customer, spend = tops.get(cap.period, ("", Spend()))
            status = status_at(rule_of(cap), customer, spend, bounds[cap.period], now)
        result.append(CapOverview(cap, status.spend_nanos, status.unpriced_calls,
                                  status.status if cap.enabled else "disabled", status.period_start,
                                  status.period_end, status.projected_at, status.scope_value))
    return result
