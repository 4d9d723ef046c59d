"""/llms: cost, tokens, cache and reasoning shares per LLM model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.models import utcnow
from llmobserve_app.services.analytics import closed_days
from llmobserve_app.services.analytics.scope import INFRA_PROVIDERS, Scope, hourly_where, unpriced_calls_sum, usage_of


@dataclass(frozen=True)
class ModelRow:
    provider: str
    model: str
    cost_nanos: int
    calls: int
    unpriced_calls: int
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    reasoning_tokens: int

    @property
    def cached_share(self) -> float:
        return self.cached_input_tokens / self.input_tokens if self.input_tokens else 0.0

    @property
    def reasoning_share(self) -> float:
        return self.reasoning_tokens / self.output_tokens if self.output_tokens else 0.0

    @property
    def average_cost_nanos(self) -> int:
        return self.cost_nanos // self.calls if self.calls else 0


def models(session: Session, scope: Scope, now: datetime | None = None) -> list[ModelRow]:
    """Per LLM model (infrastructure providers excluded), most expensive first (ties by model, code point);
    the closed days' part kept between requests (``closed_days``)."""
    t = usage_of(scope)
    columns = [sa.func.sum(t.cost_nanos), sa.func.sum(t.calls), unpriced_calls_sum(t), sa.func.sum(t.input_tokens),
               sa.func.sum(t.cached_input_tokens), sa.func.sum(t.output_tokens), sa.func.sum(t.reasoning_tokens)]

    def read(part: Scope) -> list[tuple]:
        query = (sa.select(t.provider, t.model, *columns)
                 .where(*hourly_where(part), t.provider.not_in(INFRA_PROVIDERS)).group_by(t.provider, t.model))
        return [tuple(row) for row in session.execute(query).all()]

    rows = closed_days.summed(session, scope, now or utcnow(), "models", 2, read)
    rows.sort(key=lambda row: (-row[2], row[1] or "", row[0]))
    return [ModelRow(provider, model or "(unknown)", *values) for provider, model, *values in rows]
