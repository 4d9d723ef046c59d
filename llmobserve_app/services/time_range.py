"""The global date-range filter: named ranges (24h, 7d, 30d) or a custom day range, as UTC datetimes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

NAMED_RANGES = {"24h": 24, "7d": 24 * 7, "30d": 24 * 30}
DEFAULT_RANGE = "7d"
MAX_CUSTOM_DAYS = 366
EARLIEST_DAY = date(1970, 1, 1)
# How far ahead a custom range may end (a whole "this year" view is fine; year 9999 overflowed datetime).
MAX_FUTURE_DAYS = 366


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


def resolve_range(key: str | None, date_from: str | None = None, date_to: str | None = None,
                  now: datetime | None = None) -> TimeRange:
    """Turn URL parameters into a window; bad input falls back to the default with a message, never raises.

    Named ranges end with the current hour; 7d and 30d start at a UTC midnight. A custom range covers whole
    UTC days, both ends included.
    """
    now = now or datetime.now(UTC)
    key = (key or DEFAULT_RANGE).strip()
    if key in NAMED_RANGES:
        return _named(key, now)
    if key != "custom":
        return _named(DEFAULT_RANGE, now, f"Unknown date range {key!r}: showing the last 7 days.")
    try:
        first = date.fromisoformat(date_from or "")
        last = date.fromisoformat(date_to or "")
    except ValueError:
        return _named(DEFAULT_RANGE, now, "Custom range needs two dates as YYYY-MM-DD: showing the last 7 days.")
    latest = now.date() + timedelta(days=MAX_FUTURE_DAYS)
    if not (first >= EARLIEST_DAY and last <= latest):
        return _named(DEFAULT_RANGE, now, f"Custom range must lie between {EARLIEST_DAY.isoformat()} and "
                                          f"{latest.isoformat()}: showing the last 7 days.")
    if last < first:
        return _named(DEFAULT_RANGE, now, "Custom range ends before it starts: showing the last 7 days.")
    if (last - first).days + 1 > MAX_CUSTOM_DAYS:
        return _named(DEFAULT_RANGE, now, f"Custom range is longer than {MAX_CUSTOM_DAYS} days.")
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    return TimeRange("custom", start, end, f"{first.isoformat()} – {last.isoformat()}")
