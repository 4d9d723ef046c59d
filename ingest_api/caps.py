"""Spending caps with the API key: list, create, change and delete caps, and read their alert history.

``GET /v1/caps/status`` (what the SDK polls) lives in ``events.py`` with the other routes the SDK calls.
A cap id of another tenant is a 404, exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from ingest_api.deps import ERRORS, ApiProblem, ClockDep, EngineDep, TenantDep, json_reply
from ingest_api.schemas import ApiError, CapAlertList, CapAlertOut, CapChanges, CapCreate, CapList, CapOut
from llmobserve_app import routes
from llmobserve_app.db import session_scope
from llmobserve_app.models import Cap
from llmobserve_app.services.caps import changes, crud
from llmobserve_app.services.caps.overview import CapOverview, overviews
from llmobserve_app.services.errors import UserFacingError
from llmobserve_app.services.money import usd_plain

router = APIRouter(tags=["caps"])
# Cap ids are INTEGER columns: a larger id cannot exist (PostgreSQL would refuse to compare with it).
MAX_CAP_ID = 2**31 - 1
CapId = Annotated[int, Path(ge=1, le=MAX_CAP_ID, description="The id of one of your caps.")]
_NOT_FOUND = {404: {"model": ApiError, "description": "No cap with this id for your account."}}



def _cap_out(view: CapOverview) -> dict[str, Any]:
    cap = view.cap
    return CapOut(
        id=cap.id, name=cap.name, scope=cap.scope, value=cap.value, period=cap.period,
        limit_usd=usd_plain(cap.limit_nanos), threshold_pct=cap.threshold_pct, action=cap.action,
        notify={"email": cap.notify_email, "slack_webhook_url": cap.slack_webhook_url,
                "webhook_url": cap.webhook_url},
        enabled=cap.enabled, spend_usd=usd_plain(view.spend_nanos), percent=round(view.percent, 2), status=view.status,
        unpriced_calls=view.unpriced_calls, scope_value=view.scope_value, period_start=view.period_start,
        period_end=view.period_end, projected_at=view.projected_at, created_at=cap.created_at,
        updated_at=cap.updated_at,
    ).model_dump(mode="json")


def _fields(body: CapCreate | CapChanges) -> dict[str, Any]:
    """The body as ``crud`` fields (only those given, for a change)."""
    given = body.model_dump(exclude_unset=True)
    notify = given.pop("notify", None) or {}
    if "limit_usd" in given:
        given["limit_usd"] = body.limit_usd
    renamed = {"email": "notify_email", "slack_webhook_url": "slack_webhook_url", "webhook_url": "webhook_url"}
    given.update({renamed[key]: value for key, value in notify.items()})
    if isinstance(body, CapCreate) and "notify_email" not in given:
        given["notify_email"] = body.notify.email
    if given.get("name") is None:
        given.pop("name", None)
    return given


def _change(engine: sa.Engine, now: datetime, work: Callable[[Any], Cap]) -> dict[str, Any]:
    """``changes.save_and_check``, its errors as API problems."""
    try:
        return _cap_out(changes.save_and_check(engine, now, work))
    except UserFacingError as error:
        raise ApiProblem(422, "invalid_cap", f"{error.field}: {error.message}") from None
    except crud.CapNotFound:
        raise ApiProblem(404, "not_found", "no cap with this id") from None


@router.get(routes.API_CAPS, response_model=CapList, responses=ERRORS, summary="Your caps with spend and status")
async def list_caps(engine: EngineDep, tenant_id: TenantDep, clock: ClockDep) -> JSONResponse:
    def fetch() -> dict[str, Any]:
        with session_scope(engine) as session:
            return {"caps": [_cap_out(view) for view in overviews(session, crud.list_caps(session, tenant_id),
                                                                   clock())]}

    return json_reply(200, await run_in_threadpool(fetch))


@router.post(routes.API_CAPS, response_model=CapOut, status_code=201, responses=ERRORS, summary="Create a cap")
async def create_cap(body: CapCreate, engine: EngineDep, tenant_id: TenantDep, clock: ClockDep) -> JSONResponse:
    fields = _fields(body)
    created = await run_in_threadpool(_change, engine, clock(),
                                      lambda session: crud.create_cap(session, tenant_id, **fields))
    return json_reply(201, created)


@router.get(routes.API_CAP_ALERTS, response_model=CapAlertList, responses=ERRORS,
            summary="Alert history, newest first")
async def alert_history(engine: EngineDep, tenant_id: TenantDep,
                        cap_id: Annotated[int | None, Query(ge=1, le=MAX_CAP_ID, description="Only this cap's alerts")]
                        = None,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> JSONResponse:
    def fetch() -> dict[str, Any]:
        with session_scope(engine) as session:
            alerts = crud.alert_history(session, tenant_id, cap_id=cap_id, limit=limit)
            return {"alerts": [CapAlertOut(
                id=alert.id, cap_id=alert.cap_id, level=alert.level, period_start=alert.period_start,
                scope_value=alert.scope_value, spend_usd=usd_plain(alert.spend_nanos),
                limit_usd=usd_plain(alert.limit_nanos),
                created_at=alert.created_at).model_dump(mode="json") for alert in alerts]}

    return json_reply(200, await run_in_threadpool(fetch))


@router.patch(routes.API_CAP, response_model=CapOut, responses={**ERRORS, **_NOT_FOUND}, summary="Change a cap")
async def update_cap(cap_id: CapId, body: CapChanges, engine: EngineDep, tenant_id: TenantDep,
                     clock: ClockDep) -> JSONResponse:
    fields = _fields(body)
    changed = await run_in_threadpool(_change, engine, clock(),
                                      lambda session: crud.update_cap(session, tenant_id, cap_id, **fields))
    return json_reply(200, changed)


@router.delete(routes.API_CAP, status_code=204, responses={**ERRORS, **_NOT_FOUND},
               summary="Delete a cap (and its alert history)")
async def delete_cap(cap_id: CapId, engine: EngineDep, tenant_id: TenantDep) -> JSONResponse:
    try:
        await run_in_threadpool(changes.delete, engine, tenant_id, cap_id)
    except crud.CapNotFound:
        raise ApiProblem(404, "not_found", "no cap with this id") from None
    return Response(status_code=204)
