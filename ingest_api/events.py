"""The routes the SDK calls: POST /v1/events, GET /v1/caps/status, GET /v1/healthz.

Every route resolves the tenant itself from the API key; nothing in the body can name a tenant.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlmodel import Session

from ingest_api.batches import BatchWriter
from ingest_api.body import BodyError, read_body
from ingest_api.deps import ERRORS, ApiProblem, ClockDep, EngineDep, TenantDep, json_reply
from ingest_api.schemas import ApiError, CapsStatus, IngestResponse, ingest_request_schema
from ingest_api.writer_process import IngestWriteError
from llmobserve_app import routes
from llmobserve_app.services.caps import checks as caps_checks
from llmobserve_app.settings import get_settings

router = APIRouter()
logger = logging.getLogger(__name__)


class LastBlocked:
    """The blocked list last computed per (database, tenant): the answer when an evaluation fails. Request
    threads share it, so every read and write holds the lock; only tenants that had a block are kept, at most
    ``size`` of them (emptied when full: an entry is only a fallback)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._lists: dict[tuple[str, int], list[dict[str, Any]]] = {}

    def get(self, key: tuple[str, int]) -> list[dict[str, Any]]:
        with self._lock:
            return self._lists.get(key, [])

    def remember(self, key: tuple[str, int], blocked: list[dict[str, Any]]) -> None:
        with self._lock:
            if not blocked:
                self._lists.pop(key, None)
                return
            if key not in self._lists and len(self._lists) >= self.size:
                self._lists.clear()
            self._lists[key] = blocked


_last_blocked = LastBlocked()

_EVENT_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    413: {"model": ApiError, "description": "Body (or its gunzipped form) over the limit, or too many events."},
    415: {"model": ApiError, "description": "Content-Encoding other than gzip."},
    503: {"model": ApiError, "description": "The batch was not stored (write_failed): send it again."},
}


def _blocked_after_batch(engine: sa.Engine, tenant_id: int, rows: list[tuple[Any, ...]],
                         clock: Callable[[], datetime]) -> list[dict[str, Any]]:
    """The tenant's blocked scopes once the batch is stored (its caps re-evaluated, alerts fired). The batch
    IS stored: a failed evaluation is logged and answered with the last list this process computed (the
    catch-up job fires what it missed), never with an error the SDK would retry."""
    key = (str(engine.url), tenant_id)
    try:
        blocked = caps_checks.after_batch(engine, tenant_id, rows, clock()).blocked
    except Exception:  # the batch is stored whatever happens here: never an error the SDK would retry
        logger.exception("caps evaluation failed after a stored batch of tenant %s", tenant_id)
        return _last_blocked.get(key)
    _last_blocked.remember(key, blocked)
    return blocked


async def _ingest(writer: BatchWriter, engine: sa.Engine, tenant_id: int, raw: bytes,
                  clock: Callable[[], datetime]) -> dict[str, Any]:
    try:
        stored = await writer.ingest(tenant_id, raw, get_settings().ingest_max_events)
    except BodyError as error:
        raise ApiProblem(error.status_code, error.code, error.detail) from None
    except IngestWriteError as error:  # nothing of the batch was stored: the SDK sends it again later
        raise ApiProblem(503, "write_failed", f"the batch was not stored, retry it: {error}",
                         {"Retry-After": "1"}) from None
    result = stored.result
    blocked = await run_in_threadpool(_blocked_after_batch, engine, tenant_id, stored.rows, clock)
    return {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": [{"index": r.index, "error": r.error} for r in result.rejected],
        "blocked": blocked,
    }


@router.post(
    routes.API_EVENTS,
    response_model=IngestResponse,
    responses=_EVENT_ERRORS,
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": ingest_request_schema()}}}},
    summary="Send a batch of events (idempotent on span_id)",
)
async def post_events(request: Request, tenant_id: TenantDep, engine: EngineDep, clock: ClockDep) -> JSONResponse:
    """Each event is validated on its own: bad ones are listed in ``rejected``, the others stored."""
    try:
        raw = await read_body(request, get_settings().ingest_max_body_bytes)
    except BodyError as error:
        raise ApiProblem(error.status_code, error.code, error.detail) from None
    return json_reply(200, await _ingest(request.app.state.batch_writer, engine, tenant_id, raw, clock))


@router.get(routes.API_CAPS_STATUS, response_model=CapsStatus, responses=ERRORS,
            summary="Scopes currently blocked by spending caps")
async def caps_status(tenant_id: TenantDep, engine: EngineDep, clock: ClockDep) -> JSONResponse:
    """The scopes the tenant's ``block`` caps block now, each ``until`` the end of its period: the same list
    every ``/v1/events`` reply carries (the SDK polls this when it has nothing to send)."""
    blocked = await run_in_threadpool(caps_checks.current_blocks, engine, tenant_id, clock())
    return json_reply(200, {"blocked": blocked})


@router.get(routes.API_HEALTHZ, summary="Liveness and database check")
async def healthz(engine: EngineDep) -> JSONResponse:
    def check() -> bool:
        try:
            with Session(engine) as session:
                session.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:
            return False

    ok = await run_in_threadpool(check)
    return json_reply(200 if ok else 503, {"status": "ok" if ok else "unavailable",
                                           "database": "ok" if ok else "unreachable"})
