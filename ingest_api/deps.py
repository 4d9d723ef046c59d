"""What every route of the API shares: the database engine, the tenant of an API key, the signed-in user of
an export, and the one error shape ``{"error": <code>, "detail": <text>}`` with its handlers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from email.utils import formatdate
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from ingest_api.schemas import ApiError
from llmobserve_app.db import get_engine, session_scope
from llmobserve_app.services import accounts
from llmobserve_app.services.api_keys import (
    recently_verified_tenant,
    remember_verified_tenant,
    revocations,
    tenant_for_key,
)
from llmobserve_app.settings import get_settings

logger = logging.getLogger(__name__)


class ApiProblem(Exception):
    """Any error of this API: rendered as ``{"error": code, "detail": detail}`` with ``status_code``."""

    def __init__(self, status_code: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status_code, self.code, self.detail, self.headers = status_code, code, detail, headers or {}


def json_reply(status_code: int, content: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON reply with a Date header: the SDK compares it with its own clock."""
    return JSONResponse(content, status_code=status_code,
                        headers={"Date": formatdate(usegmt=True), **(headers or {})})


def error_reply(status_code: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return json_reply(status_code, {"error": code, "detail": detail}, headers)


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ApiError, "description": "Missing, unknown or revoked API key."},
    422: {"model": ApiError, "description": "A parameter or the body is invalid (the detail names it)."},
    500: {"model": ApiError, "description": "Unexpected server error (logged; nothing is leaked)."},
}

# Status codes FastAPI and Starlette raise themselves, as error codes.
_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "body_too_large", 415: "unsupported_media_type"}


async def _problem(_request: Request, problem: Exception) -> JSONResponse:
    assert isinstance(problem, ApiProblem)
    return error_reply(problem.status_code, problem.code, problem.detail, problem.headers)


async def _http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    return error_reply(error.status_code, _HTTP_CODES.get(error.status_code, "http_error"), str(error.detail),
                       dict(error.headers or {}))


def describe_validation(errors: Any) -> str:
    """``query.customer_id: String should have at most 200 characters; ...`` (no input values echoed)."""
    return "; ".join(".".join(str(part) for part in item.get("loc", ())) + f": {item.get('msg', 'invalid')}"
                     for item in errors) or "invalid request"


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return error_reply(422, "invalid_request", describe_validation(error.errors()))


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return error_reply(500, "internal_error", "unexpected server error; it has been logged")


def install_error_handlers(api: FastAPI) -> None:
    """Every error of the API in one shape, ``{"error", "detail"}``: our own problems, request validation,
    HTTP errors (404, 405, ...) and anything unexpected (500, logged, no traceback or message leaked)."""
    api.add_exception_handler(ApiProblem, _problem)
    api.add_exception_handler(RequestValidationError, _validation_error)
    api.add_exception_handler(StarletteHTTPException, _http_error)
    api.add_exception_handler(Exception, _unexpected)


def no_nul_in_query(request: Request) -> None:
    """422 for a query parameter holding a NUL character: PostgreSQL text cannot, so it failed deep in a query
    (SQLite would take it); refused the same on both."""
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            name = name.replace("\x00", "")
            raise ApiProblem(422, "invalid_request", f"query.{name}: must not contain NUL characters")


def db_engine(request: Request) -> sa.Engine:
    """The engine of the app's database (``app.state.database_url``; None means the settings' URL)."""
    return get_engine(request.app.state.database_url)


EngineDep = Annotated[sa.Engine, Depends(db_engine)]


def app_clock(request: Request) -> Callable[[], datetime]:
    """The app's clock (``create_ingest_app(clock=...)``; the real UTC time unless a test passes its own)."""
    return request.app.state.clock


ClockDep = Annotated[Callable[[], datetime], Depends(app_clock)]
_bearer = HTTPBearer(auto_error=False, bearerFormat="llmo_sk_...", description="An API key of your account.")
_session_cookie = APIKeyCookie(name=accounts.SESSION_COOKIE, auto_error=False,
                               description="The session cookie of a signed-in user.")


def _verify_key(engine: sa.Engine, token: str) -> int | None:
    before = revocations()
    with session_scope(engine) as session:
        tenant_id = tenant_for_key(session, token)
    if tenant_id is not None:
        remember_verified_tenant(token, tenant_id, before)
    return tenant_id


async def require_tenant(
    engine: EngineDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> int:
    """The tenant of the request's API key (``Authorization: Bearer llmo_sk_...``), else 401."""
    if credentials is None:
        raise ApiProblem(401, "missing_api_key", "Authorization header must be 'Bearer llmo_sk_...'",
                         {"WWW-Authenticate": "Bearer"})
    token = credentials.credentials
    tenant_id = recently_verified_tenant(token)
    if tenant_id is None:
        tenant_id = await run_in_threadpool(_verify_key, engine, token)
    if tenant_id is None:
        raise ApiProblem(401, "invalid_api_key", "API key is unknown or has been revoked",
                         {"WWW-Authenticate": "Bearer"})
    return tenant_id


TenantDep = Annotated[int, Depends(require_tenant)]


def user_of_session(engine: sa.Engine, token: str | None) -> int | None:
    """The signed-in user of a session token (the session cookie's value), else None."""
    with session_scope(engine) as session:
        user = accounts.user_for_token(session, token, secret=get_settings().jwt_secret)
        return user.id if user else None


async def require_signed_in(engine: EngineDep, token: Annotated[str | None, Depends(_session_cookie)]) -> int:
    """The signed-in user of the session cookie (exports from the pages), else 401."""
    user_id = await run_in_threadpool(user_of_session, engine, token)
    if user_id is None:
        raise ApiProblem(401, "not_signed_in", "sign in to download exports")
    return user_id


SignedInDep = Annotated[int, Depends(require_signed_in)]
