"""Generic webhooks: a JSON body signed with the account's secret, Stripe-style.

``X-LLMObserve-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``. The timestamp is signed
too, so a receiver can refuse replays of an old delivery (``verify_signature``'s tolerance).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

import httpx

from llmobserve_app.services.notifications.http_post import post_json
from llmobserve_app.services.notifications.outcome import SendOutcome

SIGNATURE_HEADER = "X-LLMObserve-Signature"
DELIVERY_HEADER = "X-LLMObserve-Delivery"  # the same for every attempt of one notification: receivers dedupe on it


def webhook_body(*, delivery_id: str, source_kind: str, source_id: int, subject: str, created_at: datetime,
                 payload: dict[str, Any]) -> bytes:
    document = {"id": delivery_id, "type": source_kind, "source_id": source_id, "subject": subject,
                "created_at": created_at.isoformat(), "data": payload}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    signed = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str, header: str, body: bytes, now: int, tolerance_seconds: int = 300) -> bool:
    """What a receiver does (the README shows the same in a few lines): recompute and compare in constant time."""
    fields: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = signature_header(secret, body, timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, candidate) for candidate in fields.get("v1", []))


def send_webhook(client: httpx.Client, url: str, body: bytes, *, secret: str, delivery_id: str,
                 timestamp: int) -> SendOutcome:
    headers = {SIGNATURE_HEADER: signature_header(secret, body, timestamp), DELIVERY_HEADER: delivery_id}
    return post_json(client, url, body, headers)
