"""Which cap scopes a stored batch touched: only the caps on those scopes can have changed status."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from llmobserve_app.services.caps.rules import CapRule
from llmobserve_app.services.ingest.rows import COLUMN

_PROVIDER, _MODEL, _CUSTOMER, _SECTION = (COLUMN[name] for name in ("provider", "model", "customer_id",
                                                                    "section_path"))


def agents_in(section_path: str | None) -> set[str]:
    """Every agent named in a section path (``agent:a/tool:t/agent:b`` → {a, b}): the SDK blocks a call when
    any agent it runs inside is blocked, so an agent's spend counts every call made inside it."""
    agents = set()
    for segment in (section_path or "").split("/"):
        kind, _, name = segment.partition(":")
        if kind == "agent" and name:
            agents.add(name)
    return agents


@dataclass(frozen=True)
class Touched:
    providers: frozenset[str] = frozenset()
    models: frozenset[str] = frozenset()
    agents: frozenset[str] = frozenset()
    customers: frozenset[str] = frozenset()
    any_event: bool = False  # the global scope

    def touches(self, rule: CapRule) -> bool:
        if rule.scope == "global":
            return self.any_event
        if rule.every_customer:
            return bool(self.customers)
        values = {"provider": self.providers, "model": self.models, "agent": self.agents,
                  "customer": self.customers}[rule.scope]
        return rule.value in values


def touched_by(rows: Sequence[tuple[Any, ...]]) -> Touched:
    """The scopes of event rows (``services/ingest/rows`` tuples)."""
    if not rows:
        return Touched()
    providers, models, sections, customers = (set(map(itemgetter(column), rows))
                                              for column in (_PROVIDER, _MODEL, _SECTION, _CUSTOMER))
    agents = set().union(*(agents_in(section) for section in sections if section))
    models = {model or "" for model in models}
    customers.discard(None)
    customers.discard("")
    return Touched(frozenset(providers), frozenset(models), frozenset(agents), frozenset(customers), True)


def merged(touched: Iterable[Touched]) -> Touched:
    """The scopes any of several batches touched."""
    touched = list(touched)
    return Touched(*(frozenset().union(*(getattr(one, name) for one in touched))
                     for name in ("providers", "models", "agents", "customers")),
                   any(one.any_event for one in touched))
