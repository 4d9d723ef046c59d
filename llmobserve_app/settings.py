"""Configuration: every environment variable of the server, parsed and validated here, once (pydantic-settings).

Every secret comes from the environment. In development (the default) a missing ``JWT_SECRET`` is replaced
by a random one kept in the data folder, so sessions survive restarts without a constant in the code;
with ``LLMOBSERVE_ENV=production`` the app refuses to start without it.

A bad value stops the app with a ``ConfigError`` that names the variable
(``SESSION_TTL_HOURS must be a whole number, not 'abc'``). ``WebSettings`` holds the variables that rxconfig.py
needs while building the frontend (no secret required); ``Settings`` adds the rest. Services never read this
module: the callers (ingest_api, state, jobs) pass the values in.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from limits import parse as parse_rate_limit
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from llmobserve_app.services.billing.promo_code_list import PromoCode, parse_promo_codes
from llmobserve_app.services.billing.stripe_client import DEFAULT_API_BASE, StripeConfig
from llmobserve_app.services.ingest.fast_schema import MAX_BATCH_EVENTS

REPO_ROOT = Path(__file__).resolve().parent.parent
SDK_DIR = REPO_ROOT / "sdk"  # the SDK this server builds and serves
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(RuntimeError):
    """The environment does not describe a runnable app."""


def origin_of(url: str, variable: str = "API_URL") -> str:
    """``scheme://host[:port]`` as browsers send it in ``Origin`` (lower case, no default port, no path)."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"{variable}: {url!r} has an invalid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{variable}: {url!r} is not an http(s) origin such as https://llmobserve.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ConfigError(f"{variable}: {url!r} must be an origin only (scheme://host[:port]), without a path")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default_port = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}{f':{port}' if port and port != default_port else ''}"


def _comma_list(value: object) -> object:
    return [item.strip() for item in value.split(",") if item.strip()] if isinstance(value, str) else value


# How pydantic's own checks read in a ConfigError ("SESSION_TTL_HOURS must be a whole number, not 'abc'").
_PHRASES = {
    "int_parsing": "must be a whole number", "int_from_float": "must be a whole number",
    "int_type": "must be a whole number", "float_parsing": "must be a number", "float_type": "must be a number",
    "greater_than_equal": "must be at least {ge}", "greater_than": "must be more than {gt}",
    "less_than_equal": "must be at most {le}",
}


def _config_error(error: ValidationError) -> ConfigError:
    """One line per bad variable, each naming it (the ``validation_alias`` of the field is the variable)."""
    lines = []
    for problem in error.errors():
        variable = str(problem["loc"][0]).upper() if problem["loc"] else "configuration"
        phrase = _PHRASES.get(problem["type"], problem["msg"]).format(**problem.get("ctx") or {})
        lines.append(f"{variable} {phrase}, not {problem['input']!r}.")
    return ConfigError(" ".join(lines))


