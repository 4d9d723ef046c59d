"""Database tables (SQLModel). Schema changes go through Alembic migrations in ``migrations/``.

Money is stored as integer nano-dollars (``*_nanos``): exact, summable in SQL on SQLite and PostgreSQL
alike, and fine-grained enough that a cheap embedding call does not round to zero. Times are UTC and
timezone-aware in Python whatever the database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

NANOS_PER_USD = 1_000_000_000


class UTCDateTime(TypeDecorator):
    """A timestamp that is always timezone-aware UTC in Python (SQLite keeps naive UTC text)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


def _bigint(**kwargs: Any) -> Any:
    return Field(sa_type=sa.BigInteger, **kwargs)


class User(SQLModel, table=True):
    """An account; its id is the tenant id every other row is scoped by."""

    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    name: str = Field(max_length=200)
    password_hash: str = Field(max_length=100)
    # The hosted plan billing_accounts gives ("free"/"pro"), copied for reports and support; written only by
    # services/billing/subscriptions.save_plan_state, never read by the app (plan_for reads billing_accounts).
    subscription_tier: str = Field(default="free", max_length=40)
    created_at: datetime = _ts(default_factory=utcnow)


class LoginSession(SQLModel, table=True):
    """A signed-in browser; the JWT carries its id so logout revokes it on the server."""

    __tablename__ = "login_sessions"
    id: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="users.id", index=True)
    created_at: datetime = _ts(default_factory=utcnow)
    expires_at: datetime = _ts()
    revoked_at: datetime | None = _ts(default=None, nullable=True)


class ApiKey(SQLModel, table=True):
    """An ingest key. Only its SHA-256 is stored: keys are 256-bit random, so a slow hash adds nothing."""

    __tablename__ = "api_keys"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=20)
    key_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = _ts(default_factory=utcnow)
    last_used_at: datetime | None = _ts(default=None, nullable=True)
    revoked_at: datetime | None = _ts(default=None, nullable=True)


class Event(SQLModel, table=True):
    """One provider call, as the SDK reported it, priced on arrival."""

    __tablename__ = "events"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "span_id", name="uq_events_tenant_span"),
        sa.Index("ix_events_tenant_started", "tenant_id", "started_at"),
        sa.Index("ix_events_tenant_run", "tenant_id", "run_id"),
    )
    id: int | None = Field(default=None, sa_type=sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                           primary_key=True)
    tenant_id: int = Field(foreign_key="users.id")
    span_id: str = Field(max_length=128)
    run_id: str | None = Field(default=None, max_length=128)
    parent_span_id: str | None = Field(default=None, max_length=128)
    started_at: datetime = _ts()
    ended_at: datetime = _ts()
    latency_ms: int = Field(default=0)
    provider: str = Field(max_length=64)
    model: str | None = Field(default=None, max_length=200)
    endpoint: str = Field(default="unknown", max_length=64)
    status_code: int | None = None
    streamed: bool = False
    incomplete: bool = False
    error: str | None = Field(default=None, max_length=200)
    input_tokens: int = _bigint(default=0)
    cached_input_tokens: int = _bigint(default=0)
    cache_write_tokens: int = _bigint(default=0)
    cache_write_1h_tokens: int = _bigint(default=0)
    output_tokens: int = _bigint(default=0)
    reasoning_tokens: int = _bigint(default=0)
    audio_seconds: float = 0.0
    web_searches: int = 0
    requests: int = 1
    units: dict[str, float] = Field(default_factory=dict, sa_type=sa.JSON)
    customer_id: str | None = Field(default=None, max_length=200)
    section_path: str | None = Field(default=None, max_length=500)
    agent: str | None = Field(default=None, max_length=200)
    tags: dict[str, str] = Field(default_factory=dict, sa_type=sa.JSON)
    batch: bool = False
    service_tier: str | None = Field(default=None, max_length=40)
    provider_reported_cost_nanos: int | None = _bigint(default=None, nullable=True)
    cost_nanos: int | None = _bigint(default=None, nullable=True)
    priced: bool = False
    charged: bool = True
    price_id: str | None = Field(default=None, max_length=200)
    sdk_version: str | None = Field(default=None, max_length=40)
    received_at: datetime = _ts(default_factory=utcnow)


