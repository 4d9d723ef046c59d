"""The billing configuration of the API: from the settings, unless a test set ``app.state.stripe_config`` /
``app.state.promo_codes`` on the app it built. ``stripe_config`` is None on a self-hosted installation."""

from __future__ import annotations

from functools import lru_cache

import stripe
from fastapi import Request
from fastapi.responses import JSONResponse

from ingest_api.deps import error_reply
from llmobserve_app.services.billing.promo_code_list import PromoCode
from llmobserve_app.services.billing.stripe_client import StripeConfig, make_client
from llmobserve_app.settings import get_settings


def stripe_config(request: Request) -> StripeConfig | None:
    if hasattr(request.app.state, "stripe_config"):
        return request.app.state.stripe_config
    return get_settings().stripe_config()


def billing_disabled() -> JSONResponse:
    """The reply of every billing route on a self-hosted installation (no ``stripe_config``)."""
    return error_reply(404, "billing_disabled", "this installation is self-hosted: there is no billing")


def promo_codes(request: Request) -> dict[str, PromoCode]:
    if hasattr(request.app.state, "promo_codes"):
        return request.app.state.promo_codes
    return get_settings().promo_code_table()


@lru_cache(maxsize=4)
def stripe_client(config: StripeConfig) -> stripe.StripeClient:
    """One client (and its connection pool) per configuration."""
    return make_client(config)
