"""Checks of a cap's fields, each failing with a UserFacingError that names the field (as the API spells it)."""

from __future__ import annotations

import ipaddress
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from llmobserve_app.services.caps.periods import PERIODS
from llmobserve_app.services.caps.rules import ACTIONS, EVERY_CUSTOMER, SCOPES
from llmobserve_app.services.errors import UserFacingError
from llmobserve_app.services.money import usd_to_nanos

MAX_LIMIT_USD = Decimal(1_000_000_000)
MAX_VALUE_LENGTH = 200
MAX_NAME_LENGTH = 200
MAX_URL_LENGTH = 2000


def _one_of(value: Any, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise UserFacingError(f"must be one of {', '.join(allowed)}", field)
    return value


def scope(value: Any) -> str:
    return _one_of(value, SCOPES, "scope")


def period(value: Any) -> str:
    return _one_of(value, PERIODS, "period")


def action(value: Any) -> str:
    return _one_of(value, ACTIONS, "action")


def _text(value: Any, field: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise UserFacingError("must be a string", field)
    value = value.strip()
    if len(value) > max_length:
        raise UserFacingError(f"must be at most {max_length} characters", field)
    if "\x00" in value:
        raise UserFacingError("must not contain NUL characters", field)
    return value


def name(value: Any) -> str:
    return _text(value if value is not None else "", "name", MAX_NAME_LENGTH)


def scope_value(scope_name: str, value: Any) -> str:
    """'' for ``global``; otherwise required, and ``*`` (every customer) only for ``customer``."""
    value = _text(value if value is not None else "", "value", MAX_VALUE_LENGTH)
    if scope_name == "global":
        if value:
            raise UserFacingError("must be empty for a global cap", "value")
        return ""
    if not value:
        raise UserFacingError(f"is required for a {scope_name} cap", "value")
    if value == EVERY_CUSTOMER and scope_name != "customer":
        raise UserFacingError("'*' (every customer) is only for customer caps", "value")
    return value


def limit_nanos(value: Any) -> int:
    """A positive amount of US dollars (a string like "0.10", or a number) in nano-dollars."""
    try:
        usd = Decimal(value.strip() if isinstance(value, str) else str(value))
    except (InvalidOperation, ValueError):
        raise UserFacingError("must be an amount in US dollars, like \"0.10\"", "limit_usd") from None
    if isinstance(value, bool) or not usd.is_finite() or usd <= 0:
        raise UserFacingError("must be a positive amount", "limit_usd")
    if usd > MAX_LIMIT_USD:
        raise UserFacingError(f"must be at most {MAX_LIMIT_USD:,} USD", "limit_usd")
    nanos = usd_to_nanos(usd)
    if nanos < 1:
        raise UserFacingError("must be at least one nano-dollar (0.000000001)", "limit_usd")
    return nanos


def threshold_pct(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 99:
        raise UserFacingError("must be a whole percentage from 1 to 99", "threshold_pct")
    return value


def flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise UserFacingError("must be true or false", field)
    return value


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def webhook_url(value: Any, field: str) -> str | None:
    """None or '' for none; else an https URL, or http to a loopback host (a local receiver or a test)."""
    if value is None:
        return None
    url = _text(value, field, MAX_URL_LENGTH)
    if not url:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        raise UserFacingError("must be a valid URL", field) from None
    if not host or any(char.isspace() for char in url):
        raise UserFacingError("must be a valid URL with a host", field)
    if parts.scheme == "https" or (parts.scheme == "http" and _loopback(host)):
        return url
    raise UserFacingError("must be an https URL (http only to a loopback address)", field)
