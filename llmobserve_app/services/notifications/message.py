"""The human-readable text of a notification (e-mail body, Slack message).

A payload's ``"text"`` is the message when the enqueuer wrote one; otherwise the subject is followed by the
payload's top-level fields, one ``key: value`` a line. The webhook sends the whole payload instead.
"""

from __future__ import annotations

import json
from typing import Any


def message_text(subject: str, payload: dict[str, Any]) -> str:
    text = payload.get("text")
    if isinstance(text, str) and text.strip():
        return text
    lines = [subject]
    for key, value in payload.items():
        rendered = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
        lines.append(f"{key}: {rendered}")
    return "\n".join(lines)


def slack_escape(text: str) -> str:
    """Slack's escaping for message text: ``&``, ``<``, ``>`` (so a cap name cannot become ``<!channel>``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
