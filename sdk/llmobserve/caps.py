"""Hard block: the collector says which scopes are over budget; we refuse those calls locally.

The block list comes from every ``/v1/events`` reply and from polling ``/v1/caps/status``.
Checking is a dict lookup per scope, done on the host thread before any network I/O.
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime
from typing import Any

from . import context
from .errors import budget_error
from .providers import Target

_MODEL_RE = re.compile(rb'"model"\s*:\s*"([^"\\]{1,200})"')
SCOPES = ("global", "provider", "model", "customer", "agent")


def _parse_until(until: Any) -> float:
    if not isinstance(until, str) or not until:
        return float("inf")
    try:
        dt = datetime.fromisoformat(until.replace("Z", "+00:00"))
        return dt.timestamp()
    except ValueError:
        return float("inf")


class Caps:
    def __init__(self, fail_open: bool = True, stale_after: float = 120.0) -> None:
        self._lock = threading.Lock()
        # scope -> value -> (until_ts, until_str)
        self._blocks: dict[str, dict[str, tuple[float, str | None]]] = {}
        self.fail_open = fail_open
        self.stale_after = stale_after
        self.last_contact = time.monotonic()  # last successful reply from the collector
        self.ever_contacted = False

    # -- updates (worker thread) --
    def update(self, blocked: Any) -> None:
        """Replace the block list with the collector's latest view."""
        new: dict[str, dict[str, tuple[float, str | None]]] = {}
        if isinstance(blocked, list):
            for b in blocked:
                if not isinstance(b, dict) or b.get("scope") not in SCOPES:
                    continue
                until = b.get("until")
                value = b.get("value")
                value = "" if value is None else str(value)
                new.setdefault(b["scope"], {})[value] = (_parse_until(until), until if isinstance(until, str) else None)
        with self._lock:
            self._blocks = new

    def reset_after_fork(self) -> None:
        """In a forked child: the lock may have been held by the parent's worker at fork time."""
        self._lock = threading.Lock()

    def contacted(self) -> None:
        self.last_contact = time.monotonic()
        self.ever_contacted = True

    def snapshot(self) -> list[dict[str, Any]]:
        now = time.time()
        return [
            {"scope": s, "value": v, "until": u[1]}
            for s, vals in self._blocks.items()
            for v, u in vals.items()
            if u[0] > now
        ]

    # -- check (host thread) --
    def check(self, target: Target, state: context.State, req_body: bytes | None) -> None:
        blocks = self._blocks
        if not blocks:
            if not self.fail_open and time.monotonic() - self.last_contact > self.stale_after:
                raise budget_error("global", "collector unreachable (caps fail closed)")
            return
        now = time.time()
        hit = self._hit(blocks.get("global"), ("", "*"), now, any_value=True)
        if hit:
            raise budget_error("global", hit[0], hit[1])
        hit = self._hit(blocks.get("provider"), (target.provider,), now)
        if hit:
            raise budget_error("provider", *hit)
        if state.customer_id is not None:
            hit = self._hit(blocks.get("customer"), (state.customer_id,), now)
            if hit:
                raise budget_error("customer", *hit)
        agents = blocks.get("agent")
        if agents and state.path:
            hit = self._hit(agents, tuple(state.agents()), now)
            if hit:
                raise budget_error("agent", *hit)
        models = blocks.get("model")
        if models:
            model = target.model or self._model_from_body(req_body)
            if model:
                hit = self._hit(models, (model,), now)
                if hit:
                    raise budget_error("model", *hit)
        if not self.fail_open and time.monotonic() - self.last_contact > self.stale_after:
            raise budget_error("global", "collector unreachable (caps fail closed)")

    @staticmethod
    def _hit(
        vals: dict[str, tuple[float, str | None]] | None, keys: tuple[str, ...], now: float, any_value: bool = False
    ) -> tuple[str, str | None] | None:
        if not vals:
            return None
        if any_value:
            for v, (ts, until) in vals.items():
                if ts > now:
                    return v, until
            return None
        for k in keys:
            entry = vals.get(k)
            if entry is not None and entry[0] > now:
                return k, entry[1]
        return None

    @staticmethod
    def _model_from_body(body: bytes | None) -> str | None:
        if not body:
            return None
        m = _MODEL_RE.search(body[:8192])
        if m:
            return m.group(1).decode("utf-8", "replace")
        try:
            obj = json.loads(body)
        except ValueError:
            return None
        return obj.get("model") if isinstance(obj, dict) and isinstance(obj.get("model"), str) else None
