"""Request and response bodies of the ingest API (also what the OpenAPI docs show)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llmobserve_app.services.ingest.schema import EventIn


class IngestRequest(BaseModel):
    """What POST /v1/events takes. Documentation only: the route reads the raw (maybe gzipped) body itself and
    validates each event on its own, so one bad event is listed in ``rejected`` instead of failing the batch.
    """

    model_config = ConfigDict(extra="ignore")
    events: list[EventIn] = Field(description="One event per provider call, as the SDK sends them.")


def _inline_refs(node: Any, definitions: dict[str, Any]) -> Any:
    """``node`` with every ``{"$ref": "#/$defs/X"}`` replaced by X itself (the event models are not recursive)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline_refs(definitions[ref.removeprefix("#/$defs/")], definitions)
        return {key: _inline_refs(value, definitions) for key, value in node.items() if key != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(item, definitions) for item in node]
    return node


@cache
def ingest_request_schema() -> dict[str, Any]:
    """The JSON schema of a ``{"events": [...]}`` body from the wire models (``services.ingest.schema.EventIn``),
    self-contained: an OpenAPI document has no ``$defs`` for a request body's references to point at."""
    schema = IngestRequest.model_json_schema()
    return _inline_refs(schema, schema.get("$defs", {}))


class RejectedEvent(BaseModel):
    index: int = Field(description="Position of the event in the batch.")
    error: str = Field(description="Which field is wrong and why.")


class BlockedScope(BaseModel):
    scope: str = Field(description="global | provider | model | customer | agent")
    value: str
    until: str | None = None


class IngestResponse(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[RejectedEvent]
    blocked: list[BlockedScope]


class CapsStatus(BaseModel):
    blocked: list[BlockedScope]


class ApiError(BaseModel):
    error: str = Field(description="Machine-readable code.")
    detail: str = Field(description="What is wrong, naming the field or header.")


# -- spending caps (ingest_api/caps.py) --

CapScope = Literal["global", "provider", "model", "agent", "customer"]
CapPeriod = Literal["day", "week", "month"]
CapAction = Literal["alert", "block"]


class CapNotify(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: bool = Field(True, description="Email the account's address.")
    slack_webhook_url: str | None = Field(None, description="A Slack incoming-webhook URL (https).")
    webhook_url: str | None = Field(None, description="A URL that receives a signed JSON post (https, or http "
                                                      "to a loopback address).")


class CapNotifyChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: bool | None = None
    slack_webhook_url: str | None = None
    webhook_url: str | None = None


class CapCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200, description="Defaults to e.g. 'customer:acme per day'.")
    scope: CapScope
    value: str = Field("", description="The provider, model, agent or customer; '' for global; '*' with "
                                       "customer = every customer separately.")
    period: CapPeriod = Field(description="UTC day, ISO week from Monday 00:00 UTC, or calendar month.")
    limit_usd: Decimal = Field(description='The limit in US dollars (> 0), e.g. "0.10".')
    threshold_pct: int = Field(80, ge=1, le=99, description="Early warning at this percent of the limit.")
    action: CapAction = Field("alert", description="block: the SDK refuses calls in the scope once exceeded.")
    notify: CapNotify = Field(default_factory=CapNotify)
    enabled: bool = True


class CapChanges(BaseModel):
    """Only the fields given change (``notify`` too: only its keys given)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200)
    scope: CapScope | None = None
    value: str | None = None
    period: CapPeriod | None = None
    limit_usd: Decimal | None = None
    threshold_pct: int | None = Field(None, ge=1, le=99)
    action: CapAction | None = None
    notify: CapNotifyChanges | None = None
    enabled: bool | None = None


class CapOut(BaseModel):
    id: int
    name: str
    scope: str
    value: str
    period: str
    limit_usd: str
    threshold_pct: int
    action: str
    notify: CapNotify
    enabled: bool
    spend_usd: str = Field(description="Priced cost in the scope since the period started (for customer:*, of "
                                       "the customer nearest the limit, named in scope_value).")
    percent: float
    status: Literal["ok", "warning", "exceeded", "blocked", "disabled"]
    unpriced_calls: int = Field(description="Calls in the scope this period whose price is unknown (not spend).")
    scope_value: str
    period_start: datetime
    period_end: datetime
    projected_at: datetime | None = Field(description="When the period's run-rate reaches the limit, if before "
                                                      "the period ends.")
    created_at: datetime
    updated_at: datetime


class CapList(BaseModel):
    caps: list[CapOut]


class CapAlertOut(BaseModel):
    id: int
    cap_id: int
    level: Literal["threshold", "exceeded"]
    period_start: datetime
    scope_value: str
    spend_usd: str
    limit_usd: str
    created_at: datetime


class CapAlertList(BaseModel):
    alerts: list[CapAlertOut]
