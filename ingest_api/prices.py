"""This account's custom prices (API-key authenticated): GET /v1/prices, PUT /v1/prices, DELETE /v1/prices/{id}.

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
from llmobserve_app.services import custom_prices
from llmobserve_app.services.custom_prices import InvalidPrice

router = APIRouter(tags=["prices"])
_USD = r"^\s*\d+(\.\d{1,9})?\s*$"  # documentation and fuzzing; ``custom_prices.parse_usd`` decides
_USD_HELP = "USD as a decimal string >= 0, at most 9 decimals"
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ApiError, "description": "No such price in this account."}}


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
    custom_prices.forget(tenant_id)  # committed now: this process prices with it from the next batch on
    return json_reply(200, saved)


@router.delete(routes.API_PRICE, status_code=204, responses={**ERRORS, **_NOT_FOUND},
               summary="Delete one of this account's custom prices")
async def delete_price(price_id: PriceIdPath, tenant_id: TenantDep, engine: EngineDep) -> Response:
    def delete() -> bool:
        with session_scope(engine) as session:
            return custom_prices.delete_price(session, tenant_id, price_id)

    if not await run_in_threadpool(delete):
        raise ApiProblem(404, "price_not_found", f"price_id: no price {price_id} in this account")
    custom_prices.forget(tenant_id)
    return Response(status_code=204)
