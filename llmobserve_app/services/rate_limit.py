"""Login rate limiting with the ``limits`` library (moving window; Redis when REDIS_URL is set)."""

from __future__ import annotations

from functools import lru_cache

from limits import parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from llmobserve_app.settings import get_settings


@lru_cache(maxsize=1)
def _limiter() -> MovingWindowRateLimiter:
    redis_url = get_settings().redis_url
    storage = storage_from_string(redis_url) if redis_url else MemoryStorage()
    return MovingWindowRateLimiter(storage)


def allow_login_attempt(account: str, address: str) -> bool:
    """Record one login attempt; False when the account or the client address is over its limit."""
    settings = get_settings()
    limiter = _limiter()
    per_account = parse(settings.login_limit_per_account)
    per_address = parse(settings.login_limit_per_address)
    account_ok = limiter.hit(per_account, "login-account", account.lower())
    address_ok = limiter.hit(per_address, "login-address", address or "unknown")
    return account_ok and address_ok


def reset_for_tests() -> None:
    """Forget every counter (test isolation only)."""
    _limiter().storage.reset()
