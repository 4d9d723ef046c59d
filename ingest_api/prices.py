"""This account's custom prices (API-key authenticated): GET /v1/prices, PUT /v1/prices, DELETE /v1/prices/{id},
and re-pricing past calls: POST /v1/prices/recalculate, GET /v1/prices/recalculations/{id}.

A custom price wins over the bundled one for this account's calls from its ``effective_from`` on (see
``services/custom_prices.py``). Prices are USD decimal strings (per million tokens, or per request) >= 0 with
at most nine decimals; "0" is a price (a self-hosted model). Another account's price id answers 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ingest_api.deps import ERRORS, ApiProblem, EngineDep, TenantDep, json_reply
from ingest_api.schemas import ApiError
from llmobserve_app import routes
from llmobserve_app.db import session_scope
from llmobserve_app.models import utcnow
from llmobserve_app.services import custom_prices, recalculation
from llmobserve_app.services.custom_prices import InvalidPrice
from llmobserve_app.services.errors import UserFacingError

router = APIRouter(tags=["prices"])
_USD = r"^\s*\d+(\.\d{1,9})?\s*$"  # documentation and fuzzing; ``custom_prices.parse_usd`` decides
_USD_HELP = "USD as a decimal string >= 0, at most 9 decimals"
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ApiError, "description": "No such id in this account."}}


class PriceIn(BaseModel):
    """A custom price. The one of the same provider, model and effective_from is replaced."""

    model_config = ConfigDict(extra="forbid")
    provider: str | None = Field(None, max_length=100, description="Provider as the SDK reports it "
                                 "(openai, azure, openai-compatible, ollama...); omit for any provider.")
    model: str = Field(max_length=200, description="Model name as your calls report it (case-insensitive).")
    input_per_mtok: str = Field(pattern=_USD, description=f"Per million input tokens: {_USD_HELP}.")
    output_per_mtok: str = Field(pattern=_USD, description=f"Per million output tokens: {_USD_HELP}.")
    cached_input_per_mtok: str | None = Field(None, pattern=_USD, description="Per million cache-read tokens "
                                              "(default: the input price); at most the input price.")
    reasoning_per_mtok: str | None = Field(None, pattern=_USD, description="Per million reasoning tokens "
                                           "(default: the output price).")
    per_request: str | None = Field(None, pattern=_USD, description=f"Per call: {_USD_HELP}.")
    effective_from: str | None = Field(None, description="ISO date or datetime (UTC unless it says otherwise): "
                                       "calls that start from then on; omit for all calls.",
                                       examples=["2026-12-01"])


class PriceOut(BaseModel):
    id: int
    provider: str | None
    model: str
    input_per_mtok: str
    output_per_mtok: str
    cached_input_per_mtok: str | None
    reasoning_per_mtok: str | None
    per_request: str | None
    effective_from: str | None
    created_at: str
    price_id: str = Field(description="What the price id of each cost this price produced ends with.")


class PriceList(BaseModel):
    prices: list[PriceOut]


PriceIdPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="The id of one of this account's prices.")]


@router.get(routes.API_PRICES, response_model=PriceList, responses=ERRORS, summary="This account's custom prices")
async def list_prices(tenant_id: TenantDep, engine: EngineDep) -> JSONResponse:
    def read() -> list[dict[str, Any]]:
        with session_scope(engine) as session:
            return [custom_prices.as_json(p) for p in custom_prices.list_prices(session, tenant_id)]

    return json_reply(200, {"prices": await run_in_threadpool(read)})


@router.put(routes.API_PRICES, response_model=PriceOut, responses=ERRORS,
            summary="Save a custom price (replaces the one of the same provider, model and effective_from)")
async def put_price(body: PriceIn, tenant_id: TenantDep, engine: EngineDep) -> JSONResponse:
    try:
        price = custom_prices.parse_price(body.model_dump())
    except InvalidPrice as error:
        raise ApiProblem(422, "invalid_price", f"body.{error.field}: {error.message}") from None

    def save() -> dict[str, Any]:
        with session_scope(engine) as session:
            return custom_prices.as_json(custom_prices.put_price(session, tenant_id, price))

    saved = await run_in_threadpool(save)
    return json_reply(200, saved)


@router.delete(routes.API_PRICE, status_code=204, responses={**ERRORS, **_NOT_FOUND},
               summary="Delete one of this account's custom prices")
async def delete_price(price_id: PriceIdPath, tenant_id: TenantDep, engine: EngineDep) -> Response:
    def delete() -> bool:
        with session_scope(engine) as session:
            return custom_prices.delete_price(session, tenant_id, price_id)

    if not await run_in_threadpool(delete):
        raise ApiProblem(404, "price_not_found", f"price_id: no price {price_id} in this account")
    return Response(status_code=204)


class RecalculateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: str = Field(alias="from", description="ISO date or datetime (UTC unless it says otherwise): the first "
                       "call start re-priced.", examples=["2026-11-01"])
    to: str | None = Field(None, description="ISO date or datetime, exclusive (default: now).")


class RecalculationOut(BaseModel):
    id: int
    status: str = Field(description="running, done or failed")
    from_: str = Field(alias="from")
    to: str
    events_seen: int
    calls_changed: int
    cost_before_usd: str
    cost_after_usd: str
    unpriced_before: int
    unpriced_after: int
    created_at: str
    finished_at: str | None
    error: str | None


JobIdPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="The id of one of this account's recalculations.")]


@router.post(routes.API_PRICES_RECALCULATE, status_code=202, response_model=RecalculationOut,
             responses={**ERRORS, 409: {"model": ApiError,
                                        "description": "A recalculation of this account is already running."}},
             summary="Re-price this account's calls of a window with the prices in force now (in the background)")
async def recalculate(body: RecalculateIn, tenant_id: TenantDep, engine: EngineDep) -> JSONResponse:
    """Rollups and per-customer totals stay exact; running it again changes nothing. Follow it with
    GET /v1/prices/recalculations/{id}."""
    try:
        start = custom_prices.parse_when(body.from_, "from")
        end = custom_prices.parse_when(body.to, "to") or utcnow()
    except InvalidPrice as error:
        raise ApiProblem(422, "invalid_date", f"body.{error.field}: {error.message}") from None
    if start is None:
        raise ApiProblem(422, "invalid_date", "body.from: is required")

    def create() -> dict[str, Any]:
        with session_scope(engine) as session:
            return recalculation.as_json(recalculation.start(session, tenant_id, start, end))

    try:
        job = await run_in_threadpool(create)
    except recalculation.RecalculationRunning as error:
        raise ApiProblem(409, "recalculation_running", error.message) from None
    except UserFacingError as error:
        raise ApiProblem(422, "invalid_range", f"body.{error.field}: {error.message}") from None
    await run_in_threadpool(recalculation.run_in_background, engine, job["id"])  # a lease query and a fork
    return json_reply(202, job)


@router.get(routes.API_PRICES_RECALCULATION, response_model=RecalculationOut, responses={**ERRORS, **_NOT_FOUND},
            summary="Progress and result of one recalculation")
async def recalculation_status(job_id: JobIdPath, tenant_id: TenantDep, engine: EngineDep) -> JSONResponse:
    def read() -> dict[str, Any] | None:
        with session_scope(engine) as session:
            job = recalculation.get(session, tenant_id, job_id)
            return None if job is None else recalculation.as_json(job)

    job = await run_in_threadpool(read)
    if job is None:
        raise ApiProblem(404, "recalculation_not_found", f"job_id: no recalculation {job_id} in this account")
    return json_reply(200, job)
