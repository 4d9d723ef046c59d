"""Browser downloads of runs and costs (CSV or JSON), authenticated by the signed-in session cookie."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from llmobserve_app import routes
from llmobserve_app.db import session_scope
from llmobserve_app.services import accounts, analytics, exports
from llmobserve_app.services.time_range import resolve_range

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def export_router(engine: Callable[[], sa.Engine]) -> APIRouter:
    router = APIRouter()

    def current_tenant(request: Request) -> int | None:
        with session_scope(engine()) as session:
            user = accounts.user_for_token(session, request.cookies.get(accounts.SESSION_COOKIE))
            return user.id if user else None

    @router.get(routes.API_EXPORT, summary="Download runs or costs for the signed-in user (CSV or JSON)")
    async def export(dataset: str, file_format: str, request: Request):  # noqa: ANN202
        if dataset not in ("runs", "costs") or file_format not in MEDIA_TYPES:
            return JSONResponse({"error": "not_found", "detail": "exports are runs|costs as .csv or .json"}, 404)
        tenant_id = await run_in_threadpool(current_tenant, request)
        if tenant_id is None:
            return JSONResponse({"error": "not_signed_in", "detail": "sign in to download exports"}, 401)
        query = request.query_params
        window = resolve_range(query.get("range"), query.get("from"), query.get("to"))
        scope = analytics.Scope(tenant_id, window.start, window.end, query.get("customer") or None)
        if dataset == "runs":
            agent, search = query.get("agent") or None, query.get("search", "")
            fields = exports.RUN_FIELDS

            def produce(session):  # noqa: ANN001, ANN202
                return exports.run_records(session, scope, agent, search)
        else:
            group_by = query.get("group_by", "provider")
            if group_by not in analytics.GROUP_BY:
                return JSONResponse({"error": "invalid_group_by",
                                     "detail": f"group_by must be one of {', '.join(analytics.GROUP_BY)}"}, 422)
            fields = exports.COST_FIELDS

            def produce(session):  # noqa: ANN001, ANN202
                return exports.cost_records(session, scope, group_by)

        filename = f"llmobserve-{dataset}-{datetime.now(UTC).date().isoformat()}.{file_format}"
        body = exports.stream(lambda: session_scope(engine()), produce, file_format, fields)
        return StreamingResponse(body, media_type=MEDIA_TYPES[file_format],
                                 headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    return router
