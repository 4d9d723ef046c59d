"""Rebuild the rollups of a tenant from its raw events: ``usage_hourly``, ``tenant_usage_hourly``,
``customer_usage_daily``, ``unit_usage_hourly``, ``tenant_unit_usage_hourly`` and ``runs``.

Ingest maintains rollups incrementally (services/ingest/); this recomputes them in SQL, for repairs and
after a change to how rollups are defined:

    python -m llmobserve_app.services.rollups rebuild [--tenant ID] [--database-url URL]

Each tenant is rebuilt in one transaction (delete, then ``INSERT … SELECT … GROUP BY``), so readers see the
old rollups or the new ones, never a mix. Ingest waits meanwhile: on SQLite the transaction holds the write
lock from its first statement; on PostgreSQL it locks ``events`` in SHARE mode, which blocks inserts
(of every tenant) until it commits — otherwise events committed mid-rebuild could be counted twice or
not at all.

A run's customer and agent are the first non-empty ones in arrival order (lowest event id), as at ingest.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session

from llmobserve_app.db import get_engine, session_scope
from llmobserve_app.models import (
    CustomerUsageDaily,
    Event,
    Run,
    TenantUnitUsageHourly,
    TenantUsageHourly,
    UnitUsageHourly,
    UsageHourly,
    User,
)
from llmobserve_app.services import customer_ranges
from llmobserve_app.services.ingest import writers

EVENTS = Event.__table__
HOURLY = UsageHourly.__table__
TENANT_HOURLY = TenantUsageHourly.__table__
CUSTOMER_DAILY = CustomerUsageDaily.__table__
UNIT_HOURLY = UnitUsageHourly.__table__
TENANT_UNIT_HOURLY = TenantUnitUsageHourly.__table__
RUNS = Run.__table__
ROLLUPS = (HOURLY, TENANT_HOURLY, CUSTOMER_DAILY, UNIT_HOURLY, TENANT_UNIT_HOURLY, RUNS)
_EMPTY = sa.literal_column("''")


@dataclass
class RebuildResult:
    tenant_id: int
    events: int
    hourly_rows: int
    runs: int


def truncated(dialect: str, unit: str, started: Any = EVENTS.c.started_at) -> Any:
    """A timestamp column (``events.started_at`` unless given) truncated to its UTC hour or day, in the column's
    storage form (SQLite: naive UTC text)."""
    if dialect == "sqlite":
        length, rest = (14, "00:00.000000") if unit == "hour" else (10, " 00:00:00.000000")
        return sa.func.substr(started, 1, length).op("||")(sa.literal_column(f"'{rest}'"))
    utc = sa.literal_column("'UTC'")  # inline constants: GROUP BY must repeat the SELECT expression exactly
    return sa.func.timezone(utc, sa.func.date_trunc(sa.literal_column(f"'{unit}'"), sa.func.timezone(utc, started)))


def _count_if_not(column: Any) -> Any:
    return sa.func.sum(sa.case((column, 0), else_=1))


def _first_named(tenant_id: int, column_name: str) -> Any:
    """The first non-empty value of an events column in a run, in arrival order."""
    first = EVENTS.alias("first_named")
    value = first.c[column_name]
    return (
        sa.select(value)
        .where(first.c.tenant_id == tenant_id, first.c.run_id == EVENTS.c.run_id, value.is_not(None), value != "")
        .order_by(first.c.id)
        .limit(1)
        .scalar_subquery()
    )


def _hourly_select(tenant_id: int, dialect: str, per_customer: bool = True) -> tuple[list[str], sa.Select]:
    key_expressions = {
        "tenant_id": EVENTS.c.tenant_id,
        "hour": truncated(dialect, "hour"),
        "customer_id": sa.func.coalesce(EVENTS.c.customer_id, _EMPTY),
        "provider": EVENTS.c.provider,
        "model": sa.func.coalesce(EVENTS.c.model, _EMPTY),
        "section_path": sa.func.coalesce(EVENTS.c.section_path, _EMPTY),
        "priced": EVENTS.c.priced,
    }
    if not per_customer:
        del key_expressions["customer_id"]
    keys = [expression.label(name) for name, expression in key_expressions.items()]
    values = [
        # agent is a function of section_path (a key): one value per bucket
        sa.func.max(sa.func.coalesce(EVENTS.c.agent, "")).label("agent"),
        sa.func.count().label("calls"),
        _count_if_not(EVENTS.c.charged).label("failed_calls"),
        sa.func.sum(sa.func.coalesce(EVENTS.c.cost_nanos, 0)).label("cost_nanos"),
        *(sa.func.sum(EVENTS.c[name]).label(name)
          for name in ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens")),
        sa.func.sum(EVENTS.c.latency_ms).label("latency_ms_sum"),
    ]
    # GROUP BY the expressions, not their labels: PostgreSQL reads a label that is also a column's name
    # (customer_id) as the raw column.
    query = (sa.select(*keys, *values).where(EVENTS.c.tenant_id == tenant_id)
             .group_by(*key_expressions.values()))
    return [column.name for column in (*keys, *values)], query


def _customer_daily_select(tenant_id: int, dialect: str) -> tuple[list[str], sa.Select]:
    day = truncated(dialect, "day")
    columns = [
        EVENTS.c.tenant_id,
        EVENTS.c.customer_id,
        day.label("day"),
        sa.func.count().label("calls"),
        _count_if_not(EVENTS.c.charged).label("failed_calls"),
        _count_if_not(EVENTS.c.priced).label("unpriced_calls"),
        sa.func.sum(sa.func.coalesce(EVENTS.c.cost_nanos, 0)).label("cost_nanos"),
        sa.func.sum(EVENTS.c.input_tokens).label("input_tokens"),
        sa.func.sum(EVENTS.c.output_tokens).label("output_tokens"),
        sa.func.sum(EVENTS.c.latency_ms).label("latency_ms_sum"),
        sa.func.min(EVENTS.c.started_at).label("first_seen"),
        sa.func.max(EVENTS.c.started_at).label("last_seen"),
    ]
    query = (
        sa.select(*columns)
        .where(EVENTS.c.tenant_id == tenant_id, EVENTS.c.customer_id.is_not(None), EVENTS.c.customer_id != "")
        .group_by(EVENTS.c.tenant_id, EVENTS.c.customer_id, day)
    )
    return [column.name for column in columns], query


def _unit_hourly_select(tenant_id: int, dialect: str, per_customer: bool = True) -> tuple[list[str], sa.Select]:
    """Units summed from each event's ``units`` JSON object (json_each on both databases), per customer or
    over all customers."""
    if dialect == "sqlite":
        each = sa.func.json_each(EVENTS.c.units).table_valued("key", "value").alias("unit_each")
        quantity = each.c.value
    else:
        each = sa.func.json_each_text(sa.cast(EVENTS.c.units, postgresql.JSON)).table_valued(
            "key", "value").render_derived(name="unit_each")
        quantity = sa.cast(each.c.value, sa.Float)
    hour = truncated(dialect, "hour")
    customer = sa.func.coalesce(EVENTS.c.customer_id, _EMPTY)
    keys = [EVENTS.c.tenant_id, hour, *([customer] if per_customer else []), EVENTS.c.provider, each.c.key]
    names = ["tenant_id", "hour", *(["customer_id"] if per_customer else []), "provider", "unit"]
    columns = [*(key.label(name) for key, name in zip(keys, names, strict=True)),
               sa.func.sum(quantity).label("quantity")]
    query = (
        sa.select(*columns).select_from(EVENTS).join(each, sa.true())
        .where(EVENTS.c.tenant_id == tenant_id)
        .group_by(*keys)
    )
    return [column.name for column in columns], query


def _runs_select(tenant_id: int) -> tuple[list[str], sa.Select]:
    columns = [
        EVENTS.c.tenant_id,
        EVENTS.c.run_id,
        _first_named(tenant_id, "customer_id").label("customer_id"),
        _first_named(tenant_id, "agent").label("agent"),
        sa.func.min(EVENTS.c.started_at).label("first_seen"),
        sa.func.max(EVENTS.c.ended_at).label("last_seen"),
        sa.func.count().label("calls"),
        _count_if_not(EVENTS.c.charged).label("failed_calls"),
        _count_if_not(EVENTS.c.priced).label("unpriced_calls"),
        sa.func.sum(sa.func.coalesce(EVENTS.c.cost_nanos, 0)).label("cost_nanos"),
    ]
    query = (
        sa.select(*columns)
        .where(EVENTS.c.tenant_id == tenant_id, EVENTS.c.run_id.is_not(None), EVENTS.c.run_id != "")
        .group_by(EVENTS.c.tenant_id, EVENTS.c.run_id)
    )
    return [column.name for column in columns], query


def rebuild_tenant(session: Session, tenant_id: int) -> RebuildResult:
    """Replace one tenant's rollups with ones recomputed from its events (the caller's session commits)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":  # before touching any rollup row: ingest holds events, then rollup rows
        session.execute(sa.text("LOCK TABLE events IN SHARE MODE"))
    # On SQLite the first statement writes, so the write lock is taken before anything is read.
    for table in ROLLUPS:
        session.execute(sa.delete(table).where(table.c.tenant_id == tenant_id))
    customer_ranges.invalidate(session, tenant_id)  # per-customer range totals were summed from the old rollups
    writers.changed_after_commit(session)  # the caps' memory of spend is stale too
    for table, (names, query) in (
        (HOURLY, _hourly_select(tenant_id, dialect)),
        (TENANT_HOURLY, _hourly_select(tenant_id, dialect, per_customer=False)),
        (CUSTOMER_DAILY, _customer_daily_select(tenant_id, dialect)),
        (UNIT_HOURLY, _unit_hourly_select(tenant_id, dialect)),
        (TENANT_UNIT_HOURLY, _unit_hourly_select(tenant_id, dialect, per_customer=False)),
        (RUNS, _runs_select(tenant_id)),
    ):
        session.execute(sa.insert(table).from_select(names, query))
    counts = [
        session.execute(sa.select(sa.func.count()).select_from(table).where(table.c.tenant_id == tenant_id))
        .scalar_one()
        for table in (EVENTS, HOURLY, RUNS)
    ]
    return RebuildResult(tenant_id, *map(int, counts))


def rebuild(engine: sa.Engine, tenant_id: int | None = None) -> list[RebuildResult]:
    """Rebuild one tenant's rollups, or every tenant's, one transaction per tenant."""
    if tenant_id is None:
        with engine.connect() as connection:
            tenants = list(connection.execute(sa.select(User.__table__.c.id).order_by(User.__table__.c.id)).scalars())
    else:
        tenants = [tenant_id]
    results = []
    for tenant in tenants:
        with session_scope(engine) as session:
            results.append(rebuild_tenant(session, tenant))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmobserve_app.services.rollups",
                                     description="Recompute usage_hourly and runs from events.")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("rebuild", help="rebuild rollups (every tenant unless --tenant)")
    command.add_argument("--tenant", type=int, help="tenant (user) id")
    command.add_argument("--database-url", help="SQLAlchemy URL (default: DATABASE_URL / settings)")
    args = parser.parse_args(argv)
    results = rebuild(get_engine(args.database_url), args.tenant)
    if not results:
        print("no tenants")
    for result in results:
        print(f"tenant {result.tenant_id}: {result.events} events -> {result.hourly_rows} hourly rows, "
              f"{result.runs} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