class WebSettings(BaseSettings):
    """Where browsers and SDKs reach the app, which origins and proxies it believes, where shared state lives
    (Redis). No secret is needed to read these."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", env_ignore_empty=True)

    port: int = Field(8000, ge=1, le=65535, validation_alias="PORT")
    # API_URL: the address browsers and SDKs use to reach this server (default http://localhost:$PORT).
    public_url: str = Field("", validation_alias="API_URL", validate_default=True)
    # CORS_ORIGINS: extra browser origins allowed to call the app (comma-separated; '*' refused).
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field((), validation_alias="CORS_ORIGINS")
    # TRUSTED_PROXIES: addresses whose X-Forwarded-Proto is believed (default: loopback only).
    trusted_proxies: Annotated[tuple[IpNetwork, ...], NoDecode] = Field(
        ("127.0.0.1", "::1"), validation_alias="TRUSTED_PROXIES", validate_default=True)
    # Reflex State and the login rate limits live in Redis when set (required for several workers).
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str, info: ValidationInfo) -> str:
        url = value.strip().rstrip("/") or f"http://localhost:{info.data.get('port', 8000)}"
        origin_of(url, "API_URL")
        return url

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _cors_origins(cls, value: object) -> tuple[str, ...]:
        items = _comma_list(value)
        if "*" in items:
            raise ConfigError("CORS_ORIGINS: '*' is not allowed; list the origins (https://app.example.com,...)")
        return tuple(origin_of(item, "CORS_ORIGINS") for item in items)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _trusted_proxies(cls, value: object) -> tuple[IpNetwork, ...]:
        try:
            return tuple(ipaddress.ip_network(str(item).strip()) for item in _comma_list(value))
        except ValueError as error:
            raise ConfigError(f"TRUSTED_PROXIES: {error}") from None

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value.strip()).scheme not in {"redis", "rediss", "unix"}:
            raise ConfigError(f"REDIS_URL must be a redis://, rediss:// or unix:// URL, not {value!r}.")
        return value.strip() if value else None

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        """The app's own origin (API_URL's) plus CORS_ORIGINS, without repeats."""
        return tuple(dict.fromkeys((origin_of(self.public_url), *self.cors_origins)))


_CHOICES = {"env": ("development", "production"), "sqlite_synchronous": ("NORMAL", "FULL")}


class Settings(WebSettings):
    """Everything the server reads from its environment."""

    env: str = Field("development", validation_alias="LLMOBSERVE_ENV")
    data_dir: Path = Field(REPO_ROOT / "data", validation_alias="LLMOBSERVE_DATA_DIR")
    database_url: str = Field("", validation_alias="DATABASE_URL", validate_default=True)
    jwt_secret: str = Field("", validation_alias="JWT_SECRET", validate_default=True, repr=False)
    session_ttl_hours: int = Field(168, ge=1, validation_alias="SESSION_TTL_HOURS")
    ingest_max_body_bytes: int = Field(5 * 1024 * 1024, ge=1, validation_alias="INGEST_MAX_BODY_BYTES")
    # Bounded so that a batch's sums always fit the rollups' BIGINT columns.
    ingest_max_events: int = Field(1000, ge=1, le=MAX_BATCH_EVENTS, validation_alias="INGEST_MAX_EVENTS")
    login_limit_per_account: str = Field("5/minute", validation_alias="LOGIN_LIMIT_PER_ACCOUNT")
    login_limit_per_address: str = Field("20/minute", validation_alias="LOGIN_LIMIT_PER_ADDRESS")
    # SQLite's PRAGMA synchronous: NORMAL (default) or FULL (see db.py).
    sqlite_synchronous: str = Field("NORMAL", validation_alias="SQLITE_SYNCHRONOUS")
    # How long the background jobs' lease lasts without renewal (jobs.py).
    job_lease_seconds: float = Field(60.0, gt=0, validation_alias="LLMOBSERVE_JOB_LEASE_SECONDS")
    # Billing (README "Billing (hosted mode)"): without STRIPE_SECRET_KEY the installation is self-hosted: no
    # billing anywhere, every feature. STRIPE_API_BASE points the stripe client at another server (tests: a fake).
    stripe_secret_key: str | None = Field(None, validation_alias="STRIPE_SECRET_KEY", repr=False)
    stripe_webhook_secret: str | None = Field(None, validation_alias="STRIPE_WEBHOOK_SECRET", repr=False)
    stripe_price_id: str | None = Field(None, validation_alias="STRIPE_PRICE_ID")
    stripe_api_base: str | None = Field(None, validation_alias="STRIPE_API_BASE")
    # Our own promo codes (hosted): CODE[:YYYY-MM-DD[:MAX]], comma-separated (services/billing/promo_codes.py).
    promo_codes: str = Field("", validation_alias="PROMO_CODES")
    # Self-hosted only: events and rollups older than this many days are deleted (daily job).
    retention_days: int | None = Field(None, ge=1, validation_alias="RETENTION_DAYS")
    # Alert e-mail through SendGrid (services/notifications). No key: e-mail alerts are not sent (the UI says so).
    sendgrid_api_key: str | None = Field(None, validation_alias="SENDGRID_API_KEY", repr=False)
    sendgrid_from: str = Field("", validation_alias="SENDGRID_FROM")  # the verified sender; required with a key
    sendgrid_api_url: str = Field("https://api.sendgrid.com", validation_alias="SENDGRID_API_URL")  # its API host
    # PRICING_URL: price data in our format, fetched daily (services/price_updates.py); unset: bundled data only.
    pricing_url: str | None = Field(None, validation_alias="PRICING_URL")
    # TEST ONLY (llmobserve_app/clock.py): a file holding a number of seconds added to the caps' "now", so an
    # end-to-end test can move the whole app to the next UTC day. Refused in production.
    test_clock_offset_file: str = Field("", validation_alias="LLMOBSERVE_TEST_CLOCK_OFFSET_FILE")

    @field_validator("env", "sqlite_synchronous", mode="before")
    @classmethod
    def _one_of(cls, value: Any, info: ValidationInfo) -> str:
        """One of the field's ``_CHOICES``, whatever its case."""
        choices, text = _CHOICES[info.field_name], str(value).strip()
        for choice in choices:
            if choice.lower() == text.lower():
                return choice
        variable = cls.model_fields[info.field_name].validation_alias
        raise ConfigError(f"{variable} must be {' or '.join(map(repr, choices))}, not {text!r}.")

    @field_validator("data_dir")
    @classmethod
    def _data_dir(cls, value: Path) -> Path:
        return value.resolve()

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str, info: ValidationInfo) -> str:
        url = value.strip() or f"sqlite:///{info.data['data_dir'] / 'llmobserve.db'}"
        if url.startswith("postgres://"):
            url = "postgresql://" + url.removeprefix("postgres://")
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        try:
            make_url(url)
        except ArgumentError:
            raise ConfigError(f"DATABASE_URL must be a database URL such as postgresql://user@host/db, "
                              f"not {value!r}.") from None
        return url

    @field_validator("jwt_secret")
    @classmethod
    def _jwt_secret(cls, value: str, info: ValidationInfo) -> str:
        return _jwt_secret(value.strip(), info.data["env"], info.data["data_dir"])

    @field_validator("login_limit_per_account", "login_limit_per_address")
    @classmethod
    def _rate_limit(cls, value: str, info: ValidationInfo) -> str:
        try:
            parse_rate_limit(value)
        except ValueError:
            variable = cls.model_fields[info.field_name].validation_alias
            raise ConfigError(f"{variable} must be a rate such as '5/minute', not {value!r}.") from None
        return value

    @field_validator("stripe_secret_key", "stripe_webhook_secret", "stripe_price_id", mode="before")
    @classmethod
    def _stripped(cls, value: object) -> object:
        return (value.strip() or None) if isinstance(value, str) else value

    @field_validator("stripe_api_base")
    @classmethod
    def _stripe_api_base(cls, value: str | None) -> str | None:
        return origin_of(value, "STRIPE_API_BASE") if value else None

    @field_validator("promo_codes")
    @classmethod
    def _promo_codes(cls, value: str | None) -> str:
        try:
            parse_promo_codes(value)
        except ValueError as error:
            raise ConfigError(f"PROMO_CODES: {error}") from None
        return value or ""

    @model_validator(mode="after")
    def _hosted_billing_is_complete(self) -> Settings:
        if not self.hosted:
            return self
        for variable, value in (("STRIPE_WEBHOOK_SECRET", self.stripe_webhook_secret),
                                ("STRIPE_PRICE_ID", self.stripe_price_id)):
            if not value:
                raise ConfigError(f"STRIPE_SECRET_KEY is set (hosted mode) but {variable} is not.")
        if self.retention_days is not None:
            raise ConfigError("RETENTION_DAYS is for self-hosted installations; hosted plans set their own history "
                              "(unset RETENTION_DAYS or STRIPE_SECRET_KEY).")
        return self

    @property
    def hosted(self) -> bool:
        """Billing is on (STRIPE_SECRET_KEY is set)."""
        return self.stripe_secret_key is not None

    def stripe_config(self) -> StripeConfig | None:
        """What the billing services need, or None when self-hosted."""
        if self.stripe_secret_key is None or not self.stripe_webhook_secret or not self.stripe_price_id:
            return None
        return StripeConfig(self.stripe_secret_key, self.stripe_webhook_secret, self.stripe_price_id,
                            self.public_url, self.stripe_api_base or DEFAULT_API_BASE)

    def promo_code_table(self) -> dict[str, PromoCode]:
        return parse_promo_codes(self.promo_codes)

    @field_validator("sendgrid_api_key", "sendgrid_from")
    @classmethod
    def _sendgrid_stripped(cls, value: str | None) -> str | None:
        return value.strip() if value else value

    @field_validator("sendgrid_api_url")
    @classmethod
    def _sendgrid_api_url(cls, value: str) -> str:
        url = value.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"SENDGRID_API_URL must be an http(s) URL such as https://api.sendgrid.com, "
                              f"not {value!r}.")
        return url

    @model_validator(mode="after")
    def _sendgrid_key_needs_a_sender(self) -> Settings:
        if self.sendgrid_api_key and "@" not in self.sendgrid_from:
            raise ConfigError("SENDGRID_FROM must be the verified sender address alerts are sent from "
                              "(e.g. alerts@example.com) when SENDGRID_API_KEY is set.")
        return self

    @model_validator(mode="after")
    def _no_test_clock_in_production(self) -> Settings:
        if self.is_production and self.test_clock_offset_file:
            raise ConfigError("LLMOBSERVE_TEST_CLOCK_OFFSET_FILE is for tests only: unset it in production.")
        return self

    @model_validator(mode="after")
    def _production_is_served_over_https(self) -> Settings:
        if self.is_production and not self.public_url.startswith("https://"):
            raise ConfigError(
                f"API_URL is {self.public_url!r}. In production it must be the https:// address your users reach "
                "(behind a TLS proxy): session cookies are then Secure and browsers are told to use https only."
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"


def _jwt_secret(secret: str, env: str, data_dir: Path) -> str:
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


_Kind = TypeVar("_Kind", bound=BaseSettings)


def _read(kind: type[_Kind]) -> _Kind:
    try:
        return kind()
    except ValidationError as error:
        raise _config_error(error) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The server's settings, read once (tests call ``get_settings.cache_clear()`` after changing the env)."""
    return _read(Settings)


def web_settings() -> WebSettings:
    """Read afresh: rxconfig.py needs these while building the frontend, when no JWT_SECRET may be set."""
    return _read(WebSettings)


def api_url() -> str:
    """Where the browser reaches the backend (and, in single-port mode, the pages): API_URL or localhost:$PORT."""
    return web_settings().public_url


def cors_origins() -> tuple[str, ...]:
    """Origins allowed to call the app from a browser: the app's own (API_URL's) plus ``CORS_ORIGINS``.

    Read without the rest of the settings because rxconfig.py needs it (Reflex's CORS and websocket checks).
    A wildcard is refused: the session cookie would then be readable by any site.
    """
    return web_settings().allowed_origins


def trusted_proxies() -> tuple[IpNetwork, ...]:
    """TRUSTED_PROXIES: addresses whose ``X-Forwarded-Proto`` is believed (default: loopback only)."""
    return web_settings().trusted_proxies
