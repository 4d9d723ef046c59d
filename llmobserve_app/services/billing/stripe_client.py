"""The hosted mode's Stripe configuration and the real ``stripe`` client built from it.

``api_base`` (``STRIPE_API_BASE``) points the client at another server: tests run a fake Stripe on loopback.
stripe-python 16 takes it as ``StripeClient(base_addresses={"api": ...})``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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


STRIPE_PAGE_ORIGINS = ("https://checkout.stripe.com", "https://billing.stripe.com")  # Checkout, customer portal


def stripe_page_origins(config: StripeConfig) -> tuple[str, ...]:
    """Where Upgrade and Manage billing send the browser: Stripe's pages, or (``STRIPE_API_BASE`` set) that
    server, which then serves them too (the tests' fake Stripe)."""
    if config.api_base.rstrip("/") == DEFAULT_API_BASE:
        return STRIPE_PAGE_ORIGINS
    return (*STRIPE_PAGE_ORIGINS, config.api_base.rstrip("/"))


def make_client(config: StripeConfig) -> stripe.StripeClient:
    import stripe  # here, not at import: the settings module imports this one for StripeConfig

    return stripe.StripeClient(config.secret_key, base_addresses={"api": config.api_base.rstrip("/")},
                               max_network_retries=NETWORK_RETRIES)
