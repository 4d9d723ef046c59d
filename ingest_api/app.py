"""FastAPI routes for the SDK: POST /v1/events, GET /v1/caps/status, GET /v1/healthz.

Every route resolves the tenant itself from the API key; nothing in the body can name a tenant.
"""

from __future__ import annotations

from email.utils import formatdate
from typing import Any

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlmodel import Session

from ingest_api.batches import BatchWriter, freeze_startup_heap
from ingest_api.body import BodyError, read_body
from ingest_api.browser_auth import router as browser_auth_router
from ingest_api.exports import export_router
from ingest_api.schemas import ApiError, CapsStatus, IngestRequest, IngestResponse
from ingest_api.usage import usage_router
from ingest_api.writer_process import IngestWriteError
from llmobserve_app import routes
from llmobserve_app.db import get_engine, session_scope
from llmobserve_app.services.api_keys import (
    recently_verified_tenant,
    remember_verified_tenant,
    revocations,
    tenant_for_key,
)
from llmobserve_app.settings import get_settings


class ApiProblem(Exception):
    def __init__(self, status_code: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status_code, self.code, self.detail, self.headers = status_code, code, detail, headers or {}


def _json(status_code: int, content: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON reply with a Date header: the SDK compares it with its own clock."""
    return JSONResponse(content, status_code=status_code,
                        headers={"Date": formatdate(usegmt=True), **(headers or {})})


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ApiError, "description": "Missing, unknown or revoked API key."},
    413: {"model": ApiError, "description": "Body (or its gunzipped form) over the limit."},
    422: {"model": ApiError, "description": "Body is not JSON, or not {\"events\": [...]}."},
}


def create_ingest_app(database_url: str | None = None) -> FastAPI:
    """Build the API. ``database_url`` defaults to the settings' (tests pass their own)."""
    api = FastAPI(
        title="LLM Observe ingest API",
        version="1",
        docs_url=routes.API_DOCS,
        redoc_url=None,
        openapi_url=routes.API_OPENAPI,
    )

    api.state.database_url = database_url  # read by routers that find the engine through the request

    def engine() -> sa.Engine:
        return get_engine(database_url)

    @api.exception_handler(ApiProblem)
    async def _problem(_request: Request, problem: ApiProblem) -> JSONResponse:
        return _json(problem.status_code, {"error": problem.code, "detail": problem.detail}, problem.headers)

    def verify_key(token: str) -> int | None:
        before = revocations()
        with session_scope(engine()) as session:
            tenant_id = tenant_for_key(session, token)
        if tenant_id is not None:
            remember_verified_tenant(token, tenant_id, before)
        return tenant_id

    async def require_tenant(request: Request) -> int:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiProblem(401, "missing_api_key", "Authorization header must be 'Bearer llmo_sk_...'",
                             {"WWW-Authenticate": "Bearer"})
        tenant_id = recently_verified_tenant(token)
        if tenant_id is None:
            tenant_id = await run_in_threadpool(verify_key, token)
        if tenant_id is None:
            raise ApiProblem(401, "invalid_api_key", "API key is unknown or has been revoked",
                             {"WWW-Authenticate": "Bearer"})
        return tenant_id

    writer = BatchWriter(engine)

    async def _ingest(tenant_id: int, raw: bytes) -> dict[str, Any]:
        try:
            result = await writer.ingest(tenant_id, raw, get_settings().ingest_max_events)
        except BodyError as error:
            raise ApiProblem(error.status_code, error.code, error.detail) from None
        except IngestWriteError as error:  # nothing of the batch was stored: the SDK sends it again later
            raise ApiProblem(503, "write_failed", f"the batch was not stored, retry it: {error}",
                             {"Retry-After": "1"}) from None
        return {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "rejected": [{"index": r.index, "error": r.error} for r in result.rejected],
            "blocked": [],
        }

    @api.post(
        routes.API_EVENTS,
        response_model=IngestResponse,
        responses=_ERRORS,
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/json": {"schema": IngestRequest.model_json_schema()}}}},
        summary="Send a batch of events (idempotent on span_id)",
    )
    async def post_events(request: Request, tenant_id: int = Depends(require_tenant)) -> JSONResponse:
        try:
            raw = await read_body(request, get_settings().ingest_max_body_bytes)
        except BodyError as error:
            raise ApiProblem(error.status_code, error.code, error.detail) from None
        return _json(200, await _ingest(tenant_id, raw))

    @api.get(routes.API_CAPS_STATUS, response_model=CapsStatus, responses=_ERRORS,
             summary="Scopes currently blocked by spending caps")
    async def caps_status(tenant_id: int = Depends(require_tenant)) -> JSONResponse:
        # Spending caps are not built yet: nothing can be blocked, so the list is truthfully empty.
        del tenant_id
        return _json(200, {"blocked": []})

    @api.get(routes.API_HEALTHZ, summary="Liveness and database check")
    async def healthz() -> JSONResponse:
        def check() -> bool:
            try:
                with Session(engine()) as session:
                    session.execute(sa.text("SELECT 1"))
                return True
            except sa.exc.SQLAlchemyError:
                return False

        ok = await run_in_threadpool(check)
        return _json(200 if ok else 503, {"status": "ok" if ok else "unavailable",
                                          "database": "ok" if ok else "unreachable"})

    api.include_router(usage_router(engine, require_tenant, ApiProblem), responses=_ERRORS)
    api.include_router(export_router(engine))
    api.include_router(browser_auth_router)
    freeze_startup_heap()
    return api
