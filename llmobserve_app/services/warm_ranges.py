"""Build the per-customer range bases of the named windows ahead of the first visitor.

A base (services/customer_ranges.py) is built by the first request that needs it: after midnight UTC for
the day windows, after each hour for the 24 h window. That request pays the build (0.2–1.3 s with 10k
customers). The scheduler (llmobserve_app/jobs.py) runs ``warm_named_ranges`` at start-up and a few minutes
past every hour, once the previous hour is closed, so visitors find them built. It reads what the pages
read, so it builds exactly the bases they use.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from llmobserve_app.db import session_scope
from llmobserve_app.models import TenantUsageHourly, utcnow
from llmobserve_app.services import analytics
from llmobserve_app.services.time_range import NAMED_RANGES, resolve_range

logger = logging.getLogger(__name__)
ACTIVE_WITHIN = timedelta(days=30)  # tenants with no data in the widest named window have nothing to build


def active_tenants(engine: sa.Engine, now: datetime) -> list[int]:
    with engine.connect() as connection:
        query = (sa.select(TenantUsageHourly.tenant_id).where(TenantUsageHourly.hour >= now - ACTIVE_WITHIN)
                 .distinct().order_by(TenantUsageHourly.tenant_id))
        return list(connection.execute(query).scalars())


def warm_named_ranges(engine: sa.Engine, now: datetime | None = None) -> int:
    """Build the bases every named window's customer pages and insights use, for every active tenant.
    Returns the number of tenants warmed; one tenant's failure is logged and does not stop the others."""
    now = now or utcnow()
    warmed = 0
    for tenant_id in active_tenants(engine, now):
        try:
            with session_scope(engine) as session:
                for key in NAMED_RANGES:
                    window = resolve_range(key, now=now)
                    analytics.customers_page(session, analytics.Scope(tenant_id, window.start, window.end),
                                             page_size=1, now=now)
                analytics.insights(session, tenant_id, now=now)
            warmed += 1
        except Exception:  # the next run, or the first visitor, builds it instead
            logger.exception("warming the range bases of tenant %s failed", tenant_id)
    return warmed
