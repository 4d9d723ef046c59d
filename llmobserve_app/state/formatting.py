"""Display formatting shared by page states (money, counts, shares, times) and chart builders."""

from __future__ import annotations

import html
from datetime import datetime

import plotly.graph_objects as go

from llmobserve_app.models import NANOS_PER_USD
from llmobserve_app.services.analytics import UNTRACKED, CostRow
from llmobserve_app.services.caps.overview import CapOverview
from llmobserve_app.services.caps.rules import EVERY_CUSTOMER
from llmobserve_app.services.money import format_usd, nanos_to_usd

ACCENT = "#6e56cf"
PALETTE = ["#6e56cf", "#12a594", "#e54d2e", "#f5a524", "#3e63dd", "#d6409f", "#7c8c96"]


def usd(nanos: int | None) -> str:
    return format_usd(nanos)


def cost_or_unpriced(cost_nanos: int, calls: int, unpriced_calls: int) -> str:
    """'unpriced' when no call of the row had a price: never show such a row as $0."""
    return "unpriced" if calls and unpriced_calls == calls else format_usd(cost_nanos)


def count(value: int) -> str:
    return f"{value:,}"


def share(value: float) -> str:
    return f"{value:.0%}" if value >= 0.01 or value == 0 else "<1%"


def milliseconds(value: float) -> str:
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def moment(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def page_label(page: int, page_size: int, total: int, noun: str, more: bool = False) -> str:
    """'26–50 of 1,204' for a pager ('of 10,000+' when the count stopped at its limit; 'No customers')."""
    if not total:
        return f"No {noun}"
    first = page * page_size + 1
    return f"{first:,}–{min(first + page_size - 1, total):,} of {total:,}{'+' if more else ''}"


def cost_rows(rows: list[CostRow]) -> list[dict[str, str]]:
    """Rows for a name / cost / calls table; unpriced calls are flagged, never shown as $0."""
    return [{
        "name": row.name or "(unknown)",
        "cost": cost_or_unpriced(row.cost_nanos, row.calls, row.unpriced_calls),
        "calls": count(row.calls),
        "unpriced": count(row.unpriced_calls) if row.unpriced_calls else "",
    } for row in rows]


def run_rows(runs: list) -> list[dict[str, str]]:
    return [{
        "run_id": run.run_id, "agent": run.agent or UNTRACKED, "customer": run.customer_id or "",
        "calls": count(run.calls), "cost": cost_or_unpriced(run.cost_nanos, run.calls, run.unpriced_calls),
        "last_seen": moment(run.last_seen),
    } for run in runs]


def plotly_text(value: str) -> str:
    """A user-supplied string made inert for Plotly, which renders a subset of HTML (<a href>, <b>, <br>...) and
    $...$ as TeX in legends, labels, hover text and ticks. Plotly decodes &lt; &gt; &amp; and numeric entities
    (not &quot;), so the text shows exactly as typed. Every string from user data passed to a figure goes
    through here."""
    return html.escape(value, quote=False).replace("$", "&#36;")


def _layout(figure: go.Figure) -> go.Figure:
    figure.update_layout(margin={"l": 60, "r": 10, "t": 10, "b": 30}, height=260,
                         paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                         legend={"orientation": "h", "y": -0.2})
    return figure


AXIS_TICKS = 4
_STEP_MULTIPLES = (1, 2, 5, 10)


def money_ticks(top_nanos: int) -> list[int]:
    """Round tick values (nano-dollars) from $0 up to at least ``top_nanos``, about ``AXIS_TICKS`` steps of 1, 2 or
    5 × 10^n. Nothing priced ($0) gives $0 to $1: a money axis never goes below zero."""
    top = max(int(top_nanos), 0) or NANOS_PER_USD
    rough = max(top // AXIS_TICKS, 1)
    magnitude = 10 ** (len(str(rough)) - 1)
    step = next(multiple * magnitude for multiple in _STEP_MULTIPLES if multiple * magnitude >= rough)
    return [step * index for index in range(-(-top // step) + 1)]


def _money_axis(figure: go.Figure, values: list[int]) -> go.Figure:
    """The y axis labelled by ``format_usd`` (the app's one money rule; Plotly's own formats print SI suffixes
    such as "$20µ"), from $0, never negative."""
    ticks = money_ticks(max(values, default=0))
    figure.update_yaxes(tickmode="array", tickvals=[float(nanos_to_usd(tick)) for tick in ticks],
                        ticktext=[format_usd(tick) for tick in ticks],
                        range=[0, float(nanos_to_usd(ticks[-1])) * 1.04], fixedrange=True)
    return figure


def _label(moment_: datetime, hourly: bool) -> str:
    return moment_.strftime("%b %d %H:00") if hourly else moment_.strftime("%b %d")


def cost_bars(points: list[tuple[datetime, int]]) -> go.Figure:
    hourly = len(points) > 1 and (points[1][0] - points[0][0]).total_seconds() == 3600
    bars = go.Figure(go.Bar(
        x=[_label(when, hourly) for when, _ in points], y=[float(nanos_to_usd(cost)) for _, cost in points],
        customdata=[format_usd(cost) for _, cost in points],
        marker_color=ACCENT, hovertemplate="%{x}: %{customdata}<extra></extra>",
    ))
    return _money_axis(_layout(bars), [cost for _, cost in points])


def cost_lines(series: dict[str, list[tuple[datetime, int]]]) -> go.Figure:
    """One line per series; series names are user data (agents, customers, models...)."""
    figure = go.Figure()
    for index, (name, points) in enumerate(series.items()):
        figure.add_trace(go.Scatter(
            x=[_label(when, False) for when, _ in points], y=[float(nanos_to_usd(c)) for _, c in points],
            customdata=[format_usd(c) for _, c in points],
            name=plotly_text(name), mode="lines+markers", cliponaxis=False,
            line={"color": PALETTE[index % len(PALETTE)]},
            # The name by reference: pasted into the template, '%{...}' in a name would be substituted.
            hovertemplate="%{fullData.name} %{x}: %{customdata}<extra></extra>",
        ))
    return _money_axis(_layout(figure), [cost for points in series.values() for _, cost in points])


def cap_scope_label(cap_scope: str, value: str, shown_customer: str) -> str:
    if cap_scope == "global":
        return "all spend"
    if value == EVERY_CUSTOMER:
        return "each customer" + (f" (nearest the limit: {shown_customer})" if shown_customer else "")
    return f"{cap_scope} {value}"


def _cap_projection(view: CapOverview) -> str:
    if view.projected_at is None or view.status not in ("ok", "warning"):
        return ""
    return f"Projected to reach the limit on {view.projected_at.strftime('%Y-%m-%d %H:%M UTC')}"


def cap_row(view: CapOverview) -> dict[str, str]:
    """A cap as the page shows it: every value a display string (rendered as text, never HTML)."""
    cap = view.cap
    percent = view.percent
    return {
        "id": str(cap.id), "name": cap.name, "scope": cap_scope_label(cap.scope, cap.value, view.scope_value),
        "period": cap.period, "action": cap.action, "status": view.status,
        "spend": usd(view.spend_nanos), "limit": usd(cap.limit_nanos),
        "percent": f"{percent:.0f}%" if percent >= 1 or percent == 0 else "<1%",
        "bar": f"{min(percent, 100.0):.1f}%",
        "threshold": f"{cap.threshold_pct}%",
        "period_end": "Period ends " + moment(view.period_end),
        "projection": _cap_projection(view),
        "unpriced": (f"{count(view.unpriced_calls)} unpriced call{'s' if view.unpriced_calls != 1 else ''} in "
                     "scope this period (not counted as spend)") if view.unpriced_calls else "",
        "enabled": "yes" if cap.enabled else "",
        "channels": ", ".join(name for name, on in (("email", cap.notify_email), ("Slack", cap.slack_webhook_url),
                                                     ("webhook", cap.webhook_url)) if on) or "in the app only",
    }
