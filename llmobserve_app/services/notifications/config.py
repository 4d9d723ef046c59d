"""What delivery needs to know about this installation (built from the settings by the caller)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_SENDGRID_API_URL = "https://api.sendgrid.com"


@dataclass(frozen=True)
class DeliveryConfig:
    sendgrid_api_key: str | None = None
    sendgrid_from: str = ""
    sendgrid_api_url: str = DEFAULT_SENDGRID_API_URL  # SendGrid's API host; tests point it at a local fake
    timeout_seconds: float = 10.0  # per HTTP request (connect, read, write each)

    def __repr__(self) -> str:  # never print the API key in a log or a traceback
        key = "set" if self.sendgrid_api_key else "unset"
        return f"DeliveryConfig(sendgrid_api_key={key}, sendgrid_from={self.sendgrid_from!r}, " \
               f"sendgrid_api_url={self.sendgrid_api_url!r}, timeout_seconds={self.timeout_seconds})"


def email_configured(config: DeliveryConfig) -> bool:
    """Whether e-mail can be sent at all (the UI says "email is not configured" otherwise)."""
    return bool(config.sendgrid_api_key and config.sendgrid_from)
