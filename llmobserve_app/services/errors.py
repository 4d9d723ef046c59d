"""Errors that carry a message fit to show a user, and the field it concerns."""

from __future__ import annotations


class UserFacingError(ValueError):
    """A problem with the user's input or request; ``message`` is safe to display as-is."""

    def __init__(self, message: str, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code  # a stable name for the problem, for replies that must not carry free text


class RateLimitedError(UserFacingError):
    """Too many attempts; try again later."""
