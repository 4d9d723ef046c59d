"""GET /v1/usage: the read API founders use to bill their own customers (API-key authenticated)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from ingest_api.deps import ERRORS, ApiProblem, ClockDep, EngineDep, TenantDep
from ingest_api.plan_range import PLAN_RANGE_ERROR, RangeLimit, range_limit
from llmobserve_app import routes
from llmobserve_app.db import session_scope
from llmobserve_app.services import analytics, exports
from llmobserve_app.services.errors import UserFacingError
from llmobserve_app.services.time_range import out_of_bounds, within_bounds

DEFAULT_DAYS = 30
# What ``from``/``to`` look like (documentation and fuzzing; ``_moment`` decides): a day or a datetime.
MOMENT_PATTERN = r"^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d{1,6})?)?(Z|[+-]\d\d:\d\d))?$"
router = APIRouter()


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
    """A date (YYYY-MM-DD, whole UTC day) or an ISO datetime with timezone, in the supported span of time."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            moment += timedelta(days=1) if end_of_day else timedelta(0)
        else:
            moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise UserFacingError("datetime needs a timezone (e.g. 2026-11-01T00:00:00Z)", name)
        # OverflowError: 9999-12-31 plus a day, or 0001-01-01T00:00+14:00 in UTC, is outside datetime's years
        return within_bounds(moment.astimezone(UTC), name)
    except OverflowError:
        raise out_of_bounds(name) from None
    except UserFacingError:
        raise
    except ValueError:
        raise UserFacingError(f"expected YYYY-MM-DD or an ISO-8601 datetime, got {value!r}", name) from None


def _window(from_: str | None, to: str | None, now: datetime, limit: RangeLimit) -> tuple[datetime, datetime]:
    """The window of whole hours the parameters ask for; ApiProblem(422) naming the parameter otherwise.

    Without ``from`` the window starts ``DEFAULT_DAYS`` before its end, or (Free plan) where the plan's range
    starts; an explicit ``from`` before that is refused (403 ``plan_range_limit``)."""
    try:
        end = _moment(to, "to", end_of_day=True) or now
        asked = _moment(from_, "from", end_of_day=False)
    except UserFacingError as error:
        raise ApiProblem(422, "invalid_date", f"{error.field}: {error.message}") from None
    default_start = end - timedelta(days=DEFAULT_DAYS)
    start = asked or limit.clamp(default_start)
    if asked is None and start >= end:  # ``to`` lies before anything the plan covers
        limit.check(default_start)
    if start >= end:
        raise ApiProblem(422, "invalid_range", "from must be before to")
    limit.check(start)
    # Rollups are hourly: align the window outward to whole hours.
    start = start.replace(minute=0, second=0, microsecond=0)
    if end != end.replace(minute=0, second=0, microsecond=0):
        end = end.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return start, end


@router.get(routes.API_USAGE, response_model=UsageReport, responses={**ERRORS, **PLAN_RANGE_ERROR},
            summary="Cost and usage grouped by one dimension")
async def usage(
    request: Request,
    engine: EngineDep,
    tenant_id: TenantDep,
    clock: ClockDep,
    group_by: Annotated[str, Query(description="customer | model | provider | agent | day",
                                   json_schema_extra={"enum": list(analytics.GROUP_BY)})] = "customer",
    from_: Annotated[str | None, Query(alias="from", description="Start: YYYY-MM-DD or ISO datetime (inclusive); "
                                       f"default: {DEFAULT_DAYS} days before the end (Free plan: its range's start)",
                                       json_schema_extra={"pattern": MOMENT_PATTERN})] = None,
    to: Annotated[str | None, Query(description="End: YYYY-MM-DD (inclusive day) or ISO datetime (exclusive)",
                                    json_schema_extra={"pattern": MOMENT_PATTERN})] = None,
    customer_id: Annotated[str | None, Query(max_length=200)] = None,
) -> UsageReport:
    if group_by not in analytics.GROUP_BY:
        raise ApiProblem(422, "invalid_group_by", f"group_by must be one of {', '.join(analytics.GROUP_BY)}")
    now = clock()
    start, end = _window(from_, to, now, await range_limit(request, engine, tenant_id, now))
    scope = analytics.Scope(tenant_id, start, end, customer_id)

    def fetch() -> list[UsageRow]:
        with session_scope(engine) as session:
            return [UsageRow(key=record.pop("name"), **record)
                    for record in exports.cost_records(session, scope, group_by)]

    rows = await run_in_threadpool(fetch)
    return UsageReport(group_by=group_by, start=start, end=end, customer_id=customer_id, rows=rows)
