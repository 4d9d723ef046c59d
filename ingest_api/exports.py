"""Browser downloads of runs and costs (CSV or JSON), authenticated by the signed-in session cookie."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from ingest_api.deps import ERRORS, ApiProblem, ClockDep, EngineDep, SignedInDep
from ingest_api.plan_range import PLAN_RANGE_ERROR, range_limit
from ingest_api.schemas import ApiError
from llmobserve_app import routes
from llmobserve_app.db import session_scope
from llmobserve_app.services import analytics, exports
from llmobserve_app.services.errors import UserFacingError
from llmobserve_app.services.time_range import NAMED_RANGES, parse_range

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
DAY_PATTERN = r"^\d{4}-\d\d-\d\d$"
router = APIRouter()


@router.get(routes.API_EXPORT, summary="Download runs or costs for the signed-in user (CSV or JSON)",
            responses={**ERRORS, **PLAN_RANGE_ERROR, 404: {"model": ApiError, "description": "No such export."}},
            response_class=StreamingResponse)
async def export(
    request: Request,
    engine: EngineDep,
    tenant_id: SignedInDep,
    clock: ClockDep,
    dataset: Annotated[str, Path(description="runs | costs", json_schema_extra={"enum": ["runs", "costs"]})],
    file_format: Annotated[str, Path(description="csv | json", json_schema_extra={"enum": list(MEDIA_TYPES)})],
    range_: Annotated[str | None, Query(alias="range", description="24h | 7d | 30d | custom",
                                        json_schema_extra={"enum": [*NAMED_RANGES, "custom"]})] = None,
    from_: Annotated[str | None, Query(alias="from", description="First day of a custom range (YYYY-MM-DD)",
                                       json_schema_extra={"pattern": DAY_PATTERN})] = None,
    to: Annotated[str | None, Query(description="Last day of a custom range (YYYY-MM-DD, included)",
                                    json_schema_extra={"pattern": DAY_PATTERN})] = None,
    customer: Annotated[str | None, Query(description="Only this customer")] = None,
    agent: Annotated[str | None, Query(description="runs: only this agent")] = None,
    search: Annotated[str, Query(description="runs: run ids containing this")] = "",
    group_by: Annotated[str, Query(description="costs: provider | model | customer | agent | day",
                                   json_schema_extra={"enum": list(analytics.GROUP_BY)})] = "provider",
) -> StreamingResponse:
    if dataset not in ("runs", "costs") or file_format not in MEDIA_TYPES:
        raise ApiProblem(404, "not_found", "exports are runs|costs as .csv or .json")
    now = clock()
    key = range_ or ("custom" if from_ or to else None)  # from/to without a range mean a custom one
    try:
        window = parse_range(key, from_, to, now)
    except UserFacingError as error:
        raise ApiProblem(422, "invalid_range", f"{error.field}: {error.message}") from None
    limit = await range_limit(request, engine, tenant_id, now)
    start = limit.clamp(window.start) if key is None else window.start  # the default range always works
    limit.check(start)
    scope = analytics.Scope(tenant_id, start, window.end, customer or None)
    fields = exports.RUN_FIELDS if dataset == "runs" else exports.COST_FIELDS
    if dataset == "costs" and group_by not in analytics.GROUP_BY:
        raise ApiProblem(422, "invalid_group_by", f"group_by must be one of {', '.join(analytics.GROUP_BY)}")

    def produce(session: Session) -> Iterable[dict[str, Any]]:
        if dataset == "runs":
            return exports.run_records(session, scope, agent or None, search)
        return exports.cost_records(session, scope, group_by)

    filename = f"llmobserve-{dataset}-{datetime.now(UTC).date().isoformat()}.{file_format}"
    body = exports.stream(lambda: session_scope(engine), produce, file_format, fields)
    first = await run_in_threadpool(next, body)  # runs the query: its errors are still a JSON reply
    return StreamingResponse(itertools.chain([first], body), media_type=MEDIA_TYPES[file_format],
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})
