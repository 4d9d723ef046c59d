"""/runs (filter by agent, search by run id, paginate, export) and /runs/[run] (hierarchy and timeline)."""

from __future__ import annotations

from urllib.parse import quote, unquote, urlencode

import reflex as rx

from llmobserve_app.services import analytics
from llmobserve_app.state import formatting as fmt
from llmobserve_app.state.filters import FilterState
from llmobserve_app.state.formatting import run_rows
from llmobserve_app.state.page import AnalyticsPageState
from llmobserve_app.state.session import CurrentUser, run_db

PAGE_SIZE = 25


class RunsState(AnalyticsPageState, FilterState):
    agent: str = ""
    search: str = ""
    page: int = 0
    total: int = 0
    more: bool = False  # more runs than ``total`` (the count stops at its limit)
    rows: list[dict[str, str]] = []

    @rx.var
    def export_query(self) -> str:
        params = {**self._params(), **({"agent": self.agent} if self.agent else {}),
                  **({"search": self.search} if self.search else {})}
        return "?" + urlencode(params) if params else ""

    @rx.var
    def page_label(self) -> str:
        return fmt.page_label(self.page, PAGE_SIZE, self.total, "runs", self.more)

    @rx.var
    def has_next(self) -> bool:
        return (self.page + 1) * PAGE_SIZE < self.total or self.more

    async def _fetch(self, _user: CurrentUser, scope: analytics.Scope) -> None:
        agent, search, page = self.agent or None, self.search, self.page
        result = await run_db(lambda s: analytics.runs_page(s, scope, agent, search, page, PAGE_SIZE))
        self.total, self.more = result.total, result.more
        self.rows = [{**row, "href": "/runs/" + quote(row["run_id"], safe="")} for row in run_rows(result.rows)]

    @rx.event
    async def load(self):
        self.agent = self.router.url.query_parameters.get("agent", "")[:200]
        self.page = 0
        return await self._reload()

    @rx.event
    async def set_search(self, text: str):
        self.search, self.page = text.strip()[:128], 0
        return await self._reload()

    @rx.event
    async def turn_page(self, step: int):
        self.page = max(0, self.page + step)
        return await self._reload()


class RunDetailState(AnalyticsPageState, FilterState):
    found: bool = True
    run_id: str = ""
    summary: dict[str, str] = {}
    tree: list[dict[str, str]] = []
    timeline: list[dict[str, str]] = []

    async def _fetch(self, user: CurrentUser, _scope: analytics.Scope) -> None:
        self.run_id = unquote(self.router.url.path.rstrip("/").rsplit("/", 1)[-1])
        run_id = self.run_id
        detail = await run_db(lambda s: analytics.run_detail(s, user.id, run_id))
        self.found = detail is not None
        if detail is None:
            self.summary, self.tree, self.timeline = {}, [], []
            return
        run = detail.run
        self.summary = {
            "cost": fmt.cost_or_unpriced(run.cost_nanos, run.calls, run.unpriced_calls),
            "calls": fmt.count(run.calls), "failed": fmt.count(run.failed_calls),
            "agent": run.agent or analytics.UNTRACKED, "customer": run.customer_id or "—",
            "started": fmt.moment(run.first_seen), "duration": fmt.milliseconds(
                (run.last_seen - run.first_seen).total_seconds() * 1000),
        }
        self.tree = [{
            "label": node.label, "kind": node.kind, "indent": f"{node.depth * 1.5}em",
            "cost": fmt.cost_or_unpriced(node.cost_nanos, node.calls, node.unpriced_calls),
            "latency": fmt.milliseconds(node.latency_ms), "calls": fmt.count(node.calls),
        } for node in detail.tree]
        start, total_ms = run.first_seen, max((run.last_seen - run.first_seen).total_seconds() * 1000, 1)
        self.timeline = [{
            "label": f"{call.section_path or analytics.UNTRACKED} · {call.model or call.endpoint}",
            "left": f"{(call.started_at - start).total_seconds() * 1000 / total_ms * 100:.2f}%",
            "width": f"{max(call.latency_ms / total_ms * 100, 0.5):.2f}%",
            "latency": fmt.milliseconds(call.latency_ms),
            "cost": fmt.cost_or_unpriced(call.cost_nanos or 0, 1, 0 if call.priced else 1),
            "status": str(call.status_code or call.error or ""),
        } for call in detail.calls]
