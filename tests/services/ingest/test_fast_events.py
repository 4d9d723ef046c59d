"""The msgspec fast path must never disagree with pydantic: same values, or it steps aside (None).

Bodies are generated around the edges of every limit (lengths, bounds, types, timestamp forms); for each,
either the fast decoder returns None, or pydantic accepts the same body and reads the same values.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmobserve_app.services.ingest.fast_schema import FastEvent, decode_clean_batch
from llmobserve_app.services.ingest.schema import EventBatchIn, EventIn, UsageIn, parse_valid_batch
from tests.factories import event


def event_values(one: EventIn | FastEvent) -> dict[str, Any]:
    """Every field ``EventIn`` defines, read from either kind of event (usage as a dict)."""
    values = {name: getattr(one, name) for name in EventIn.model_fields}
    values["usage"] = {name: getattr(one.usage, name) for name in UsageIn.model_fields}
    return values


def _text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=max_size)


def _around(limit: int) -> st.SearchStrategy[str]:
    """Strings just under, at and over a length limit, some padded with spaces, some empty."""
    return st.one_of(_text(8), st.integers(limit - 1, limit + 1).map(lambda n: "x" * max(n, 0)),
                     _text(4).map(lambda s: f" {s} "), st.just(""))


_TIMESTAMPS = st.one_of(
    st.sampled_from([
        "2026-11-23T21:00:00+00:00", "2026-11-23T21:00:00Z", "2026-11-23T21:00:00.5Z",
        "2026-11-23T21:00:00.123456+00:00", "2026-11-23T21:00:00.1234567+00:00", "2026-11-23T21:00:00",
        "2026-11-23 21:00:00+00:00", "2026-11-23T21:00:00+99:00", "2026-11-23T21:00:00-05:30", "2026-11-23",
        "2026-02-30T21:00:00Z", "2026-11-23T25:00:00Z", "20261123T210000Z", "2026-11-23t21:00:00z",
    ]),
    st.integers(0, 2_000_000_000), st.none(), _text(30),
)
_NUMBERS = st.one_of(st.integers(-2, 10**6), st.sampled_from([0.0, 1.0, 2.5, -1.0, 10**20, True, False]),
                     st.sampled_from(["5", None, [], {}]))
# One field of an otherwise valid event replaced by an edge value: about half the bodies stay valid.
_EDGES: dict[str, st.SearchStrategy[Any]] = {
    "span_id": _around(128), "run_id": st.one_of(st.none(), _around(128)), "started_at": _TIMESTAMPS,
    "ended_at": _TIMESTAMPS, "provider": _around(64), "model": st.one_of(st.none(), _around(200)),
    "endpoint": _around(64), "status_code": st.one_of(st.none(), st.integers(0, 700), st.just("200")),
    "streamed": st.one_of(st.booleans(), st.just(1), st.just("true")), "error": st.one_of(st.none(), _around(200)),
    "customer_id": st.one_of(st.none(), _around(200), st.just(7)), "section_path": _around(500),
    "tags": st.dictionaries(_around(64), st.one_of(_around(200), st.just(3)), max_size=22),
    "service_tier": st.one_of(st.none(), _around(40)), "sdk_version": st.one_of(st.none(), _around(40)),
    "provider_reported_cost": st.one_of(st.none(), st.just(0.25), st.just("0.25")), "extra": st.integers(),
    "usage": st.none(),
}
_USAGE_EDGES: dict[str, st.SearchStrategy[Any]] = {
    "input_tokens": _NUMBERS, "cached_input_tokens": _NUMBERS, "output_tokens": _NUMBERS, "requests": _NUMBERS,
    "audio_seconds": _NUMBERS, "web_searches": _NUMBERS, "unknown_key": _NUMBERS,
    "units": st.one_of(st.dictionaries(_around(64), _NUMBERS, max_size=22), st.just([])),
}


@st.composite
def _events(draw: st.DrawFn) -> dict[str, Any]:
    one = event(draw(st.text("abcdef0123456789", min_size=1, max_size=32)),
                started_at=draw(st.sampled_from(["2026-11-23T21:00:00.123456+00:00", "2026-11-23T21:00:01Z"])),
                customer_id=draw(st.sampled_from([None, "cust-1"])), tags={"env": "prod"},
                usage={"input_tokens": draw(st.integers(0, 10**6)), "output_tokens": draw(st.integers(0, 10**5)),
                       "units": {"read_units": draw(st.floats(0, 1e6))}})
    if draw(st.booleans()):
        name = draw(st.sampled_from(sorted(_EDGES)))
        one[name] = draw(_EDGES[name])
    if draw(st.booleans()):
        name = draw(st.sampled_from(sorted(_USAGE_EDGES)))
        one["usage"] = {**(one.get("usage") or {}), name: draw(_USAGE_EDGES[name])}
    return one


def _pydantic(body: str) -> list[EventIn] | None:
    try:
        return EventBatchIn.model_validate_json(body).events
    except ValueError:
        return None


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_events(), min_size=1, max_size=3))
def test_fast_path_agrees_with_pydantic_or_steps_aside(events: list[dict[str, Any]]) -> None:
    body = json.dumps({"events": events})
    fast = decode_clean_batch(body)
    if fast is None:
        return
    slow = _pydantic(body)
    assert slow is not None, f"fast path accepted what pydantic rejects: {body}"
    assert [event_values(one) for one in fast] == [event_values(one) for one in slow]


def test_sdk_shaped_batches_take_the_fast_path() -> None:
    clean = [event(f"s{i}", tags={"env": "prod"}, usage={"input_tokens": 9, "units": {"read_units": 2.5}})
             for i in range(50)]
    body = json.dumps({"events": clean})
    fast = decode_clean_batch(body)
    assert fast is not None and len(fast) == 50
    assert [event_values(one) for one in fast] == [event_values(one) for one in _pydantic(body) or []]


def test_what_the_fast_path_leaves_to_pydantic() -> None:
    """Lax-but-valid input is still accepted (by pydantic); invalid input still rejected by both."""
    lax = event("lax", usage={"input_tokens": "12"}, provider_reported_cost="0.5")
    parsed = parse_valid_batch(json.dumps({"events": [lax]}))
    assert decode_clean_batch(json.dumps({"events": [lax]})) is None
    assert parsed is not None and parsed[0].usage.input_tokens == 12
    assert parsed[0].provider_reported_cost == Decimal("0.5")
    for bad in (event("x", started_at="2026-11-23T21:00:00"), event("x", provider=" "), event("x", status_code=99)):
        assert decode_clean_batch(json.dumps({"events": [bad]})) is None
        assert parse_valid_batch(json.dumps({"events": [bad]})) is None
