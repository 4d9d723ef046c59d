"""Browser sign-in: the forms of /login and /signup post here, and only the server ever sets the session cookie.

The cookie is HttpOnly (no script can read the session JWT), SameSite=Strict, and Secure over https. Pages never
hold the token in their State: the Reflex backend reads it from the cookie the browser sends when it opens the
websocket, which is why a successful sign-in answers with a full page load (303) rather than a client-side hop.
Form errors come back as a short code in the query string; the page maps it to a message (no text is reflected).
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from ingest_api.deps import db_engine
from ingest_api.form_posts import cross_origin_refusal, read_form, same_origin
from llmobserve_app import routes
from llmobserve_app.db import session_scope
from llmobserve_app.models import User
from llmobserve_app.services import accounts
from llmobserve_app.services.errors import UserFacingError
from llmobserve_app.services.rate_limit import LoginLimiter
from llmobserve_app.settings import get_settings

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def login_limiter() -> LoginLimiter:
    """This process's login limits (LOGIN_LIMIT_PER_*), counted in Redis when REDIS_URL is set."""
    settings = get_settings()
    return LoginLimiter(settings.login_limit_per_account, settings.login_limit_per_address, settings.redis_url)


def _cookie_is_secure(request: Request) -> bool:
    return request.url.scheme == "https" or get_settings().public_url.startswith("https://")


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        accounts.SESSION_COOKIE, token, max_age=get_settings().session_ttl_hours * 3600, path="/",
        httponly=True, samesite="strict", secure=_cookie_is_secure(request),
    )


def _back_to(page: str, code: str, next_path: str | None = None) -> RedirectResponse:
    query = {"error": code} | ({"next": next_path} if next_path and next_path != routes.DASHBOARD else {})
    return RedirectResponse(f"{page}?{urlencode(query)}", status_code=303)


def _signed_in(request: Request, token: str, destination: str) -> RedirectResponse:
    response = RedirectResponse(destination, status_code=303)
    set_session_cookie(response, request, token)
    return response


def _start_session(session: Session, user: User) -> str:
    settings = get_settings()
    return accounts.start_session(session, user, secret=settings.jwt_secret, ttl_hours=settings.session_ttl_hours)


def _login(engine: sa.Engine, email: str, password: str, address: str) -> str:
    with session_scope(engine) as session:
        return _start_session(session, accounts.authenticate(session, email, password, address, login_limiter()))


def _signup(engine: sa.Engine, email: str, password: str, name: str) -> str:
    with session_scope(engine) as session:
        return _start_session(session, accounts.signup(session, email, password, name))


def _logout(engine: sa.Engine, token: str | None) -> None:
    with session_scope(engine) as session:
        accounts.end_session(session, token, secret=get_settings().jwt_secret)


@router.post(routes.AUTH_LOGIN)
async def login(request: Request) -> Response:
    if not same_origin(request):
        return cross_origin_refusal()
    form = await read_form(request)
    next_path = routes.safe_next_path(form.get("next"))
    address = request.client.host if request.client else "unknown"
    try:
        token = await run_in_threadpool(_login, db_engine(request), form.get("email", ""), form.get("password", ""),
                                        address)
    except UserFacingError as error:
        return _back_to(routes.LOGIN, error.code or "invalid", next_path)
    return _signed_in(request, token, next_path)


@router.post(routes.AUTH_SIGNUP)
async def signup(request: Request) -> Response:
    if not same_origin(request):
        return cross_origin_refusal()
    form = await read_form(request)
    try:
        token = await run_in_threadpool(_signup, db_engine(request), form.get("email", ""), form.get("password", ""),
                                        form.get("name", ""))
    except UserFacingError as error:
        return _back_to(routes.SIGNUP, error.code or "invalid")
    return _signed_in(request, token, routes.ONBOARDING)


@router.post(routes.AUTH_LOGOUT)
async def logout(request: Request) -> Response:
    if not same_origin(request):
        return cross_origin_refusal()
    await run_in_threadpool(_logout, db_engine(request), request.cookies.get(accounts.SESSION_COOKIE))
    response = RedirectResponse(routes.LOGIN, status_code=303)
    response.delete_cookie(accounts.SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=_cookie_is_secure(request))
    return response