class Run(SQLModel, table=True):
    """A group of calls sharing a run id, maintained at ingest so run lists never scan events."""

    __tablename__ = "runs"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "run_id", name="uq_runs_tenant_run"),
        sa.Index("ix_runs_tenant_last_seen", "tenant_id", "last_seen"),
        sa.Index("ix_runs_tenant_customer_last_seen", "tenant_id", "customer_id", "last_seen"),  # drill-down
    )
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="users.id")
    run_id: str = Field(max_length=128)
    customer_id: str | None = Field(default=None, max_length=200)
    agent: str | None = Field(default=None, max_length=200)
    first_seen: datetime = _ts()
    last_seen: datetime = _ts()
    calls: int = 0
    failed_calls: int = 0
    unpriced_calls: int = 0
    cost_nanos: int = _bigint(default=0)


class UsageMeasures(SQLModel):
    """What an hourly rollup row adds up (shared by the per-customer and the all-customers rollups)."""

    calls: int = _bigint(default=0)
    failed_calls: int = _bigint(default=0)
    cost_nanos: int = _bigint(default=0)
    input_tokens: int = _bigint(default=0)
    cached_input_tokens: int = _bigint(default=0)
    output_tokens: int = _bigint(default=0)
    reasoning_tokens: int = _bigint(default=0)
    latency_ms_sum: int = _bigint(default=0)


class UsageHourly(UsageMeasures, table=True):
    """Hourly rollup per customer, written in the same transaction as the events.

    Pages filtered to one customer read it; unfiltered pages read ``tenant_usage_hourly``, and the
    customers table reads ``customer_usage_daily``. Empty strings stand for "none" in key columns so the
    unique key works on every database.
    """

    __tablename__ = "usage_hourly"
    __table_args__ = (
        sa.UniqueConstraint(
            "tenant_id", "hour", "customer_id", "provider", "model", "section_path", "priced",
            name="uq_usage_hourly_key",
        ),
        sa.Index("ix_usage_hourly_tenant_hour", "tenant_id", "hour"),
        # Ends with provider so the providers of a page of customers are read from the index alone.
        sa.Index("ix_usage_hourly_customer_cover", "tenant_id", "customer_id", "hour", "provider"),
    )
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="users.id")
    hour: datetime = _ts()
    customer_id: str = Field(default="", max_length=200)
    provider: str = Field(max_length=64)
    model: str = Field(default="", max_length=200)
    section_path: str = Field(default="", max_length=500)
    agent: str = Field(default="", max_length=200)
    priced: bool = True


TENANT_HOURLY_INSIGHTS_COVER = ("tenant_id", "hour", "model", "agent", "priced", "provider", "cost_nanos", "calls",
                                "failed_calls", "input_tokens", "output_tokens")


class TenantUsageHourly(UsageMeasures, table=True):
    """Hourly rollup over all customers: what every unfiltered page aggregates (a few rows per hour)."""

    __tablename__ = "tenant_usage_hourly"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "hour", "provider", "model", "section_path", "priced",
                            name="uq_tenant_usage_hourly_key"),
        sa.Index("ix_tenant_usage_hourly_tenant_hour", "tenant_id", "hour"),
        # Covering for the insights page's models-and-agents passes over two weeks (~12k rows at 1M events):
        # read from the index alone, without one table lookup per row.
        sa.Index("ix_tenant_usage_hourly_insights_cover", *TENANT_HOURLY_INSIGHTS_COVER),
    )
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="users.id")
    hour: datetime = _ts()
    provider: str = Field(max_length=64)
    model: str = Field(default="", max_length=200)
    section_path: str = Field(default="", max_length=500)
    agent: str = Field(default="", max_length=200)
    priced: bool = True


class CustomerMeasures(SQLModel):
    """What a per-customer row adds up (the daily rollup and the per-customer range totals)."""

    calls: int = _bigint(default=0)
    failed_calls: int = _bigint(default=0)
    unpriced_calls: int = _bigint(default=0)
    cost_nanos: int = _bigint(default=0)
    input_tokens: int = _bigint(default=0)
    output_tokens: int = _bigint(default=0)
    latency_ms_sum: int = _bigint(default=0)
    first_seen: datetime = _ts()
    last_seen: datetime = _ts()


