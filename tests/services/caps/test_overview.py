"""What the caps list shows: a ``customer:*`` cap with no customer near its threshold shows its top spender,
found for every such cap at once (one query, whatever the number of caps)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from llmobserve_app.db import session_scope
from llmobserve_app.services.caps import crud
from llmobserve_app.services.caps.overview import overviews
from tests.services.caps.helpers import spend_event, store

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday noon


def _statements(engine: sa.Engine, work) -> tuple[object, int]:
    """``work()``'s result and how many SQL statements it ran."""
    count = 0

    def counted(*_args) -> None:
        nonlocal count
        count += 1

    sa.event.listen(engine, "before_cursor_execute", counted)
    try:
        return work(), count
    finally:
        sa.event.remove(engine, "before_cursor_execute", counted)


def test_every_customer_caps_show_their_top_spender_in_one_query(engine, make_account) -> None:
    tenant, _, _ = make_account()
    store(engine, tenant, [spend_event(NOW - timedelta(days=2), customer_id="a") for _ in range(5)])  # Monday
    store(engine, tenant, [spend_event(NOW, customer_id="b")])
    store(engine, tenant, [spend_event(NOW - timedelta(days=30), customer_id="z") for _ in range(9)])  # October
    with session_scope(engine) as session:
        for period in ("day", "week", "month"):
            crud.create_cap(session, tenant, scope="customer", value="*", period=period, limit_usd="1000")

    def shown() -> list[tuple[str, str, int]]:
        with session_scope(engine) as session:
            return [(view.cap.period, view.scope_value, view.spend_nanos)
                    for view in overviews(session, crud.list_caps(session, tenant), NOW)]

    views, three_caps = _statements(engine, shown)
    assert views == [("day", "b", 150_000_000), ("week", "a", 750_000_000), ("month", "a", 750_000_000)]
    with session_scope(engine) as session:
        for period in ("day", "week", "month", "day"):
            crud.create_cap(session, tenant, scope="customer", value="*", period=period, limit_usd="2000")
    views, seven_caps = _statements(engine, shown)
    assert [view[1] for view in views] == ["b", "a", "a", "b", "a", "a", "b"]
    assert seven_caps == three_caps  # not one query per cap
