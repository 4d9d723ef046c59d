"""The global filter (customer + date range), kept in the URL so a link reproduces the view.

The URL is the source of truth: changing the filter navigates to the same page with new query
parameters, and every page's ``load`` reads them back through ``_load_scope``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import reflex as rx

from llmobserve_app import routes
from llmobserve_app.services import analytics
from llmobserve_app.services.billing import subscriptions
from llmobserve_app.services.billing.plans import range_allowed
from llmobserve_app.services.time_range import DEFAULT_RANGE, TimeRange, resolve_range
from llmobserve_app.state.session import CurrentUser, SessionState, run_db
from llmobserve_app.state.subscription import billing_enabled

FREE_RANGE = "7d"  # the named range the Free plan's limit (plans.FREE.max_range_days) matches
RANGE_OPTIONS = [("24h", "Last 24 hours"), ("7d", "Last 7 days"), ("30d", "Last 30 days"), ("custom", "Custom")]


class FilterState(SessionState):
    range_key: str = DEFAULT_RANGE
    date_from: str = ""
    date_to: str = ""
    customer: str = ""
    range_label: str = ""
    filter_error: str = ""
    upgrade_reason: str = ""  # why a Free account sees the last 7 days instead of the range it chose
    customer_search: str = ""
    customer_options: list[str] = []

    @rx.var
    def query_string(self) -> str:
        """The filter as a query string ('' for the defaults), appended to every in-app link."""
        params = self._params()
        return "?" + urlencode(params) if params else ""

    def _params(self) -> dict[str, str]:
        params: dict[str, str] = {}
        if self.range_key != DEFAULT_RANGE:
            params["range"] = self.range_key
        if self.range_key == "custom":
            params["from"], params["to"] = self.date_from, self.date_to
        if self.customer:
            params["customer"] = self.customer
        return params

    async def _load_scope(self) -> tuple[CurrentUser, analytics.Scope] | None:
        """Verify the session, then read the filter from the URL. None means: not signed in."""
        user = await self._require_user()
        if user is None:
            return None
        query = self.router.url.query_parameters
        window = resolve_range(query.get("range"), query.get("from"), query.get("to"))
        window = await self._within_plan(user.id, window)
        self.range_key = window.key
        self.date_from = query.get("from", "") if window.key == "custom" else ""
        self.date_to = query.get("to", "") if window.key == "custom" else ""
        self.customer = query.get("customer", "").strip()[:200]
        self.customer_search = self.customer
        self.range_label = window.label
        self.filter_error = window.error
        return user, analytics.Scope(user.id, window.start, window.end, self.customer or None)

    async def _within_plan(self, user_id: int, window: TimeRange) -> TimeRange:
        """The window, or (a Free account asking for more than its plan shows) the last 7 days and the reason."""
        self.upgrade_reason = ""
        if not billing_enabled():
            return window
        plan = await run_db(lambda session: subscriptions.plan_for(session, user_id, hosted=True))
        if range_allowed(plan, window.start, datetime.now(UTC)):
            return window
        self.upgrade_reason = (f"The {plan.label} plan shows the last {plan.max_range_days} days, so "
                               f"“{window.label}” needs Pro. Showing the last {plan.max_range_days} days.")
        return resolve_range(FREE_RANGE)

    def _navigate(self):
        path = self.router.url.path or routes.DASHBOARD
        return rx.redirect(path + self.query_string)

    @rx.event
    def set_range(self, key: str):
        self.range_key = key
        if key == "custom":
            return None  # wait for the dates
        return self._navigate()

    @rx.event
    def apply_custom_range(self, form: dict[str, str]):
        self.range_key, self.date_from, self.date_to = "custom", form.get("from", ""), form.get("to", "")
        return self._navigate()

    @rx.event
    def choose_customer(self, customer: str):
        self.customer = customer.strip()[:200]
        return self._navigate()

    @rx.event
    def clear_customer(self):
        self.customer = ""
        return self._navigate()

    @rx.event
    async def search_customers(self, text: str) -> None:
        self.customer_search = text
        user = await self._require_user()
        if user is None:
            return
        self.customer_options = await run_db(lambda s: analytics.customer_ids(s, user.id, text))

    @rx.event
    def submit_customer_search(self, form: dict[str, str]):
        return self.choose_customer(form.get("customer", ""))
