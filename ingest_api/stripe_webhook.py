"""``POST /api/stripe/webhook``: Stripe's events, signature-checked on the raw body (services/billing/webhooks.py).

400 for a missing or bad signature (nothing changed); 200 for a handled, replayed, ignored or unknown-account event;
502 when Stripe could not be asked for the subscription's state (Stripe retries the event later).
"""

from __future__ import annotations

import logging

import stripe
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ingest_api.billing_deps import billing_disabled, stripe_client, stripe_config
from ingest_api.deps import db_engine, error_reply, json_reply
from llmobserve_app import routes
from llmobserve_app.services.billing.webhooks import InvalidWebhook, handle_event, verified_event

router = APIRouter(include_in_schema=False)
logger = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024


@router.post(routes.API_STRIPE_WEBHOOK)
async def stripe_webhook(request: Request) -> JSONResponse:
    config = stripe_config(request)
    if config is None:
        return billing_disabled()
    payload = await request.body()
    if len(payload) > MAX_BODY_BYTES:
        return error_reply(413, "body_too_large", f"a webhook body is at most {MAX_BODY_BYTES} bytes")
    try:
        event = verified_event(payload, request.headers.get("stripe-signature"), config.webhook_secret)
    except InvalidWebhook as error:
        return error_reply(400, "invalid_signature", str(error))
    try:
        outcome = await run_in_threadpool(handle_event, db_engine(request), stripe_client(config), event)
    except stripe.StripeError:
        logger.exception("Stripe event %s: could not read the subscription from Stripe", event.get("id"))
        return error_reply(502, "stripe_unavailable", "could not read the subscription from Stripe; retry later")
    return json_reply(200, {"received": True, "outcome": str(outcome)})
