"""The caps' clock: the real UTC time, shifted only by the test-only offset file, which production refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from llmobserve_app.clock import app_clock, utc_now
from llmobserve_app.settings import ConfigError, get_settings


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    monkeypatch.setenv("LLMOBSERVE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LLMOBSERVE_TEST_CLOCK_OFFSET_FILE", raising=False)
    get_settings.cache_clear()
    app_clock.cache_clear()
    yield tmp_path
    get_settings.cache_clear()
    app_clock.cache_clear()


def test_the_clock_is_real_utc_time_by_default(fresh) -> None:
    assert app_clock() is utc_now


def test_the_offset_file_moves_the_clock_while_the_app_runs(fresh, monkeypatch) -> None:
    offset_file = fresh / "offset"
    monkeypatch.setenv("LLMOBSERVE_TEST_CLOCK_OFFSET_FILE", str(offset_file))
    clock = app_clock()
    assert abs(clock() - datetime.now(UTC)) < timedelta(seconds=5)  # no file yet: no offset
    offset_file.write_text(str(86_400))
    assert timedelta(hours=23, minutes=59) < clock() - datetime.now(UTC) < timedelta(days=1, seconds=5)


def test_production_refuses_the_test_clock(fresh, monkeypatch) -> None:
    monkeypatch.setenv("LLMOBSERVE_ENV", "production")
    monkeypatch.setenv("JWT_SECRET", "x" * 40)
    monkeypatch.setenv("API_URL", "https://llmobserve.example.com")
    monkeypatch.setenv("LLMOBSERVE_TEST_CLOCK_OFFSET_FILE", str(fresh / "offset"))
    with pytest.raises(ConfigError, match="LLMOBSERVE_TEST_CLOCK_OFFSET_FILE is for tests only"):
        get_settings()
