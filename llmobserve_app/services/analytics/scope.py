"""The scope of every analytics query and the filters all page families share: which rollup answers a
scope, its WHERE clauses (rollups, daily rollup, runs), chart buckets and LIKE escaping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from llmobserve_app.models import CustomerUsageDaily, Run, TenantUsageHourly, UsageHourly
from llmobserve_app.services.time_range import day_floor, hour_floor

# Providers whose calls are infrastructure (vector DBs, search, speech), not LLM inference.
INFRA_PROVIDERS = frozenset({
    "pinecone", "qdrant", "weaviate", "chroma", "milvus", "tavily", "serper", "serpapi", "exa", "brave",
    "deepgram", "assemblyai", "elevenlabs", "cartesia", "firecrawl",
})
UNTRACKED = "untracked"
Usage = type[UsageHourly] | type[TenantUsageHourly]


def window_start(now: datetime, hours: int) -> datetime:
    return hour_floor(now) - timedelta(hours=hours - 1)


@dataclass(frozen=True)
class Scope:
    """Whose data, over which window, optionally for one of their customers."""

    tenant_id: int
    start: datetime
    end: datetime
    customer_id: str | None = None


def usage_of(scope: Scope) -> Usage:
    return TenantUsageHourly if scope.customer_id is None else UsageHourly


def hourly_where(scope: Scope, table: Usage | None = None) -> list[sa.ColumnElement[bool]]:
    table = table or usage_of(scope)
    conditions = [table.tenant_id == scope.tenant_id, table.hour >= scope.start, table.hour < scope.end]
    if scope.customer_id is not None:
        conditions.append(UsageHourly.customer_id == scope.customer_id)
    return conditions


def whole_days(scope: Scope, now: datetime) -> bool:
    """True when the window is whole UTC days (its last day may end now): the daily rollup is exact."""
    ends_now = scope.end >= hour_floor(now) + timedelta(hours=1)
    return scope.start == day_floor(scope.start) and (scope.end == day_floor(scope.end) or ends_now)


def daily_where(scope: Scope) -> list[sa.ColumnElement[bool]]:
    last_day = day_floor(scope.end - timedelta(microseconds=1))
    conditions = [CustomerUsageDaily.tenant_id == scope.tenant_id, CustomerUsageDaily.day >= scope.start,
                  CustomerUsageDaily.day <= last_day]
    if scope.customer_id is not None:
        conditions.append(CustomerUsageDaily.customer_id == scope.customer_id)
    return conditions


def unpriced_calls_sum(table: Usage) -> sa.ColumnElement[int]:
    return sa.func.sum(sa.case((table.priced.is_(False), table.calls), else_=0))



def runs_where(scope: Scope, now: datetime) -> list[sa.ColumnElement[bool]]:
    """Runs active in the window (``now`` decides whether it ends now)."""
    conditions = [Run.tenant_id == scope.tenant_id, Run.last_seen >= scope.start]
    if scope.end < hour_floor(now):  # a window ending now needs no upper bound: the index alone answers
        conditions.append(Run.first_seen < scope.end)
    if scope.customer_id is not None:
        conditions.append(Run.customer_id == scope.customer_id)
    return conditions


def bucket(moment: datetime, hourly: bool) -> datetime:
    return moment if hourly else moment.replace(hour=0)


def buckets(scope: Scope, hourly: bool) -> list[datetime]:
    """Every hour (or UTC day) the window touches, in order: charts show empty ones as 0."""
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    moments, moment = [], bucket(scope.start, hourly)
    while moment < scope.end:
        moments.append(moment)
        moment += step
    return moments


def escape_like(text: str) -> str:
    """User text made literal inside a LIKE pattern (with ``escape="\\"``)."""
    return text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_pattern(text: str) -> str:
    return f"%{escape_like(text)}%"
