"""What each plan allows, in one place.

Self-hosted installations (no ``STRIPE_SECRET_KEY``) have no plans: every account gets everything, and history
is kept for ``RETENTION_DAYS`` when set, else forever. Hosted: Free and Pro ($8/month). Nothing is ever refused
at ingest because of a plan: the SDK never loses a user's data for billing reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from llmobserve_app.services.time_range import day_floor


@dataclass(frozen=True)
class Plan:
    key: str
    label: str
    max_range_days: int | None  # the longest date range the pages show; None: unlimited
    history_days: int | None  # raw events and rollups older than this are deleted; None: kept forever
    monthly_price_usd: int = 0


FREE = Plan("free", "Free", max_range_days=7, history_days=30)
PRO = Plan("pro", "Pro", max_range_days=None, history_days=400, monthly_price_usd=8)
SELF_HOSTED = Plan("self_hosted", "Self-hosted", max_range_days=None, history_days=None)


def self_hosted_plan(retention_days: int | None) -> Plan:
    """Everything; history kept ``retention_days`` (``RETENTION_DAYS``) when set."""
    return SELF_HOSTED if retention_days is None else Plan(SELF_HOSTED.key, SELF_HOSTED.label, None, retention_days)


def earliest_visible(plan: Plan, now: datetime) -> datetime | None:
    """The earliest moment ``plan``'s date ranges may start (None: any). Free: the start of the "Last 7 days"
    range (today, UTC, and the 6 days before)."""
    if plan.max_range_days is None:
        return None
    return day_floor(now) - timedelta(days=plan.max_range_days - 1)


def range_allowed(plan: Plan, start: datetime, now: datetime) -> bool:
    """Whether ``plan`` may show a date range starting at ``start``."""
    earliest = earliest_visible(plan, now)
    return earliest is None or start >= earliest
