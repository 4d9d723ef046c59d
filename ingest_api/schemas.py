"""Request and response bodies of the ingest API (also what the OpenAPI docs show)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class IngestRequest(BaseModel):
    events: list[dict[str, Any]] = Field(description="Events as described in shared/DESIGN.md (one per call).")


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