class CustomerUsageDaily(CustomerMeasures, table=True):
    """Per customer and UTC day totals: the customers table aggregates 10k customers from this narrow table."""

    __tablename__ = "customer_usage_daily"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "customer_id", "day", name="uq_customer_usage_daily_key"),
        # Covering, in day order: the customer dimension reads today's rows (the open part of a window, next to
        # customer_range_totals) and builds closed ranges from the index alone. One customer uses the key.
        sa.Index("ix_customer_usage_daily_day_cover", "tenant_id", "day", "customer_id", "cost_nanos", "calls",
                 "failed_calls", "unpriced_calls", "latency_ms_sum", "input_tokens", "output_tokens", "first_seen",
                 "last_seen"),
    )
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="users.id")
    customer_id: str = Field(max_length=200)
    day: datetime = _ts()


class UnitQuantity(SQLModel):
    """An hour's quantity of one non-token unit of one provider (the per-customer and all-customers tables)."""

    hour: datetime = _ts()
    provider: str = Field(max_length=64)
    unit: str = Field(max_length=64)
    quantity: float = 0.0


class UnitUsageHourly(UnitQuantity, table=True):
    """Non-token units (Pinecone read/write units, search credits…) per hour, provider, unit and customer."""

    __tablename__ = "unit_usage_hourly"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "hour", "customer_id", "provider", "unit", name="uq_unit_usage_hourly_key"),
        sa.Index("ix_unit_usage_hourly_tenant_hour", "tenant_id", "hour"),
    )
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="users.id")
    customer_id: str = Field(default="", max_length=200)


class TenantUnitUsageHourly(UnitQuantity, table=True):
    """``unit_usage_hourly`` summed over customers: what the infrastructure page reads for all customers
    (a few rows per hour, where the per-customer table has one per customer and unit)."""

    __tablename__ = "tenant_unit_usage_hourly"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "hour", "provider", "unit", name="uq_tenant_unit_usage_hourly_key"),
    )
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="users.id")


class CustomerRangeTotals(CustomerMeasures, table=True):
    """Per-customer totals over one closed range (services/customer_ranges.py): a materialised view.

    Grain ``day`` sums ``customer_usage_daily`` (exact first/last call), grain ``hour`` sums ``usage_hourly``
    (first/last seen to the hour; calls without a customer kept as ``''``). Clustered by its key (no rowid on
    SQLite): one range's ~10k rows are one index range scan, in customer order.
    """

    __tablename__ = "customer_range_totals"
    __table_args__ = ({"sqlite_with_rowid": False},)
    tenant_id: int = Field(foreign_key="users.id", primary_key=True)
    grain: str = Field(primary_key=True, max_length=8)
    range_start: datetime = _ts(primary_key=True)
    range_end: datetime = _ts(primary_key=True)  # exclusive
    customer_id: str = Field(primary_key=True, max_length=200)


class CustomerRangeState(SQLModel, table=True):
    """One built range of ``customer_range_totals``, with the tenant's late counter it was built against."""

    __tablename__ = "customer_range_state"
    tenant_id: int = Field(foreign_key="users.id", primary_key=True)
    grain: str = Field(primary_key=True, max_length=8)
    range_start: datetime = _ts(primary_key=True)
    range_end: datetime = _ts(primary_key=True)
    late_version: int = _bigint(default=0)
    build_id: int = _bigint()  # random: a reader checks the base it read is still this one
    built_at: datetime = _ts()


class TenantLateVersion(SQLModel, table=True):
    """Counters ingest bumps when a batch holds an event for an already-closed UTC day or hour (no row: 0)."""

    __tablename__ = "tenant_late_versions"
    tenant_id: int = Field(foreign_key="users.id", primary_key=True)
    late_day_version: int = _bigint(default=0)
    late_hour_version: int = _bigint(default=0)


class JobLease(SQLModel, table=True):
    """Who runs the scheduled jobs of an installation, until when (see ``services/leases.py``)."""

    __tablename__ = "job_leases"
    name: str = Field(primary_key=True, max_length=100)
    holder: str = Field(max_length=200)  # host:pid:random of the process holding it
    expires_at: datetime = _ts()


