"""Background jobs of the server process (APScheduler), started and stopped with the backend.

- ``warm_range_bases``: builds the named windows' per-customer range bases at start-up and 6 minutes past
  every hour (after the 5-minute grace that closes the previous hour), so no visitor pays for a build.
- ``sync_billing`` (hosted mode): hourly, every account with a Stripe customer gets Stripe's current subscription
  state, so a missed webhook is healed within the hour.
- ``apply_data_retention``: daily at 03:17 UTC, deletes events and rollups older than each plan keeps (hosted), or
  than ``RETENTION_DAYS`` (self-hosted, when set), in small chunks.
- ``evaluate_caps``: re-evaluates every enabled spending cap each minute (``services/caps/checks.catch_up``),
  a catch-up for what ingest-time checks cannot see: a lowered limit, a batch whose check failed.
- ``deliver_notifications``: sends the notifications outbox's due rows (e-mail, Slack, webhooks) every
  ``DELIVERY_INTERVAL``. A process that has just enqueued calls ``deliver_notifications_soon`` (or
  ``deliver_notifications_after_commit``) to send at once, lease or not: delivery claims each row atomically,
  so any number of processes may deliver together; the lease only keeps the others from polling.
- ``resume_recalculations``: every minute, continues the price recalculations left running by a process that
  stopped (their runner's lease expired) from their stored cursor (``services/recalculation.resume_due``).
- ``update_prices`` (only with ``PRICING_URL`` set): fetches the price data daily at 04:41 UTC and at start-up
  (``services/price_updates.py``); every server process applies what was accepted within
  ``price_updates.REFRESH_SECONDS`` (its own refresh thread, ``ingest_api.background_work``, not a leased job).

Every backend worker (Reflex runs the lifespan tasks in each) on every machine starts a scheduler, but the
jobs run in one process per installation: the one holding the ``scheduler`` database lease
(``services/leases.py``). Each scheduler tries to take or renew the lease every quarter of the lease's life; a job runs
only after its own scheduler has just renewed it. When the holder stops, it gives the lease up; when it dies,
another process takes over once the lease expires (``LLMOBSERVE_JOB_LEASE_SECONDS``, 60 s by default).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session

from llmobserve_app.clock import app_clock
from llmobserve_app.db import get_engine
from llmobserve_app.delivery_config import delivery_config
from llmobserve_app.services import leases, notifications, price_updates, recalculation
from llmobserve_app.services.billing import subscriptions
from llmobserve_app.services.billing.retention import apply_retention
from llmobserve_app.services.billing.stripe_client import make_client
from llmobserve_app.services.billing.sync import sync_all
from llmobserve_app.services.caps.checks import catch_up
from llmobserve_app.services.notifications import deliver_due
from llmobserve_app.services.warm_ranges import warm_named_ranges
from llmobserve_app.settings import get_settings

logger = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
DELIVERY_INTERVAL = timedelta(seconds=5)


class JobLeaseHolder:
    """This process's claim on the installation's jobs."""

    def __init__(self, engine: sa.Engine, holder: str | None = None, ttl: timedelta | None = None) -> None:
        self.engine = engine
        self.ttl = ttl or timedelta(seconds=get_settings().job_lease_seconds)
        self.holder = holder or leases.new_holder()
        self.held = False

    def renew(self) -> bool:
        """Take or renew the lease; False (and logged) when another process holds it or the DB is unreachable."""
        try:
            held = leases.claim(self.engine, LEASE_NAME, self.holder, self.ttl)
        except sa.exc.SQLAlchemyError:
            logger.exception("could not claim the job lease")
            held = False
        if held != self.held:
            logger.info("job lease %s by %s", "taken" if held else "lost", self.holder)
        self.held = held
        return held

    def run(self, job: Callable[[], object]) -> None:
        """Run ``job`` if this process holds the lease (renewed first, so a lapsed holder never runs it)."""
        if self.renew():
            logger.info("running job %s", job.__name__)
            job()

    def run_if_held(self, job: Callable[[], object]) -> None:
        """Run ``job`` if this process held the lease at its last renewal, without renewing it (no write):
        for frequent jobs that are safe even if two processes overlapped (they only save the others' polling)."""
        if self.held:
            job()

    def release(self) -> None:
        if self.held:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                leases.release(self.engine, LEASE_NAME, self.holder)
            self.held = False


def warm_range_bases() -> None:
    warmed = warm_named_ranges(get_engine())
    logger.info("range bases warmed for %d tenant(s)", warmed)


def sync_billing() -> None:
    config = get_settings().stripe_config()
    if config is None:
        return
    result = sync_all(get_engine(), make_client(config))
    logger.info("billing sync: %d customer(s) checked, %d changed, %d failed", result.checked, result.changed,
                result.failed)


def apply_data_retention() -> None:
    settings = get_settings()
    hosted, retention_days = settings.hosted, settings.retention_days
    result = apply_retention(
        get_engine(), lambda session, user_id: subscriptions.plan_for(session, user_id, hosted, retention_days))
    logger.info("retention: %d account(s) purged, rows deleted %s", result.tenants, result.deleted)


def evaluate_caps() -> None:
    fired = catch_up(get_engine(), app_clock()())
    if fired:
        logger.info("caps: %d alert(s) fired by the catch-up", len(fired))


def deliver_notifications() -> None:
    report = deliver_due(get_engine(), delivery_config(), datetime.now(UTC))
    if report.handled:
        logger.info("notifications: %d sent, %d to retry, %d failed, %d skipped",
                    report.sent, report.retrying, report.failed, report.skipped)


def resume_recalculations() -> None:
    taken = recalculation.resume_due(get_engine(), timedelta(seconds=get_settings().job_lease_seconds))
    if taken:
        logger.info("price recalculations continued: %s", ", ".join(map(str, taken)))


class SoonRunner:
    """Runs ``job`` on one background thread of this process, as soon as asked; a request made while it runs
    makes it run once more afterwards (so a row committed during a run is not left for the next poll), and
    any number of requests in the meantime make only that one more run."""

    def __init__(self, job: Callable[[], object]) -> None:
        self._job = job
        self._lock = threading.Lock()
        self._requested = self._running = False

    def request(self) -> None:
        with self._lock:
            self._requested = True
            if self._running:
                return
            self._running = True
        threading.Thread(target=self._loop, name=f"soon-{getattr(self._job, '__name__', 'job')}",
                         daemon=True).start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._requested:
                    self._running = False
                    return
                self._requested = False
            try:
                self._job()
            except Exception:
                logger.exception("job %s failed", getattr(self._job, "__name__", self._job))


_delivery_soon = SoonRunner(deliver_notifications)


def deliver_notifications_soon() -> None:
    """Send due notifications now, in a background thread of this process (call it after the commit)."""
    _delivery_soon.request()


def deliver_notifications_after_commit(session: Session) -> None:
    """Send due notifications as soon as ``session``'s transaction commits (nothing if it rolls back)."""
    sa.event.listen(session, "after_commit", lambda _session: deliver_notifications_soon(), once=True)


def update_prices() -> None:
    """Fetch PRICING_URL (set: the job is scheduled only then); applied here at once, in the other processes by
    their refresh threads."""
    url = get_settings().pricing_url
    if url:
        update = price_updates.update_from_url(get_engine(), url)
        logger.info("PRICING_URL %s: %s", update.status, update.problems.split("\n", 1)[0] or "all entries valid")


def create_scheduler(lease: JobLeaseHolder) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(lease.renew, "interval", seconds=lease.ttl.total_seconds() / 4, id="renew_job_lease",
                      coalesce=True, max_instances=1)
    scheduler.add_job(lease.run, "cron", args=[warm_range_bases], minute=6, id="warm_range_bases", coalesce=True,
                      max_instances=1, next_run_time=datetime.now(UTC))  # and once right away
    settings = get_settings()
    if settings.hosted:
        scheduler.add_job(lease.run, "cron", args=[sync_billing], minute=23, id="sync_billing", coalesce=True,
                          max_instances=1)
    if settings.hosted or settings.retention_days is not None:
        scheduler.add_job(lease.run, "cron", args=[apply_data_retention], hour=3, minute=17,
                          id="apply_data_retention", coalesce=True, max_instances=1)
    scheduler.add_job(lease.run, "interval", args=[evaluate_caps], minutes=1, id="evaluate_caps", coalesce=True,
                      max_instances=1)
    scheduler.add_job(lease.run_if_held, "interval", args=[deliver_notifications],
                      seconds=DELIVERY_INTERVAL.total_seconds(), id="deliver_notifications", coalesce=True,
                      max_instances=1)
    scheduler.add_job(lease.run, "interval", args=[resume_recalculations], minutes=1, id="resume_recalculations",
                      coalesce=True, max_instances=1, next_run_time=datetime.now(UTC))  # and once right away
    if settings.pricing_url:
        scheduler.add_job(lease.run, "cron", args=[update_prices], hour=4, minute=41, id="update_prices",
                          coalesce=True, max_instances=1, next_run_time=datetime.now(UTC))  # daily, and at start
    return scheduler


def _log_to_stderr() -> None:
    """Show which process takes the lease and runs each job (nothing configures INFO logging under Reflex)."""
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [pid %(process)d] %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


@contextlib.asynccontextmanager
async def scheduler_lifespan() -> AsyncIterator[None]:
    """A Reflex lifespan task: the jobs run while the backend runs (in the process holding the lease)."""
    _log_to_stderr()
    notifications.set_sender(deliver_notifications_soon)  # alerts fired in this process go out at once
    lease = JobLeaseHolder(get_engine())
    scheduler = create_scheduler(lease)
    scheduler.start()
    try:
        yield
    finally:
        scheduler.shutdown(wait=False)
        lease.release()
