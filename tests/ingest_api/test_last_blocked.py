"""The fallback blocked list of the events route (answered when an evaluation fails): kept only for tenants
with a block, and bounded."""

from __future__ import annotations

from ingest_api.events import LastBlocked

BLOCK = [{"scope": "global", "value": "", "until": "2026-11-26T00:00:00Z"}]


def test_only_blocks_are_kept_and_the_table_is_bounded() -> None:
    last = LastBlocked(size=3)
    last.remember(("db", 1), BLOCK)
    last.remember(("db", 2), [])
    assert (last.get(("db", 1)), last.get(("db", 2))) == (BLOCK, [])
    last.remember(("db", 1), [])  # the block lifted: forgotten
    assert last.get(("db", 1)) == []
    for tenant in range(10):
        last.remember(("db", tenant), BLOCK)
        assert len(last._lists) <= 3
    assert last.get(("db", 9)) == BLOCK

