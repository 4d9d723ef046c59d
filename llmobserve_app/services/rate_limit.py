"""Login rate limiting with the ``limits`` library (moving window; in Redis when the caller gives a URL)."""

from __future__ import annotations

from limits import parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter


class LoginLimiter:
    """Counts login attempts per account and per client address (rates such as ``"5/minute"``)."""

    def __init__(self, per_account: str, per_address: str, redis_url: str | None = None) -> None:
        self.per_account, self.per_address = parse(per_account), parse(per_address)
        self._limiter = MovingWindowRateLimiter(storage_from_string(redis_url) if redis_url else MemoryStorage())

    def allow(self, account: str, address: str) -> bool:
        """Record one login attempt; False when the account or the client address is over its limit."""
        account_ok = self._limiter.hit(self.per_account, "login-account", account.lower())
        address_ok = self._limiter.hit(self.per_address, "login-address", address or "unknown")
        return account_ok and address_ok

    def reset(self) -> None:
        """Forget every counter (test isolation only)."""
        self._limiter.storage.reset()
