"""Background jobs of the server process (APScheduler), started and stopped with the backend.

- ``warm_range_bases``: builds the named windows' per-customer range bases at start-up and 6 minutes past
  every hour (after the 5-minute grace that closes the previous hour), so no visitor pays for a build.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from llmobserve_app.db import get_engine
from llmobserve_app.services.warm_ranges import warm_named_ranges

logger = logging.getLogger(__name__)


def _warm() -> None:
    warmed = warm_named_ranges(get_engine())
    logger.info("range bases warmed for %d tenant(s)", warmed)


def create_scheduler() -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(_warm, "cron", minute=6, id="warm_range_bases", coalesce=True, max_instances=1,
                      next_run_time=datetime.now(UTC))  # and once right away
    return scheduler


@contextlib.asynccontextmanager
async def scheduler_lifespan() -> AsyncIterator[None]:
    """A Reflex lifespan task: the jobs run while the backend runs."""
    scheduler = create_scheduler()
    scheduler.start()
    try:
        yield
    finally:
        scheduler.shutdown(wait=False)
