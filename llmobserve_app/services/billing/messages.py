"""What the billing forms tell the user, by problem code: the server sends the browser back to the
subscription page with ``?error=<code>`` and the page shows the text (nothing typed is reflected)."""

from __future__ import annotations

from llmobserve_app.services.errors import UserFacingError

MESSAGES = {
    "promo_empty": "Enter a promo code.",
    "promo_unknown": "This promo code is not valid.",
    "promo_expired": "This promo code has expired.",
    "promo_exhausted": "This promo code has been fully redeemed.",
    "promo_reused": "You have already redeemed this promo code.",
    "already_pro": "Your account already has Pro.",
    "no_customer": "There is no billing account to manage yet: choose Upgrade first.",
    "stripe_unavailable": "Stripe could not be reached. Nothing was charged; try again in a minute.",
}


def billing_error(code: str, field: str | None = None, message: str | None = None) -> UserFacingError:
    return UserFacingError(message or MESSAGES[code], field, code)
