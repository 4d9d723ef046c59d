"""One JSON POST with httpx, turned into a ``SendOutcome`` (shared by the Slack and webhook senders)."""

from __future__ import annotations

import httpx

from llmobserve_app.services.notifications.outcome import (
    SendOutcome,
    from_status,
    network_failure,
    permanent_failure,
)

_EXCERPT_BYTES = 200  # of the receiver's answer kept in last_error; the rest is never read


def new_client(timeout_seconds: float) -> httpx.Client:
    """Redirects are not followed: a receiver that moved answers 3xx and the row fails, naming the status."""
    return httpx.Client(timeout=timeout_seconds, follow_redirects=False,
                        headers={"User-Agent": "llmobserve-notifications"})


def post_json(client: httpx.Client, url: str, body: bytes, headers: dict[str, str] | None = None) -> SendOutcome:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    try:
        with client.stream("POST", url, content=body, headers=all_headers) as response:
            excerpt = b""
            if not response.is_success:
                for chunk in response.iter_raw():
                    excerpt += chunk
                    if len(excerpt) >= _EXCERPT_BYTES:
                        break
            return from_status(response.status_code, excerpt[:_EXCERPT_BYTES].decode("utf-8", "replace").strip(),
                               response.headers.get("Retry-After"))
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
        return permanent_failure(f"bad URL: {error}")
    except httpx.TransportError as error:  # refused, reset, timed out, TLS failure
        return network_failure(error)
