"""Pricing tests run against a fresh default registry (no PRICING_OVERRIDES, no runtime prices)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

import pricing

# A fixed instant so results do not depend on today's date (DeepSeek's daily windows: 18:00 UTC is
# outside its 00:30-16:30 UTC peak period).
AT = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


@pytest.fixture(autouse=True, scope="session")
def _no_env_overrides() -> Iterator[None]:
    mp = pytest.MonkeyPatch()
    mp.delenv("PRICING_OVERRIDES", raising=False)
    pricing.reload()
    yield
    mp.undo()
    pricing.reload()  # leave the process-wide registry as the environment describes it


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[pricing.Registry]:
    """A registry that tests may change; the shared one is restored afterwards."""
    monkeypatch.delenv("PRICING_OVERRIDES", raising=False)
    yield pricing.reload()
    monkeypatch.delenv("PRICING_OVERRIDES", raising=False)
    pricing.reload()
