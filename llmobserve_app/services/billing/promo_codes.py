"""Our own promo codes (``PROMO_CODES``): each gives Pro without payment, once per account.

``PROMO_CODES`` is a comma-separated list of ``CODE[:YYYY-MM-DD[:MAX]]``: the code (case-insensitive), the last
UTC day it can be redeemed, and how many accounts may redeem it, e.g. ``BETA,FREETEST:2026-12-31:100``.
Stripe's own promotion codes are separate: customers enter them inside Checkout.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, func, select

from llmobserve_app.models import PromoRedemption, utcnow
from llmobserve_app.services.billing.messages import billing_error
from llmobserve_app.services.billing.promo_code_list import PromoCode, normalize
from llmobserve_app.services.billing.subscriptions import ensure_row, save_plan_state

FIELD = "promo_code"


def _lock_code(session: Session, code: str) -> None:
    """Serialise redemptions of one code, so its maximum is never exceeded. SQLite: the redemption's INSERT
    already takes the database's write lock before the count is read."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": "promo:" + code})


def redeem(session: Session, codes: dict[str, PromoCode], user_id: int, entered: str,
           today: date | None = None) -> PromoCode:
    """Redeem ``entered`` for the account (in the caller's transaction), or UserFacingError saying why not."""
    code = normalize(entered)
    if not code:
        raise billing_error("promo_empty", FIELD)
    promo = codes.get(code)
    if promo is None:
        raise billing_error("promo_unknown", FIELD)
    today = today or utcnow().date()
    if promo.expires_on is not None and today > promo.expires_on:
        raise billing_error("promo_expired", FIELD, f"This promo code expired on {promo.expires_on.isoformat()}.")
    _lock_code(session, code)
    mine = select(PromoRedemption.id).where(PromoRedemption.code == code, PromoRedemption.user_id == user_id)
    if session.exec(mine).first() is not None:
        raise billing_error("promo_reused", FIELD)
    session.add(PromoRedemption(code=code, user_id=user_id))
    session.flush()
    if promo.max_redemptions is not None:
        redeemed = select(func.count()).select_from(PromoRedemption).where(PromoRedemption.code == code)
        count = session.exec(redeemed).one()
        if count > promo.max_redemptions:
            raise billing_error("promo_exhausted", FIELD)
    row = ensure_row(session, user_id)
    row.promo_code = code
    save_plan_state(session, row)
    return promo
