"""The global date-range filter: named ranges (24h, 7d, 30d) or a custom day range, as UTC datetimes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from llmobserve_app.services.errors import UserFacingError

NAMED_RANGES = {"24h": 24, "7d": 24 * 7, "30d": 24 * 30}
DEFAULT_RANGE = "7d"
MAX_CUSTOM_DAYS = 366
EARLIEST_DAY = date(1970, 1, 1)
# How far ahead a custom range may end (a whole "this year" view is fine; year 9999 overflowed datetime).
MAX_FUTURE_DAYS = 366
# What the read API accepts at most (``within_bounds``): room left for window arithmetic before year 9999.
LATEST_DAY = date(9998, 12, 31)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)  # the end of LATEST_DAY


@dataclass(frozen=True)
class TimeRange:
    key: str
    start: datetime
    end: datetime
    label: str
    error: str = ""

    @property
    def hours(self) -> int:
        return int((self.end - self.start).total_seconds() // 3600)


def hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def day_floor(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _named(key: str, now: datetime, error: str = "") -> TimeRange:
    """24h: the current hour and the 23 before. 7d/30d: today (UTC) and the 6 or 29 whole days before."""
    end = hour_floor(now) + timedelta(hours=1)
    labels = {"24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days"}
    if key == "24h":
        return TimeRange(key, end - timedelta(hours=24), end, labels[key], error)
    return TimeRange(key, day_floor(now) - timedelta(days=NAMED_RANGES[key] // 24 - 1), end, labels[key], error)


def within_bounds(moment: datetime, field: str) -> datetime:
    """``moment`` if it lies in the supported span of time, else UserFacingError naming ``field``.

    The span leaves room on both sides for the window arithmetic (whole hours and days, a default start 30
    days back), which would overflow ``datetime`` at year 1 or 9999; LLM calls did not happen before 1970."""
    if not EARLIEST <= moment <= LATEST:
        raise out_of_bounds(field)
    return moment


def out_of_bounds(field: str) -> UserFacingError:
    return UserFacingError(f"dates must be between {EARLIEST_DAY} and {LATEST_DAY} (UTC)", field)


def _day(value: str | None, field: str) -> date:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        raise UserFacingError("Custom range needs two dates as YYYY-MM-DD", field) from None


def parse_range(key: str | None, date_from: str | None = None, date_to: str | None = None,
                now: datetime | None = None) -> TimeRange:
    """Turn URL parameters into a window, or raise UserFacingError whose ``field`` names the parameter (range,
    from, to).

    Named ranges end with the current hour; 7d and 30d start at a UTC midnight. A custom range covers whole
    UTC days, both ends included, from 1970 to ``MAX_FUTURE_DAYS`` ahead.
    """
    now = now or datetime.now(UTC)
    key = (key or DEFAULT_RANGE).strip()
    if key in NAMED_RANGES:
        return _named(key, now)
    if key != "custom":
        raise UserFacingError(f"Unknown date range {key!r}", "range")
    first, last = _day(date_from, "from"), _day(date_to, "to")
    latest = now.date() + timedelta(days=MAX_FUTURE_DAYS)
    if not (first >= EARLIEST_DAY and last <= latest):
        raise UserFacingError(f"Custom range must lie between {EARLIEST_DAY.isoformat()} and {latest.isoformat()}",
                              "from" if not EARLIEST_DAY <= first <= latest else "to")
    if last < first:
        raise UserFacingError("Custom range ends before it starts", "to")
    if (last - first).days + 1 > MAX_CUSTOM_DAYS:
        raise UserFacingError(f"Custom range is longer than {MAX_CUSTOM_DAYS} days", "to")
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    return TimeRange("custom", start, end, f"{first.isoformat()} – {last.isoformat()}")


def resolve_range(key: str | None, date_from: str | None = None, date_to: str | None = None,
                  now: datetime | None = None) -> TimeRange:
    """As ``parse_range``, but bad input falls back to the default range with a message: never raises."""
    now = now or datetime.now(UTC)
    try:
        return parse_range(key, date_from, date_to, now)
    except UserFacingError as error:
        return _named(DEFAULT_RANGE, now, f"{error.message}: showing the last 7 days.")
