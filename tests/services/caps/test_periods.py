from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from llmobserve_app.services.caps.periods import period_bounds


def test_day_week_month_bounds_in_utc() -> None:
    now = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)  # a Thursday
    assert period_bounds("day", now) == (datetime(2026, 12, 31, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert period_bounds("week", now) == (datetime(2026, 12, 28, tzinfo=UTC), datetime(2027, 1, 4, tzinfo=UTC))
    assert period_bounds("month", now) == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def test_monday_midnight_starts_a_week_and_other_zones_are_taken_in_utc() -> None:
    monday = datetime(2026, 11, 30, tzinfo=UTC)
    assert period_bounds("week", monday)[0] == monday
    assert period_bounds("week", monday - timedelta(microseconds=1))[1] == monday
    # 01:00 on Monday in UTC+2 is still Sunday in UTC.
    assert period_bounds("day", datetime(2026, 11, 30, 1, tzinfo=timezone(timedelta(hours=2))))[0] == \
        datetime(2026, 11, 29, tzinfo=UTC)
    assert period_bounds("month", datetime(2028, 2, 29, 12, tzinfo=UTC))[1] == datetime(2028, 3, 1, tzinfo=UTC)


def test_naive_or_unknown_is_refused() -> None:
    with pytest.raises(ValueError):
        period_bounds("day", datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        period_bounds("year", datetime(2026, 1, 1, tzinfo=UTC))
