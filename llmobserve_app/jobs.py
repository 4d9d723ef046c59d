"""Background jobs of the server process (APScheduler), started and stopped with the backend.

- ``warm_range_bases``: builds the named windows' per-customer range bases at start-up and 6 minutes past
  every hour (after the 5-minute grace that closes the previous hour), so no visitor pays for a build.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from llmobserve_app.db import get_engine
from llmobserve_app.services.warm_ranges import warm_named_ranges
from llmobserve_app.settings import get_settings

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)


def _warm() -> None:
    warmed = warm_named_ranges(get_engine())
    logger.info("range bases warmed for %d tenant(s)", warmed)


def create_scheduler() -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(_warm, "cron", minute=6, id="warm_range_bases", coalesce=True, max_instances=1,
                      next_run_time=datetime.now(UTC))  # and once right away
    return scheduler


def _claim_jobs(data_dir: Path) -> int | None:
    """One process per installation runs the jobs: with several backend workers, the first to take this
    lock does (held until it exits). Returns the lock's file descriptor, or None when another process has it.
    Where ``fcntl`` is missing (Windows), every process runs them: the work is repeated, the results are not
    wrong."""
    if fcntl is None:
        return -1
    data_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(data_dir / "jobs.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(descriptor)
        return None
    return descriptor


@contextlib.asynccontextmanager
async def scheduler_lifespan() -> AsyncIterator[None]:
    """A Reflex lifespan task: the jobs run while the backend runs (in one of its processes)."""
    claim = _claim_jobs(get_settings().data_dir)
    if claim is None:
        logger.info("another process runs the background jobs")
        yield
        return
    scheduler = create_scheduler()
    scheduler.start()
    try:
        yield
    finally:
        scheduler.shutdown(wait=False)
        if claim >= 0:
            os.close(claim)  # releases the lock
