"""E-mail through SendGrid's v3 API with the official ``sendgrid`` client (``SENDGRID_API_URL`` picks the host)."""

from __future__ import annotations

import http.client

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Mail

from llmobserve_app.services.notifications.config import DeliveryConfig
from llmobserve_app.services.notifications.outcome import (
    SendOutcome,
    from_status,
    network_failure,
    permanent_failure,
)


def send_email(config: DeliveryConfig, to: str, subject: str, text: str) -> SendOutcome:
    """Send one plain-text e-mail (plain text: nothing user-written is ever interpreted as HTML)."""
    client = SendGridAPIClient(api_key=config.sendgrid_api_key, host=config.sendgrid_api_url.rstrip("/"))
    client.client.timeout = config.timeout_seconds  # copied into every request the client builds
    mail = Mail(from_email=config.sendgrid_from, to_emails=to, subject=subject, plain_text_content=text)
    try:
        response = client.send(mail)
    except HTTPError as error:  # the client raises for every 4xx/5xx answer
        body = error.body.decode("utf-8", "replace") if isinstance(error.body, bytes) else str(error.body or "")
        retry_after = error.headers.get("Retry-After") if error.headers else None
        return from_status(error.status_code, body[:200], retry_after)
    except (OSError, http.client.HTTPException) as error:  # refused, reset, timed out, malformed answer
        return network_failure(error)
    except ValueError as error:  # e.g. an SENDGRID_API_URL urllib cannot open
        return permanent_failure(f"SendGrid request not possible: {error}")
    return from_status(response.status_code)
