"""Aggregates for every analytics page and the read API, one module per page family.

Everything here reads rollups — never a scan of raw events — except ``run_detail``, which reads one run's
events. Each query picks the smallest exact source for its scope:

- all customers: ``tenant_usage_hourly`` (a few rows per hour, whatever the number of customers);
- one customer: ``usage_hourly`` (indexed by tenant, customer, hour);
- the customer dimension over whole UTC days: ``customer_usage_daily`` (one narrow row per customer-day),
  else ``usage_hourly``; across all customers, the closed part of the window comes pre-summed per customer
  from ``customer_range_totals`` (services/customer_ranges.py, see ``per_customer``; a window ending now
  through its last closed hour) and only the open part (the last hour or so) is read from those rollups;
  pages that rank customers do it in memory from the base decoded once per build (``customer_view``);
- the agents page and insights' models-and-agents pass keep the closed days' sums between requests
  (``closed_days``, exact through the tenant's late-day counter).

Windows are hour-aligned because the rollups are. Functions that depend on the time take ``now`` (default:
the clock, read once at the entry point and passed down).

Modules: ``scope`` (scope, filters, shared SQL pieces), ``per_customer`` (range bases + rollups per customer),
``customer_view`` (a base ranked in memory), ``closed_days`` (closed days' sums kept in memory),
``totals`` (dashboard), ``customers``, ``costs`` (breakdowns, infrastructure), ``agents``, ``llms``, ``runs``
(incl. the run tree) and ``insights``. The public names are re-exported here.
"""

from llmobserve_app.services.analytics.agents import AgentRow, agents, agents_with_trend
from llmobserve_app.services.analytics.costs import GROUP_BY, CostRow, ServiceRow, cost_by, infrastructure
from llmobserve_app.services.analytics.customers import (
    CUSTOMER_SORTS,
    CustomerPage,
    CustomerRow,
    customer_ids,
    customers_page,
)
from llmobserve_app.services.analytics.insights import Insights, Mover, insights
from llmobserve_app.services.analytics.llms import ModelRow, models
from llmobserve_app.services.analytics.runs import (
    RUNS_COUNT_LIMIT,
    RunDetail,
    RunNode,
    RunsPage,
    iter_runs,
    recent_runs,
    run_detail,
    run_tree,
    runs_page,
)
from llmobserve_app.services.analytics.scope import INFRA_PROVIDERS, UNTRACKED, Scope, window_start
from llmobserve_app.services.analytics.totals import (
    DashboardSummary,
    Totals,
    cost_over_time,
    dashboard_summary,
    has_any_data,
    totals,
)

__all__ = [
    "CUSTOMER_SORTS", "GROUP_BY", "INFRA_PROVIDERS", "RUNS_COUNT_LIMIT", "UNTRACKED", "AgentRow", "CostRow",
    "CustomerPage", "CustomerRow", "DashboardSummary", "Insights", "ModelRow", "Mover", "RunDetail", "RunNode",
    "RunsPage", "Scope", "ServiceRow", "Totals", "agents", "agents_with_trend", "cost_by", "cost_over_time",
    "customer_ids", "customers_page", "dashboard_summary", "has_any_data", "infrastructure", "insights",
    "iter_runs", "models", "recent_runs", "run_detail", "run_tree", "runs_page", "totals", "window_start",
]
