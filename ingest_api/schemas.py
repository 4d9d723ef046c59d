"""Request and response bodies of the ingest API (also what the OpenAPI docs show)."""

from __future__ import annotations

from functools import cache
from typing import Any

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
