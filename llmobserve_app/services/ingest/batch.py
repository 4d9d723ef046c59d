"""A tenant's batch priced into rows and rollups, ready to store (built without the database)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import InvalidOperation
from typing import Any

from llmobserve_app.models import utcnow
from llmobserve_app.services.ingest.fast_schema import FastEvent
from llmobserve_app.services.ingest.rollup_rows import rollup_statements
from llmobserve_app.services.ingest.rows import SHARED_PRICES, STARTED, Prices, aware_time, event_row, sqlite_time
from llmobserve_app.services.ingest.schema import EventIn, Rejection
from llmobserve_app.services.ingest.sql import SQLITE, sql_dialect


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)


@dataclass
class PreparedBatch:
    """One tenant's events, validated and priced into rows, not yet written (built without the database)."""

    tenant_id: int
    dialect: str
    rows: list[tuple[Any, ...]]
    duplicates: int = 0  # repeated span ids inside the batch
    rejected: list[Rejection] = field(default_factory=list)
    # The rollup upserts of ``rows`` (``rollup_statements``), worked out with the rows: on SQLite that is the
    # web process's share, not the writer's. Valid when every row turns out new (no retry), as usual.
    rollups: list[tuple[str, list[tuple[Any, ...]]]] = field(default_factory=list, repr=False)

    def rollups_of(self, new_rows: list[tuple[Any, ...]]) -> list[tuple[str, list[tuple[Any, ...]]]]:
        """The upserts for the rows actually inserted (``new_rows``, a subset of ``rows``)."""
        if len(new_rows) == len(self.rows) and self.rollups:
            return self.rollups
        return rollup_statements(sql_dialect(self.dialect), self.tenant_id, new_rows)


def prepare_events(
    tenant_id: int,
    events: Sequence[EventIn | FastEvent | None],
    rejected: Sequence[Rejection] = (),
    dialect: str = "sqlite",
    prices: Prices = SHARED_PRICES,
) -> PreparedBatch:
    """Price validated events (None entries were rejected already) into rows for ``dialect`` with ``prices``
    (the tenant's: ``services.custom_prices.prices_for``). Events whose usage cannot be priced (e.g. cached >
    input tokens) are rejected here, naming the field."""
    db_time = sqlite_time if sql_dialect(dialect) is SQLITE else aware_time
    received_at = db_time(utcnow())
    batch = PreparedBatch(tenant_id, dialect, [], rejected=list(rejected))
    seen: set[str] = set()
    for index, event in enumerate(events):
        if event is None:
            continue
        try:
            row = event_row(tenant_id, event, received_at, db_time, prices)
        except (InvalidOperation, OverflowError, ValueError) as error:
            batch.rejected.append(Rejection(index, f"event: {error}"))
            continue
        if event.span_id in seen:
            batch.duplicates += 1
            continue
        seen.add(event.span_id)
        batch.rows.append(row)
    batch.rejected.sort(key=lambda rejection: rejection.index)
    if batch.rows:
        batch.rollups = rollup_statements(sql_dialect(dialect), tenant_id, batch.rows)
    return batch


def oldest_started(rows: list[tuple[Any, ...]]) -> Any:
    """The earliest ``started_at`` of event rows, in storage form."""
    return min(row[STARTED] for row in rows)
