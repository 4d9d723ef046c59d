"""The scopes a tenant's ``block`` caps block now, in the shape of the ``blocked`` list the SDK reads.

Nothing is stored: a block is a ``block`` cap whose derived spend in the current period is at or over its
current limit. So it lifts by itself when the period ends (spend starts from zero), and at the next
evaluation when the cap is raised, disabled or deleted. ``until`` is the end of the period.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC
from typing import Any

from llmobserve_app.services.caps.evaluation import CapStatus


def blocked_scopes(statuses: Iterable[CapStatus]) -> list[dict[str, Any]]:
    """``[{"scope", "value", "until"}]`` of the blocking statuses of enabled caps, one per (scope, value) with
    the latest ``until`` (a day cap and a month cap both over: blocked until the month ends)."""
    until_of: dict[tuple[str, str], Any] = {}
    for status in statuses:
        if status.status != "blocked" or not status.rule.enabled:
            continue
        key = (status.rule.scope, status.blocked_value)
        until_of[key] = max(until_of.get(key, status.period_end), status.period_end)
    return [{"scope": scope, "value": value,
             "until": until.astimezone(UTC).isoformat().replace("+00:00", "Z")}
            for (scope, value), until in sorted(until_of.items())]
