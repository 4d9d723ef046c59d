"""Span and run ids are UUIDv7: valid, unique, and ordered by creation time."""

from __future__ import annotations

import time
import uuid

from llmobserve.ids import new_id


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
