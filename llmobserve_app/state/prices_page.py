"""/settings/prices: this account's custom prices (list, add, delete), with the form's errors under each field.

``?provider=...&model=...`` pre-fills the form (the "unpriced models to fix" links on /insights).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import reflex as rx
from sqlmodel import Session

from llmobserve_app.clock import app_clock
from llmobserve_app.db import get_engine
from llmobserve_app.services import custom_prices, recalculation
from llmobserve_app.services.custom_prices import InvalidPrice, PriceInput
from llmobserve_app.services.errors import UserFacingError
from llmobserve_app.services.money import format_usd
from llmobserve_app.state.session import SessionState, run_db

FORM_FIELDS = ("provider", "model", "input_per_mtok", "output_per_mtok", "cached_input_per_mtok",
               "reasoning_per_mtok", "per_request", "effective_from")
_PREFILLED = ("provider", "model")


def _rows(session: Session, user_id: int) -> list[dict[str, str]]:
    rows = []
    for price in custom_prices.list_prices(session, user_id):
        shown = custom_prices.as_json(price)
        rows.append({
            "id": str(price.id), "provider": shown["provider"] or "any", "model": shown["model"],
            "input": shown["input_per_mtok"], "output": shown["output_per_mtok"],
            "cached": shown["cached_input_per_mtok"] or "= input",
            "reasoning": shown["reasoning_per_mtok"] or "= output",
            "per_request": shown["per_request"] or "—",
            "from": price.effective_from.strftime("%Y-%m-%d %H:%M UTC") if price.effective_from else "always",
            "price_id": shown["price_id"],
        })
    return rows


def _save(session: Session, user_id: int, price: PriceInput) -> None:
    custom_prices.put_price(session, user_id, price)


def _delete(session: Session, user_id: int, price_id: int) -> bool:
    return custom_prices.delete_price(session, user_id, price_id)


def _start_recalculation(session: Session, user_id: int, since: datetime) -> int:
    job_id = recalculation.start(session, user_id, since, app_clock()()).id
    assert job_id is not None
    return job_id


def _recalculation_status(session: Session, user_id: int, job_id: int) -> str:
    job = recalculation.get(session, user_id, job_id)
    if job is None:
        return ""
    if job.status == "running":
        return f"Re-pricing… {job.events_seen:,} calls checked, {job.calls_changed:,} changed so far."
    if job.status == "failed":
        return "Re-pricing failed; see the server log. Nothing of an unfinished chunk was changed."
    return (f"Re-priced: {job.events_seen:,} calls checked, {job.calls_changed:,} changed; total "
            f"{format_usd(job.cost_before_nanos)} → {format_usd(job.cost_after_nanos)}, unpriced calls "
            f"{job.unpriced_before:,} → {job.unpriced_after:,}.")


def empty_form() -> dict[str, str]:
    return dict.fromkeys(FORM_FIELDS, "")


class PricesState(SessionState):
    loading: bool = True
    error: str = ""
    prices: list[dict[str, str]] = []
    form: dict[str, str] = empty_form()
    field_errors: dict[str, str] = {}
    recalc_since: str = ""  # offered after a save: re-price calls since then (the price's start, else 30 days)
    recalc_job: int = 0
    recalc_status: str = ""

    @rx.event
    def set_field(self, name: str, value: str) -> None:
        """Edit one form field; its error goes away (the user is correcting it)."""
        if name in FORM_FIELDS:
            self.form = {**self.form, name: value}
            self.field_errors = {k: v for k, v in self.field_errors.items() if k != name}

    @rx.event
    def clear_form(self) -> None:
        self.form, self.field_errors, self.error = empty_form(), {}, ""

    def _prefill(self) -> None:
        params = parse_qs(self.router.url.query or "")
        self.form = {**empty_form(), **{k: params[k][0][:200] for k in _PREFILLED if params.get(k)}}
        self.field_errors = {}

    @rx.event
    async def load(self):
        self.loading, self.error = True, ""
        user = await self._require_user()
        if user is None:
            return self._to_login()
        self._prefill()
        self.prices = await run_db(_rows, user.id)
        self.loading = False
        return None

    @rx.event
    async def save(self):
        user = await self._require_user()
        if user is None:
            return self._to_login()
        fields: dict[str, Any] = {k: (v.strip() or None) for k, v in self.form.items()}
        try:
            price = custom_prices.parse_price(fields)
        except InvalidPrice as error:
            self.field_errors = {error.field or "model": error.message}
            return None
        await run_db(_save, user.id, price)
        self.form, self.field_errors, self.error = empty_form(), {}, ""
        self.prices = await run_db(_rows, user.id)
        since = price.effective_from or app_clock()() - timedelta(days=30)
        self.recalc_since, self.recalc_status = since.strftime("%Y-%m-%d %H:%M"), ""
        return rx.toast.success(f"Saved: {price.model} calls are priced with it from "
                                f"{price.effective_from:%Y-%m-%d %H:%M} UTC on." if price.effective_from else
                                f"Saved: {price.model} calls are priced with it from now on.")

    @rx.event
    async def delete(self, price_id: str):
        user = await self._require_user()
        if user is None:
            return self._to_login()
        try:
            deleted = await run_db(_delete, user.id, int(price_id))
        except ValueError:
            deleted = False
        if not deleted:
            self.error = "That price does not exist (any more)."
            return None
        self.prices = await run_db(_rows, user.id)
        return rx.toast.success("Price deleted: new calls get the bundled price again.")

    @rx.event
    async def recalculate(self):
        """Re-price this account's calls since ``recalc_since`` with the prices now in force, in the background."""
        user = await self._require_user()
        if user is None:
            return self._to_login()
        try:
            since = custom_prices.parse_when(self.recalc_since, "from")
            if since is None:
                raise UserFacingError("from is required", "from")
            job_id = await run_db(_start_recalculation, user.id, since)
        except recalculation.RecalculationRunning as running:
            self.error = running.message
            if running.job_id is not None:
                self.recalc_job = running.job_id
                self.recalc_status = await run_db(_recalculation_status, user.id, running.job_id)
            return None
        except UserFacingError:
            self.error = "Give the start as a date (2026-12-01) or a date and time (UTC)."
            return None
        await asyncio.to_thread(recalculation.run_in_background, get_engine(), job_id)  # a lease query, a fork
        self.recalc_job, self.error = job_id, ""
        self.recalc_status = await run_db(_recalculation_status, user.id, job_id)
        return None

    @rx.event
    async def refresh_recalculation(self):
        user = await self._require_user()
        if user is None:
            return self._to_login()
        if self.recalc_job:
            self.recalc_status = await run_db(_recalculation_status, user.id, self.recalc_job)
        return None

    @rx.event
    def set_recalc_since(self, value: str) -> None:
        self.recalc_since = value
