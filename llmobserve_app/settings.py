"""Configuration, read once from the environment.

Every secret comes from the environment. In development (the default) a missing ``JWT_SECRET`` is replaced
by a random one kept in the data folder, so sessions survive restarts without a constant in the code;
with ``LLMOBSERVE_ENV=production`` the app refuses to start without it.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """The environment does not describe a runnable app."""


@dataclass(frozen=True)
class Settings:
    env: str
    data_dir: Path
    database_url: str
    jwt_secret: str
    session_ttl_hours: int
    ingest_max_body_bytes: int
    ingest_max_events: int
    login_limit_per_account: str
    login_limit_per_address: str
    redis_url: str | None
    public_url: str  # API_URL: the address browsers and SDKs use to reach this server
    sqlite_synchronous: str = "NORMAL"

    @property
    def is_production(self) -> bool:
        return self.env == "production"


def _jwt_secret(env: str, data_dir: Path) -> str:
    secret = os.environ.get("JWT_SECRET", "").strip()
    if secret:
        if len(secret) < 32:
            raise ConfigError("JWT_SECRET must be at least 32 characters long.")
        return secret
    if env == "production":
        raise ConfigError(
            "JWT_SECRET is not set. In production the app refuses to start without it: "
            "set JWT_SECRET to a random string of at least 32 characters."
        )
    secret_file = data_dir / "jwt_secret"
    if secret_file.exists():
        return secret_file.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # Create with owner-only permissions; O_EXCL so two workers starting together agree on one secret.
    try:
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return secret_file.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    env = os.environ.get("LLMOBSERVE_ENV", "development").strip().lower()
    if env not in {"development", "production"}:
        raise ConfigError(f"LLMOBSERVE_ENV must be 'development' or 'production', not {env!r}.")
    data_dir = Path(os.environ.get("LLMOBSERVE_DATA_DIR", REPO_ROOT / "data")).resolve()
    database_url = os.environ.get("DATABASE_URL", "").strip() or f"sqlite:///{data_dir / 'llmobserve.db'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url.removeprefix("postgres://")
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    jwt_secret = _jwt_secret(env, data_dir)
    public_url = api_url().rstrip("/")
    if env == "production" and not public_url.startswith("https://"):
        raise ConfigError(
            f"API_URL is {public_url!r}. In production it must be the https:// address your users reach (behind "
            "a TLS proxy): session cookies are then Secure and browsers are told to use https only."
        )
    return Settings(
        env=env,
        data_dir=data_dir,
        database_url=database_url,
        jwt_secret=jwt_secret,
        session_ttl_hours=int(os.environ.get("SESSION_TTL_HOURS", "168")),
        ingest_max_body_bytes=int(os.environ.get("INGEST_MAX_BODY_BYTES", str(5 * 1024 * 1024))),
        ingest_max_events=_ingest_max_events(),
        login_limit_per_account=os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "5/minute"),
        login_limit_per_address=os.environ.get("LOGIN_LIMIT_PER_ADDRESS", "20/minute"),
        redis_url=os.environ.get("REDIS_URL") or None,
        public_url=public_url,
        sqlite_synchronous=_sqlite_synchronous(),
    )


def _sqlite_synchronous() -> str:
    """SQLITE_SYNCHRONOUS: NORMAL (default) or FULL, SQLite's ``PRAGMA synchronous`` (see ``db.py``)."""
    value = os.environ.get("SQLITE_SYNCHRONOUS", "NORMAL").strip().upper()
    if value not in {"NORMAL", "FULL"}:
        raise ConfigError(f"SQLITE_SYNCHRONOUS must be NORMAL or FULL, not {value!r}.")
    return value


def _ingest_max_events() -> int:
    """INGEST_MAX_EVENTS, bounded so that a batch's sums always fit the rollups' BIGINT columns."""
    from llmobserve_app.services.ingest.fast_schema import MAX_BATCH_EVENTS

    value = int(os.environ.get("INGEST_MAX_EVENTS", "1000"))
    if not 1 <= value <= MAX_BATCH_EVENTS:
        raise ConfigError(f"INGEST_MAX_EVENTS must be between 1 and {MAX_BATCH_EVENTS}, got {value}.")
    return value


def origin_of(url: str, variable: str = "API_URL") -> str:
    """``scheme://host[:port]`` as browsers send it in ``Origin`` (lower case, no default port, no path)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{variable}: {url!r} is not an http(s) origin such as https://llmobserve.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ConfigError(f"{variable}: {url!r} must be an origin only (scheme://host[:port]), without a path")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default_port = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default_port else ""
    return f"{parts.scheme}://{host}{port}"


def api_url() -> str:
    """Where the browser reaches the backend (and, in single-port mode, the pages): API_URL or localhost:$PORT."""
    return os.environ.get("API_URL") or f"http://localhost:{os.environ.get('PORT', '8000')}"


def cors_origins() -> tuple[str, ...]:
    """Origins allowed to call the app from a browser: the app's own (API_URL's) plus ``CORS_ORIGINS``.

    Read without the rest of the settings because rxconfig.py needs it (Reflex's CORS and websocket checks).
    A wildcard is refused: the session cookie would then be readable by any site.
    """
    origins = [origin_of(api_url())]
    for item in os.environ.get("CORS_ORIGINS", "").split(","):
        if not item.strip():
            continue
        if item.strip() == "*":
            raise ConfigError("CORS_ORIGINS: '*' is not allowed; list the origins (https://app.example.com,...)")
        origin = origin_of(item, "CORS_ORIGINS")
        if origin not in origins:
            origins.append(origin)
    return tuple(origins)


def trusted_proxies() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """TRUSTED_PROXIES: addresses whose ``X-Forwarded-Proto`` is believed (default: loopback only)."""
    raw = os.environ.get("TRUSTED_PROXIES", "127.0.0.1,::1")
    try:
        return tuple(ipaddress.ip_network(item.strip()) for item in raw.split(",") if item.strip())
    except ValueError as error:
        raise ConfigError(f"TRUSTED_PROXIES: {error}") from None
