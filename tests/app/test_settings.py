"""Configuration: every variable parsed and checked in one place, a bad value named in the error; the JWT secret
is never a constant, and production refuses to start without one."""

from __future__ import annotations

import stat
from pathlib import Path

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


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("PORT", "eighty", "PORT must be a whole number, not 'eighty'"),
    ("PORT", "70000", "PORT must be at most 65535"),
    ("API_URL", "llmobserve.example.com", "API_URL: 'llmobserve.example.com' is not an http(s) origin"),
    ("API_URL", "https://llmobserve.example.com/app", "API_URL: 'https://llmobserve.example.com/app' must be an "
                                                      "origin only"),
    ("CORS_ORIGINS", "https://a.example.com,*", "CORS_ORIGINS: '*' is not allowed"),
    ("CORS_ORIGINS", "https://a.example.com:99999", "CORS_ORIGINS: 'https://a.example.com:99999' has an invalid port"),
    ("TRUSTED_PROXIES", "127.0.0.1,proxy.local", "TRUSTED_PROXIES: 'proxy.local' does not appear to be"),
    ("REDIS_URL", "localhost:6379", "REDIS_URL must be a redis://, rediss:// or unix:// URL, not 'localhost:6379'"),
    ("LLMOBSERVE_ENV", "staging", "LLMOBSERVE_ENV must be 'development' or 'production', not 'staging'"),
    ("DATABASE_URL", "my database", "DATABASE_URL must be a database URL"),
    ("JWT_SECRET", "x" * 31, "JWT_SECRET must be at least 32 characters"),
    ("SESSION_TTL_HOURS", "abc", "SESSION_TTL_HOURS must be a whole number, not 'abc'"),
    ("SESSION_TTL_HOURS", "1.5", "SESSION_TTL_HOURS must be a whole number, not '1.5'"),
    ("SESSION_TTL_HOURS", "0", "SESSION_TTL_HOURS must be at least 1, not '0'"),
    ("INGEST_MAX_BODY_BYTES", "5MB", "INGEST_MAX_BODY_BYTES must be a whole number, not '5MB'"),
    ("INGEST_MAX_BODY_BYTES", "-1", "INGEST_MAX_BODY_BYTES must be at least 1"),
    ("INGEST_MAX_EVENTS", "0", "INGEST_MAX_EVENTS must be at least 1"),
    ("INGEST_MAX_EVENTS", "10000", "INGEST_MAX_EVENTS must be at most 9223, not '10000'"),
    ("LOGIN_LIMIT_PER_ACCOUNT", "five", "LOGIN_LIMIT_PER_ACCOUNT must be a rate such as '5/minute', not 'five'"),
    ("LOGIN_LIMIT_PER_ADDRESS", "20/fortnight", "LOGIN_LIMIT_PER_ADDRESS must be a rate such as '5/minute'"),
    ("SQLITE_SYNCHRONOUS", "off", "SQLITE_SYNCHRONOUS must be 'NORMAL' or 'FULL', not 'off'"),
    ("LLMOBSERVE_JOB_LEASE_SECONDS", "soon", "LLMOBSERVE_JOB_LEASE_SECONDS must be a number, not 'soon'"),
    ("LLMOBSERVE_JOB_LEASE_SECONDS", "0", "LLMOBSERVE_JOB_LEASE_SECONDS must be more than 0"),
])
def test_a_bad_value_names_its_variable(clean_settings, monkeypatch, variable, value, message) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        get_settings()
    assert str(caught.value).startswith(message)


def test_values_are_parsed_into_their_types(clean_settings, monkeypatch) -> None:
    for variable, value in (("PORT", "9100"), ("SESSION_TTL_HOURS", " 12 "), ("INGEST_MAX_EVENTS", "9223"),
                            ("CORS_ORIGINS", "https://B.example.com:443/, http://c.example.com:8080"),
                            ("TRUSTED_PROXIES", "10.0.0.0/8, ::1"), ("REDIS_URL", "redis://127.0.0.1:6379/14"),
                            ("LLMOBSERVE_ENV", " Development "), ("LLMOBSERVE_JOB_LEASE_SECONDS", "2.5"),
                            ("SQLITE_SYNCHRONOUS", "full"), ("DATABASE_URL", "")):
        monkeypatch.setenv(variable, value)
    settings = get_settings()
    assert (settings.port, settings.public_url, settings.session_ttl_hours, settings.ingest_max_events) == (
        9100, "http://localhost:9100", 12, 9223)
    assert settings.allowed_origins == ("http://localhost:9100", "https://b.example.com", "http://c.example.com:8080")
    assert [str(network) for network in settings.trusted_proxies] == ["10.0.0.0/8", "::1/128"]
    assert settings.redis_url == "redis://127.0.0.1:6379/14" and settings.env == "development"
    assert settings.job_lease_seconds == 2.5 and settings.sqlite_synchronous == "FULL"
    assert settings.database_url == f"sqlite:///{clean_settings / 'llmobserve.db'}"  # empty means unset


def test_settings_are_frozen(clean_settings) -> None:
    with pytest.raises(ValueError, match="frozen"):
        get_settings().session_ttl_hours = 1


def test_services_never_read_the_settings() -> None:
    """The callers (ingest_api, state, jobs) pass configuration into services, which stay testable alone."""
    import llmobserve_app.services as services

    root = Path(services.__file__).parent
    imports = ("llmobserve_app.settings", "from llmobserve_app import settings")
    readers = [path.name for path in root.rglob("*.py") if any(text in path.read_text() for text in imports)]
    assert readers == []