class BillingAccount(SQLModel, table=True):
    """An account's subscription as Stripe last described it (hosted mode; services/billing/).

    Written only from Stripe's own state (webhooks re-fetch it, the hourly sync reconciles it) and from our
    promo codes; never from the checkout success redirect. No row: a Free account that never went to checkout.
    """

    __tablename__ = "billing_accounts"
    user_id: int = Field(foreign_key="users.id", primary_key=True)
    stripe_customer_id: str | None = Field(default=None, max_length=255, unique=True, index=True)
    stripe_subscription_id: str | None = Field(default=None, max_length=255)
    status: str | None = Field(default=None, max_length=40)  # Stripe's: active, trialing, past_due, canceled…
    current_period_end: datetime | None = _ts(default=None, nullable=True)
    cancel_at_period_end: bool = False
    promo_code: str | None = Field(default=None, max_length=100)  # one of ours redeemed: Pro without payment
    updated_at: datetime = _ts(default_factory=utcnow)


class StripeWebhookEvent(SQLModel, table=True):
    """A Stripe event already handled: stored in the transaction of its effect, so a replay does nothing."""

    __tablename__ = "stripe_webhook_events"
    id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=100)
    received_at: datetime = _ts(default_factory=utcnow)


class PromoRedemption(SQLModel, table=True):
    """One of our promo codes (``PROMO_CODES``) redeemed by an account: once per account, counted per code."""

    __tablename__ = "promo_redemptions"
    __table_args__ = (sa.UniqueConstraint("code", "user_id", name="uq_promo_redemptions_code_user"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=100, index=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    redeemed_at: datetime = _ts(default_factory=utcnow)
class Cap(SQLModel, table=True):
    """A spending cap: a limit on the priced cost of one scope per UTC period (``services/caps``).

    Spend is never stored here: it is derived from the rollups each time, so nothing needs resetting, a changed
    limit applies at once and a new period starts from zero by itself.
    """

    __tablename__ = "caps"
    __table_args__ = (sa.Index("ix_caps_tenant_enabled", "tenant_id", "enabled"),)
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="users.id")
    name: str = Field(default="", max_length=200)
    scope: str = Field(max_length=16)  # global | provider | model | agent | customer
    value: str = Field(default="", max_length=200)  # '' for global; '*' for every customer separately
    period: str = Field(max_length=8)  # day | week | month (UTC)
    limit_nanos: int = _bigint()
    threshold_pct: int = Field(default=80)
    action: str = Field(default="alert", max_length=8)  # alert | block
    notify_email: bool = True
    slack_webhook_url: str | None = Field(default=None, max_length=2000)
    webhook_url: str | None = Field(default=None, max_length=2000)
    enabled: bool = True
    created_at: datetime = _ts(default_factory=utcnow)
    updated_at: datetime = _ts(default_factory=utcnow)


class CapAlert(SQLModel, table=True):
    """One alert of a cap: its unique key makes each level fire at most once per cap, period and customer."""

    __tablename__ = "cap_alerts"
    __table_args__ = (
        sa.UniqueConstraint("cap_id", "period_start", "level", "scope_value", name="uq_cap_alerts_once"),
        sa.Index("ix_cap_alerts_tenant_created", "tenant_id", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="users.id")
    cap_id: int = Field(foreign_key="caps.id", ondelete="CASCADE")
    level: str = Field(max_length=12)  # threshold | exceeded
    period_start: datetime = _ts()
    scope_value: str = Field(default="", max_length=200)  # the customer, for a cap on every customer ('*')
    spend_nanos: int = _bigint()
    limit_nanos: int = _bigint()
    created_at: datetime = _ts(default_factory=utcnow)


class Notification(SQLModel, table=True):
    """One message to deliver (an outbox row), written in the transaction of what caused it.

    ``(source_kind, source_id, channel)`` is unique: whatever enqueues the same source twice (two workers, a
    restarted job) adds one row. ``services/notifications/delivery.py`` claims due rows with a lease
    (``claim_token``, ``claimed_until``) so two processes never send one row at the same time.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        sa.UniqueConstraint("source_kind", "source_id", "channel", name="uq_notifications_source_channel"),
        sa.Index("ix_notifications_due", "status", "next_attempt_at"),
        sa.Index("ix_notifications_tenant_source", "tenant_id", "source_kind", "source_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="users.id")
    source_kind: str = Field(max_length=40)  # what caused it, e.g. "cap_alert"
    source_id: int = _bigint()
    channel: str = Field(max_length=16)  # email | slack | webhook
    target: str = Field(max_length=2048)  # an e-mail address or a URL
    subject: str = Field(max_length=300)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    status: str = Field(default="pending", max_length=16)  # pending | sent | failed | skipped
    attempts: int = 0
    next_attempt_at: datetime = _ts()
    claim_token: str | None = Field(default=None, max_length=32, nullable=True)
    claimed_until: datetime | None = _ts(default=None, nullable=True)
    last_status_code: int | None = Field(default=None, nullable=True)
    last_error: str | None = Field(default=None, max_length=500, nullable=True)
    created_at: datetime = _ts(default_factory=utcnow)
    sent_at: datetime | None = _ts(default=None, nullable=True)


class WebhookSigningSecret(SQLModel, table=True):
    """An account's secret for signing its webhooks (HMAC-SHA256). Kept readable: the server must sign with it;
    the user sees it once, when it is created or rotated."""

    __tablename__ = "webhook_signing_secrets"
    tenant_id: int = Field(foreign_key="users.id", primary_key=True)
    secret: str = Field(max_length=100)
    created_at: datetime = _ts(default_factory=utcnow)


class CustomPrice(SQLModel, table=True):
    """One account's own price for a model (``services/custom_prices.py``): it wins over the bundled price for
    this account only, for calls from ``effective_from`` on (None: always). Prices are integer nano-dollars per
    million tokens (per request for ``per_request_nanos``): exact for any price with up to nine decimals,
    and a token's share (a price / 10**6) stays exact until the call's total is rounded to a nano-dollar once."""

    __tablename__ = "custom_prices"
    __table_args__ = (sa.Index("ix_custom_prices_tenant", "tenant_id"),)
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="users.id")
    provider: str | None = Field(default=None, max_length=100)  # canonical, lower-case; None: any provider
    model: str = Field(max_length=200)  # lower-case, as matched
    input_nanos_per_mtok: int = _bigint()
    output_nanos_per_mtok: int = _bigint()
    cached_input_nanos_per_mtok: int | None = _bigint(default=None)  # None: the input price
    reasoning_nanos_per_mtok: int | None = _bigint(default=None)  # None: the output price
    per_request_nanos: int | None = _bigint(default=None)
    effective_from: datetime | None = _ts(default=None)
    created_at: datetime = _ts(default_factory=utcnow)


class PriceRecalculation(SQLModel, table=True):
    """One re-pricing of an account's calls in a window with the prices in force now
    (``services/recalculation.py``): its progress while it runs, then its audit record."""

    __tablename__ = "price_recalculations"
    __table_args__ = (
        sa.Index("ix_price_recalculations_tenant", "tenant_id", "id"),
        # one running job per account (each runs in a process of its own): migration 0012
        sa.Index("ux_price_recalculations_one_running", "tenant_id", unique=True,
                 sqlite_where=sa.text("status = 'running'"), postgresql_where=sa.text("status = 'running'")),
    )
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="users.id")
    window_start: datetime = _ts()
    window_end: datetime = _ts()  # exclusive
    status: str = Field(default="running", max_length=16)  # running | done | failed
    events_seen: int = _bigint(default=0)
    calls_changed: int = _bigint(default=0)
    cost_before_nanos: int = _bigint(default=0)  # of the calls seen, as stored before
    cost_after_nanos: int = _bigint(default=0)
    unpriced_before: int = _bigint(default=0)
    unpriced_after: int = _bigint(default=0)
    cursor_started: datetime | None = _ts(default=None)  # where the next chunk starts (calls before it: done)
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # runners started (migration 0012)
    created_at: datetime = _ts(default_factory=utcnow)
    updated_at: datetime = _ts(default_factory=utcnow)
    finished_at: datetime | None = _ts(default=None)
    error: str | None = Field(default=None, max_length=300)


class PriceDataUpdate(SQLModel, table=True):
    """One fetch of ``PRICING_URL`` (``services/price_updates.py``): accepted (its valid entries kept, the
    others named in ``problems``) or rejected whole with the reason. The newest accepted one is in force."""

    __tablename__ = "price_data_updates"
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=500)
    fetched_at: datetime = _ts(default_factory=utcnow)
    status: str = Field(max_length=16)  # accepted | rejected
    version: str | None = Field(default=None, max_length=60)
    accepted_entries: int = Field(default=0)
    problems: str = Field(default="", sa_type=sa.Text)
    document: str | None = Field(default=None, sa_type=sa.Text)  # the accepted entries, JSON
