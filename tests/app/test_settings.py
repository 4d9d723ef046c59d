"""Configuration: the JWT secret is never a constant, and production refuses to start without one."""

from __future__ import annotations

import stat

import pytest

from llmobserve_app.settings import ConfigError, get_settings


@pytest.fixture
def clean_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("LLMOBSERVE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("JWT_SECRET", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_production_refuses_to_start_without_a_secret(clean_settings, monkeypatch) -> None:
    monkeypatch.setenv("LLMOBSERVE_ENV", "production")
    with pytest.raises(ConfigError, match="JWT_SECRET is not set"):
        get_settings()


def test_production_requires_an_https_public_url(clean_settings, monkeypatch) -> None:
    monkeypatch.setenv("LLMOBSERVE_ENV", "production")
    monkeypatch.setenv("JWT_SECRET", "x" * 40)
    monkeypatch.setenv("API_URL", "http://llmobserve.example.com")
    with pytest.raises(ConfigError, match="API_URL"):
        get_settings()
    monkeypatch.setenv("API_URL", "https://llmobserve.example.com/")
    get_settings.cache_clear()
    assert get_settings().public_url == "https://llmobserve.example.com"


def test_short_secret_is_refused(clean_settings, monkeypatch) -> None:
    monkeypatch.setenv("JWT_SECRET", "short")
    with pytest.raises(ConfigError, match="at least 32"):
        get_settings()


def test_development_creates_a_private_random_secret_and_keeps_it(clean_settings) -> None:
    first = get_settings().jwt_secret
    secret_file = clean_settings / "jwt_secret"
    assert secret_file.read_text() == first and len(first) >= 32
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    get_settings.cache_clear()
    assert get_settings().jwt_secret == first


def test_postgres_urls_use_psycopg(clean_settings, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u@127.0.0.1/db")
    assert get_settings().database_url == "postgresql+psycopg://u@127.0.0.1/db"


def test_sqlite_synchronous_is_normal_unless_full_is_asked_for(clean_settings, monkeypatch) -> None:
    """The ingest writer and the app's own connections run the configured ``PRAGMA synchronous``."""
    from ingest_api.sqlite_writer import SqliteWriter
    from llmobserve_app.db import get_engine

    for value, expected in ((None, 1), ("full", 2)):
        if value is not None:
            monkeypatch.setenv("SQLITE_SYNCHRONOUS", value)
        get_settings.cache_clear()
        writer = SqliteWriter(str(clean_settings / "writer.db"))
        try:
            assert writer._connection.execute("PRAGMA synchronous").fetchall() == [(expected,)]
        finally:
            writer.close()
        engine = get_engine(f"sqlite:///{clean_settings / f'app-{expected}.db'}")
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == expected
        engine.dispose()
    monkeypatch.setenv("SQLITE_SYNCHRONOUS", "OFF")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="SQLITE_SYNCHRONOUS"):
        get_settings()
