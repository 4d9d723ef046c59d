"""The subscription page, the subscribe prompt after onboarding, and whether this installation bills at all.

Nothing here grants access: the page shows what the billing services stored from Stripe's own state. Returning
from Checkout (``?checkout=success``) only makes the page look again every second for a while, until Stripe's
webhooks have arrived. No secret or Stripe id is kept in State.
"""

from __future__ import annotations

import asyncio

import reflex as rx
from sqlmodel import Session

from llmobserve_app import routes
from llmobserve_app.services.billing import plans, subscriptions
from llmobserve_app.services.billing.messages import MESSAGES
from llmobserve_app.settings import get_settings
from llmobserve_app.state.session import SessionState, run_db

NOTICES = {
    ("checkout", "success"): "Thank you! Stripe is confirming your payment: your plan changes as soon as it does.",
    ("checkout", "canceled"): "Checkout was canceled: nothing was charged.",
    ("promo", "redeemed"): "Promo code applied: your account now has Pro.",
}
WELCOME_TO_PRO = "Your subscription is active: welcome to Pro!"
WAIT_FOR_STRIPE_SECONDS = 30
STATUS_LABELS = {"active": "Active", "trialing": "Trialing", "past_due": "Past due (Stripe is retrying the payment)",
                 "canceled": "Canceled", "unpaid": "Unpaid", "incomplete": "Incomplete",
                 "incomplete_expired": "Expired", "paused": "Paused"}


def billing_enabled() -> bool:
    """Hosted mode: STRIPE_SECRET_KEY is set."""
    return get_settings().hosted


def current_view(session: Session, user_id: int) -> subscriptions.SubscriptionView:
    settings = get_settings()
    return subscriptions.view(session, user_id, settings.hosted, settings.retention_days)


class BillingModeState(rx.State):
    """Whether the installation bills (read at run time, so one build serves both modes)."""

    @rx.var
    def billing_enabled(self) -> bool:
        return billing_enabled()


class SubscriptionState(SessionState):
    loading: bool = True
    hosted: bool = False
    plan_key: str = ""
    plan_label: str = ""
    status: str = ""
    period_label: str = ""
    has_customer: bool = False
    promo_code: str = ""
    notice: str = ""
    error: str = ""
    waiting_for_stripe: bool = False

    @property
    def _is_pro(self) -> bool:
        return self.plan_key == plans.PRO.key

    def _show(self, view: subscriptions.SubscriptionView) -> None:
        self.plan_key, self.plan_label = view.plan.key, view.plan.label
        self.status = STATUS_LABELS.get(view.status or "", view.status or "")
        self.has_customer, self.promo_code = view.has_stripe_customer, view.promo_code or ""
        self.period_label = ""
        if view.current_period_end is not None and view.status not in (None, "canceled", "incomplete_expired"):
            day = view.current_period_end.strftime("%Y-%m-%d")
            self.period_label = f"Ends on {day}" if view.cancel_at_period_end else f"Renews on {day}"

    @rx.event
    async def load(self):
        self.loading, self.notice, self.error, self.waiting_for_stripe = True, "", "", False
        user = await self._require_user()
        if user is None:
            return self._to_login()
        self.hosted = billing_enabled()
        self._show(await run_db(current_view, user.id))
        query = self.router.url.query_parameters
        self.error = MESSAGES.get(query.get("error", ""), "") if self.hosted else ""
        self.notice = next((text for (name, value), text in NOTICES.items() if query.get(name) == value), "")
        self.loading = False
        if self.hosted and query.get("checkout") == "success":
            if self._is_pro:  # Stripe's webhooks arrived before the page: nothing left to confirm
                self.notice = WELCOME_TO_PRO
                return None
            self.waiting_for_stripe = True
            return SubscriptionState.wait_for_stripe
        return None

    @rx.event(background=True)
    async def wait_for_stripe(self):
        """Look again every second until Stripe's webhooks have made the account Pro (or give up quietly)."""
        for _ in range(WAIT_FOR_STRIPE_SECONDS):
            await asyncio.sleep(1)
            async with self:
                user = await self._require_user()
                if user is None:
                    self.waiting_for_stripe = False
                    return
                self._show(await run_db(current_view, user.id))
                if self._is_pro:
                    self.waiting_for_stripe = False
                    self.notice = WELCOME_TO_PRO
                    return
        async with self:
            self.waiting_for_stripe = False


class SubscribePromptState(SessionState):
    """After onboarding, hosted mode: subscribe now, or skip to the dashboard."""

    @rx.event
    async def load(self):
        user = await self._require_user()
        if user is None:
            return self._to_login()
        if not billing_enabled() or (await run_db(current_view, user.id)).plan.key == plans.PRO.key:
            return rx.redirect(routes.DASHBOARD, replace=True)
        return None
