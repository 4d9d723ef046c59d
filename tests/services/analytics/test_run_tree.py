"""The run tree of /runs/[run]: agents → tools → calls, costs and calls summed at every node, depth-first
in first-call order, each section's own calls after its sub-sections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from llmobserve_app.db import session_scope
from llmobserve_app.services import analytics
from llmobserve_app.services.ingest.store import ingest_events
from tests.factories import event

T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
ONE = 270_000  # a gpt-4o-mini call of the test event: 1000 in, 200 out


def _call(seconds: float, duration_ms: int, section: str | None, run_id: str = "r1", **overrides) -> dict:
    started = T0 + timedelta(seconds=seconds)
    return event(run_id=run_id, section_path=section, started_at=started.isoformat(),
                 ended_at=(started + timedelta(milliseconds=duration_ms)).isoformat(), **overrides)


def _shape(nodes: list[analytics.RunNode]) -> list[tuple]:
    return [(node.kind, node.label, node.depth, node.calls, node.cost_nanos, node.unpriced_calls) for node in nodes]


def test_run_tree_nests_sums_and_orders(engine, make_account) -> None:
    tenant, _, _ = make_account()
    events = [  # given out of order: the tree follows the calls' start times
        _call(3, 1000, "agent:support/tool:search"),
        _call(4, 200, None),  # outside any section: a call of the run itself
        _call(1, 300, "agent:research/tool:web", model="unknown-model-zz"),  # unpriced
        _call(0, 1000, "agent:support/tool:search"),
        _call(5, 100, "batch"),  # a section without a kind
        _call(2, 500, "agent:support"),  # the agent's own call, after its tools
        _call(0, 50, "agent:support", run_id="other-run"),  # another run: not in this tree
    ]
    with session_scope(engine) as session:
        ingest_events(session, tenant, events)
    with session_scope(engine) as session:
        detail = analytics.run_detail(session, tenant, "r1")

    assert detail is not None
    chat, unknown = "openai · gpt-4o-mini", "openai · unknown-model-zz"
    assert _shape(detail.tree) == [
        ("run", "r1", 0, 6, 5 * ONE, 1),
        ("agent", "support", 1, 3, 3 * ONE, 0),
        ("tool", "search", 2, 2, 2 * ONE, 0),
        ("call", chat, 3, 1, ONE, 0),  # started at 0 s
        ("call", chat, 3, 1, ONE, 0),  # started at 3 s
        ("call", chat, 2, 1, ONE, 0),  # the agent's own call
        ("agent", "research", 1, 1, 0, 1),
        ("tool", "web", 2, 1, 0, 1),
        ("call", unknown, 3, 1, 0, 1),
        ("section", "batch", 1, 1, ONE, 0),
        ("call", chat, 2, 1, ONE, 0),
        ("call", chat, 1, 1, ONE, 0),  # the run's own call comes last
    ]
    by_label = {(node.kind, node.label): node for node in detail.tree}
    assert by_label["run", "r1"].latency_ms == 5100  # first start (0 s) to last end (5.1 s)
    assert by_label["agent", "support"].latency_ms == 4000  # 0 s to the search call ending at 4 s
    assert by_label["tool", "web"].latency_ms == 300
    assert [call.started_at for call in detail.calls] == sorted(call.started_at for call in detail.calls)
    assert len(detail.calls) == 6
    assert sum(node.cost_nanos for node in detail.tree if node.kind == "call") == detail.tree[0].cost_nanos


def test_run_tree_of_no_calls_is_the_run_alone() -> None:
    (root,) = analytics.run_tree("empty", [])
    assert _shape([root]) == [("run", "empty", 0, 0, 0, 0)] and root.latency_ms == 0
