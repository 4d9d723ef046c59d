"""What one delivery attempt came to, and which answers are worth retrying."""

from __future__ import annotations

from dataclasses import dataclass

MAX_ERROR_LENGTH = 500  # notifications.last_error


@dataclass(frozen=True)
class SendOutcome:
    delivered: bool
    status_code: int | None = None  # the receiver's HTTP status, None when no answer came
    error: str | None = None
    retryable: bool = False
    retry_after_seconds: float | None = None  # the receiver's Retry-After, when it gave one in seconds


def retryable_status(status_code: int) -> bool:
    """429 and 5xx are worth trying again; other 4xx (and redirects, which are not followed) are not."""
    return status_code == 429 or status_code >= 500


def from_status(status_code: int, body_excerpt: str = "", retry_after: str | None = None) -> SendOutcome:
    if 200 <= status_code < 300:
        return SendOutcome(delivered=True, status_code=status_code)
    error = f"HTTP {status_code}" + (f": {body_excerpt}" if body_excerpt else "")
    return SendOutcome(delivered=False, status_code=status_code, error=error[:MAX_ERROR_LENGTH],
                       retryable=retryable_status(status_code), retry_after_seconds=_seconds(retry_after))


def network_failure(error: BaseException) -> SendOutcome:
    """No answer (refused, reset, timed out…): retried."""
    text = f"{type(error).__name__}: {error}".strip()
    return SendOutcome(delivered=False, error=text[:MAX_ERROR_LENGTH], retryable=True)


def permanent_failure(reason: str) -> SendOutcome:
    return SendOutcome(delivered=False, error=reason[:MAX_ERROR_LENGTH], retryable=False)


def _seconds(value: str | None) -> float | None:
    """Retry-After in delta-seconds (an HTTP date is ignored: backoff applies then)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
