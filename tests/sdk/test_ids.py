"""Span and run ids are UUIDv7: valid, unique, and ordered by creation time."""

from __future__ import annotations

import time
import uuid

from llmobserve.ids import new_id, new_ids


def test_ids_are_uuid7_hex() -> None:
    value = uuid.UUID(hex=new_id())
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert len(new_id()) == 32


def test_ids_start_with_the_millisecond_they_were_made() -> None:
    before = time.time_ns() // 1_000_000
    made = int(new_id()[:12], 16)
    after = time.time_ns() // 1_000_000
    assert before <= made <= after


def test_ids_are_unique_and_ordered_across_milliseconds() -> None:
    ids = [new_id() for _ in range(50_000)]
    assert len(set(ids)) == len(ids)
    first, later = ids[0], None
    time.sleep(0.002)
    later = new_id()
    assert later > first


def test_ids_made_a_slice_at_a_time_are_uuid7_unique_and_of_their_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    ids = [i for _ in range(3_000) for i in new_ids(16)]
    after = time.time_ns() // 1_000_000
    assert len(ids) == 48_000 and len(set(ids)) == len(ids)
    for value in ids[:200]:
        parsed = uuid.UUID(hex=value)
        assert (parsed.version, parsed.variant, len(value)) == (7, uuid.RFC_4122, 32)
    assert all(before <= int(value[:12], 16) <= after for value in ids)
    assert new_ids(0) == []
