"""GET /v1/usage: the read API founders use to bill their own customers (API-key authenticated)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from llmobserve_app import routes
from llmobserve_app.db import session_scope
from llmobserve_app.services import analytics, exports

DEFAULT_DAYS = 30


class UsageRow(BaseModel):
    key: str
    cost_usd: str
    calls: int
    failed_calls: int
    unpriced_calls: int
    input_tokens: int
    output_tokens: int


class UsageReport(BaseModel):
    group_by: str
    start: datetime
    end: datetime
    customer_id: str | None
    rows: list[UsageRow]


def _moment(value: str | None, name: str, *, end_of_day: bool) -> datetime | None:
    """A date (YYYY-MM-DD, whole UTC day) or an ISO datetime with timezone."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment + timedelta(days=1) if end_of_day else moment
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name}: expected YYYY-MM-DD or an ISO-8601 datetime, got {value!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name}: datetime needs a timezone (e.g. 2026-11-01T00:00:00Z)")
    return moment.astimezone(UTC)


def usage_router(engine: Callable[[], sa.Engine], require_tenant: Callable[..., int],
                 problem: Callable[[int, str, str], Exception]) -> APIRouter:
    router = APIRouter()

    @router.get(routes.API_USAGE, response_model=UsageReport, summary="Cost and usage grouped by one dimension")
    async def usage(
        group_by: str = Query("customer", description="customer | model | provider | agent | day"),
        from_: str | None = Query(None, alias="from", description="Start: YYYY-MM-DD or ISO datetime (inclusive)"),
        to: str | None = Query(None, description="End: YYYY-MM-DD (inclusive day) or ISO datetime (exclusive)"),
        customer_id: str | None = Query(None, max_length=200),
        tenant_id: int = Depends(require_tenant),
    ) -> UsageReport:
        if group_by not in analytics.GROUP_BY:
            raise problem(422, "invalid_group_by", f"group_by must be one of {', '.join(analytics.GROUP_BY)}")
        try:
            end = _moment(to, "to", end_of_day=True) or datetime.now(UTC)
            start = _moment(from_, "from", end_of_day=False) or end - timedelta(days=DEFAULT_DAYS)
        except ValueError as error:
            raise problem(422, "invalid_date", str(error)) from None
        if start >= end:
            raise problem(422, "invalid_range", "from must be before to")
        # Rollups are hourly: align the window outward to whole hours.
        start = start.replace(minute=0, second=0, microsecond=0)
        if end != end.replace(minute=0, second=0, microsecond=0):
            end = end.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        scope = analytics.Scope(tenant_id, start, end, customer_id)

        def fetch() -> list[UsageRow]:
            with session_scope(engine()) as session:
                return [UsageRow(key=record.pop("name"), **record)
                        for record in exports.cost_records(session, scope, group_by)]

        rows = await run_in_threadpool(fetch)
        return UsageReport(group_by=group_by, start=start, end=end, customer_id=customer_id, rows=rows)

    return router
