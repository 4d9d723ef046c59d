"""Column sets (header, row key) of the row dicts state/formatting.py builds, shared by several pages."""

from __future__ import annotations

COST_COLUMNS = [("Name", "name"), ("Cost", "cost"), ("Calls", "calls"), ("Unpriced calls", "unpriced")]  # cost_rows
RUN_COLUMNS = [("Run", "run_id"), ("Agent", "agent"), ("Customer", "customer"), ("Calls", "calls"),
               ("Cost", "cost"), ("Last call", "last_seen")]  # run_rows
