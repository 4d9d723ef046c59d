"""The hosted mode's Stripe configuration and the real ``stripe`` client built from it.

``api_base`` (``STRIPE_API_BASE``) points the client at another server: tests run a fake Stripe on loopback.
stripe-python 16 takes it as ``StripeClient(base_addresses={"api": ...})``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import stripe

DEFAULT_API_BASE = "https://api.stripe.com"
NETWORK_RETRIES = 2  # Stripe's idempotency keys make POST retries safe


@dataclass(frozen=True)
class StripeConfig:
    secret_key: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    price_id: str
    public_url: str  # API_URL: where Checkout and the portal send the browser back
    api_base: str = DEFAULT_API_BASE


def make_client(config: StripeConfig) -> stripe.StripeClient:
    return stripe.StripeClient(config.secret_key, base_addresses={"api": config.api_base.rstrip("/")},
                               max_network_retries=NETWORK_RETRIES)
