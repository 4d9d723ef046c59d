"""Streaming CSV and JSON exports: rows are produced one at a time, never the whole result in memory."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlmodel import Session

from llmobserve_app.services import analytics
from llmobserve_app.services.money import nanos_to_usd

RUN_FIELDS = ["run_id", "agent", "customer_id", "first_seen", "last_seen", "calls", "failed_calls",
              "unpriced_calls", "cost_usd"]
COST_FIELDS = ["name", "cost_usd", "calls", "failed_calls", "unpriced_calls", "input_tokens", "output_tokens"]


def run_records(session: Session, scope: analytics.Scope, agent: str | None = None,
                search: str = "") -> Iterator[dict[str, Any]]:
    for run in analytics.iter_runs(session, scope, agent, search):
        yield {"run_id": run.run_id, "agent": run.agent or analytics.UNTRACKED, "customer_id": run.customer_id,
               "first_seen": run.first_seen.isoformat(), "last_seen": run.last_seen.isoformat(),
               "calls": run.calls, "failed_calls": run.failed_calls, "unpriced_calls": run.unpriced_calls,
               "cost_usd": str(nanos_to_usd(run.cost_nanos))}


def cost_records(session: Session, scope: analytics.Scope, group_by: str) -> Iterator[dict[str, Any]]:
    """Cost rows by one dimension. ``cost_usd`` is an exact decimal string (unpriced calls add nothing)."""
    for row in analytics.cost_by(session, scope, group_by, limit=None):
        yield {"name": row.name, "cost_usd": str(nanos_to_usd(row.cost_nanos)), "calls": row.calls,
               "failed_calls": row.failed_calls, "unpriced_calls": row.unpriced_calls,
               "input_tokens": row.input_tokens, "output_tokens": row.output_tokens}


# A cell a spreadsheet would read as a formula (OWASP "CSV injection"): = + - @ tab CR.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """A text cell prefixed with a single quote when it starts like a formula (OWASP's rule), so a customer id
    such as ``=HYPERLINK(...)`` is shown as text. Numbers are left alone; no text we generate (dates, decimal
    costs, which are never negative) starts that way, so every text cell is checked."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def as_csv(records: Iterable[dict[str, Any]], fields: list[str]) -> Iterator[str]:
    buffer = io.StringIO()
    # RFC 4180 line ends: the csv module then quotes a cell holding a lone CR, which would otherwise end the row
    # (and could start the next with a formula).
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for record in records:
        writer.writerow({field: neutralise_cell(record.get(field)) for field in fields})
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def as_json(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A JSON array, written element by element."""
    yield "["
    for index, record in enumerate(records):
        yield ("," if index else "") + "\n" + json.dumps(record)
    yield "\n]\n"


def stream(open_session: Callable[[], Any], produce: Callable[[Session], Iterable[dict[str, Any]]],
           file_format: str, fields: list[str]) -> Iterator[str]:
    """Open a session for as long as the response streams, and close it when the client is done.

    The first record is read before the first chunk is yielded, so a failing query fails the first ``next()``
    (the caller can still answer with an error) rather than cutting a 200 response short."""
    with open_session() as session:
        records = iter(produce(session))
        records = itertools.chain(list(itertools.islice(records, 1)), records)
        yield from as_csv(records, fields) if file_format == "csv" else as_json(records)
