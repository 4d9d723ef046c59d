"""The UTC period a cap's spend is counted over: a day, an ISO week (from Monday 00:00) or a calendar month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

PERIODS = ("day", "week", "month")


def period_bounds(period: str, now: datetime) -> tuple[datetime, datetime]:
    """``[start, end)`` of the ``period`` holding ``now`` (timezone-aware; taken in UTC)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day, day + timedelta(days=1)
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    if period == "month":
        start = day.replace(day=1)
        end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
        return start, end
    raise ValueError(f"unknown period {period!r}")
