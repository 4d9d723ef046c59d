"""What "now" is for spending caps in this app (their periods, status and blocks): the real UTC time.

A test (never production: settings refuse it there) may set ``LLMOBSERVE_TEST_CLOCK_OFFSET_FILE`` to a file
holding a number of seconds to add, and rewrite it while the app runs to move the app to the next UTC day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from llmobserve_app.settings import get_settings


def utc_now() -> datetime:
    return datetime.now(UTC)


def _offset_clock(offset_file: Path) -> Callable[[], datetime]:
    def now() -> datetime:
        try:
            seconds = float(offset_file.read_text().strip() or 0)
        except FileNotFoundError:
            seconds = 0.0
        return utc_now() + timedelta(seconds=seconds)

    return now


@lru_cache(maxsize=1)
def app_clock() -> Callable[[], datetime]:
    """The clock the ingest API, the caps page and the caps job share."""
    offset_file = get_settings().test_clock_offset_file
    return _offset_clock(Path(offset_file)) if offset_file else utc_now
