"""How far back the read API and the exports may go for an account: the same plan rule as the pages.

Hosted installations: a Free account reads the last ``FREE.max_range_days`` days (``plans.earliest_visible``);
an explicit window starting earlier is refused with 403 ``plan_range_limit`` naming the limit, the earliest
allowed start and where to upgrade. Self-hosted installations (no Stripe configuration) have no limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from ingest_api.billing_deps import stripe_config
from ingest_api.deps import ApiProblem
from ingest_api.schemas import ApiError
from llmobserve_app import routes
from llmobserve_app.db import session_scope
from llmobserve_app.services.billing import subscriptions
from llmobserve_app.services.billing.plans import SELF_HOSTED, Plan, earliest_visible, range_allowed

PLAN_RANGE_LIMIT = "plan_range_limit"
PLAN_RANGE_ERROR: dict[int | str, dict] = {
    403: {"model": ApiError, "description": "Hosted, Free plan: the window starts before the plan's range "
                                            "(`plan_range_limit`; the detail names the earliest allowed start)."}}


@dataclass(frozen=True)
class RangeLimit:
    """An account's plan at ``now``: the earliest moment its reads may start (None: any), where it can upgrade."""

    plan: Plan
    now: datetime
    upgrade_url: str = ""

    @property
    def earliest(self) -> datetime | None:
        return earliest_visible(self.plan, self.now)

    def clamp(self, start: datetime) -> datetime:
        """A default window's start, moved forward to what the plan covers."""
        return start if self.earliest is None else max(start, self.earliest)

    def check(self, start: datetime) -> None:
        """ApiProblem(403, plan_range_limit) when an explicitly asked window starts before the plan allows."""
        earliest = self.earliest
        if earliest is None or range_allowed(self.plan, start, self.now):
            return
        earliest = earliest.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        raise ApiProblem(403, PLAN_RANGE_LIMIT,
                         f"The {self.plan.label} plan covers the last {self.plan.max_range_days} days (the earliest "
                         f"allowed start is {earliest}); upgrade to Pro at {self.upgrade_url} for a longer range")


def _plan_of(engine: sa.Engine, account_id: int) -> Plan:
    with session_scope(engine) as session:
        return subscriptions.plan_for(session, account_id, hosted=True)


async def range_limit(request: Request, engine: sa.Engine, account_id: int, now: datetime) -> RangeLimit:
    """The range limit of ``account_id`` at ``now``: none on a self-hosted installation."""
    config = stripe_config(request)
    if config is None:
        return RangeLimit(SELF_HOSTED, now)
    plan = await run_in_threadpool(_plan_of, engine, account_id)
    return RangeLimit(plan, now, config.public_url.rstrip("/") + routes.SUBSCRIPTION)
