"""The subscription page's form posts: Upgrade (303 to Stripe Checkout), Manage billing (303 to the Stripe
customer portal) and a promo code (303 back with a result code). The account is the session cookie's, never one
named by the form; posts from other sites are refused, as for sign-in (form_posts.py)."""

from __future__ import annotations

from urllib.parse import urlencode

import stripe
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from ingest_api.billing_deps import billing_disabled, promo_codes, stripe_client, stripe_config
from ingest_api.deps import db_engine, user_of_session
from ingest_api.form_posts import cross_origin_refusal, read_form, same_origin
from llmobserve_app import routes
from llmobserve_app.db import session_scope
from llmobserve_app.services.accounts import SESSION_COOKIE
from llmobserve_app.services.billing import promo_codes as promos
from llmobserve_app.services.billing.checkout import checkout_url
from llmobserve_app.services.billing.portal import portal_url
from llmobserve_app.services.errors import UserFacingError

router = APIRouter(include_in_schema=False)


def _back(**query: str) -> RedirectResponse:
    return RedirectResponse(f"{routes.SUBSCRIPTION}?{urlencode(query)}", status_code=303)


async def _signed_in_account(request: Request) -> int | None:
    return await run_in_threadpool(user_of_session, db_engine(request), request.cookies.get(SESSION_COOKIE))


async def _guard(request: Request) -> Response | int:
    """The signed-in account of a same-site form post of a hosted installation, else the reply to give."""
    if not same_origin(request):
        return cross_origin_refusal()
    if stripe_config(request) is None:
        return billing_disabled()
    user_id = await _signed_in_account(request)
    if user_id is None:
        return RedirectResponse(f"{routes.LOGIN}?{urlencode({'next': routes.SUBSCRIPTION})}", status_code=303)
    return user_id


async def _to_stripe(request: Request, make_url) -> Response:
    guard = await _guard(request)
    if not isinstance(guard, int):
        return guard
    config = stripe_config(request)
    try:
        url = await run_in_threadpool(make_url, db_engine(request), stripe_client(config), config, guard)
    except UserFacingError as error:
        return _back(error=error.code or "billing")
    except stripe.StripeError:
        return _back(error="stripe_unavailable")
    return RedirectResponse(url, status_code=303)


@router.post(routes.BILLING_CHECKOUT)
async def upgrade(request: Request) -> Response:
    return await _to_stripe(request, checkout_url)


@router.post(routes.BILLING_PORTAL)
async def manage_billing(request: Request) -> Response:
    return await _to_stripe(request, portal_url)


def _redeem(engine, codes: dict[str, promos.PromoCode], user_id: int, entered: str) -> None:
    with session_scope(engine) as session:
        promos.redeem(session, codes, user_id, entered)


@router.post(routes.BILLING_PROMO)
async def redeem_promo_code(request: Request) -> Response:
    guard = await _guard(request)
    if not isinstance(guard, int):
        return guard
    form = await read_form(request)
    try:
        await run_in_threadpool(_redeem, db_engine(request), promo_codes(request), guard, form.get("code", ""))
    except UserFacingError as error:
        return _back(error=error.code or "promo_unknown")
    return _back(promo="redeemed")
