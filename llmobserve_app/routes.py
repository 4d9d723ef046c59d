"""Route constants: one place that names every page and API path."""

from urllib.parse import urlsplit

LOGIN = "/login"
SIGNUP = "/signup"
ONBOARDING = "/onboarding"
DASHBOARD = "/"
SETTINGS = "/settings"
SETTINGS_PRICES = "/settings/prices"
CUSTOMERS = "/customers"
CUSTOMER_DETAIL = "/customers/[customer]"
AGENTS = "/agents"
RUNS = "/runs"
RUN_DETAIL = "/runs/[run]"
LLMS = "/llms"
INFRASTRUCTURE = "/infrastructure"
COSTS = "/costs"
INSIGHTS = "/insights"
DOCS = "/docs"
SUBSCRIPTION = "/settings/subscription"
CAPS = "/settings/caps"
SUBSCRIBE = "/onboarding/subscribe"  # hosted mode: the prompt to subscribe after onboarding
PRICING = "/pricing"

PUBLIC_PAGES = frozenset({LOGIN, SIGNUP, DOCS, PRICING})  # and / for a visitor: the landing page

API_EVENTS = "/v1/events"
API_HEALTHZ = "/v1/healthz"
API_CAPS_STATUS = "/v1/caps/status"
API_CAPS = "/v1/caps"
API_CAP = "/v1/caps/{cap_id:int}"
API_CAP_ALERTS = "/v1/caps/alerts"
API_USAGE = "/v1/usage"
API_PRICES = "/v1/prices"
API_PRICE = "/v1/prices/{price_id}"
API_PRICES_RECALCULATE = "/v1/prices/recalculate"
API_PRICES_RECALCULATION = "/v1/prices/recalculations/{job_id}"
API_EXPORT = "/api/export/{dataset}.{file_format}"
AUTH_LOGIN = "/api/auth/login"
AUTH_SIGNUP = "/api/auth/signup"
AUTH_LOGOUT = "/api/auth/logout"
API_STRIPE_WEBHOOK = "/api/stripe/webhook"
BILLING_CHECKOUT = "/api/billing/checkout"
BILLING_PORTAL = "/api/billing/portal"
BILLING_PROMO = "/api/billing/promo"
API_DOCS = "/api/docs"
API_OPENAPI = "/api/openapi.json"


def safe_next_path(candidate: str | None, default: str = DASHBOARD) -> str:
    """``candidate`` when it is a path of this site, else ``default``: a ``?next=`` is never an open redirect."""
    if not candidate or not candidate.startswith("/") or candidate.startswith(("//", "/\\")):
        return default
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc or "\\" in candidate or any(ord(char) < 32 for char in candidate):
        return default
    return candidate
