"""format_usd: the one rule for money on every page — two decimals from $1, three significant digits below."""

from __future__ import annotations

import pytest

from llmobserve_app.services.money import format_usd


@pytest.mark.parametrize(("nanos", "shown"), [
    (0, "$0.00"), (None, "$0.00"),
    (1, "$0.000000001"),  # the smallest cost is never "$0.00"
    (20_000, "$0.00002"),
    (4_770_000, "$0.00477"), (4_800_000, "$0.0048"), (123_456_789, "$0.123"),
    (500_000_000, "$0.50"), (10_000_000, "$0.01"), (99_950_000, "$0.10"),
    (999_999_999, "$1.00"),  # rounds up to a dollar: then the two-decimal rule
    (1_000_000_000, "$1.00"), (12_346_000_000, "$12.35"), (1_234_567_890_000, "$1,234.57"),
    (12_345_000_000, "$12.34"), (12_355_000_000, "$12.36"),  # halves round to even (as the exports' sums do)
    (-4_770_000, "-$0.00477"), (-2_500_000_000, "-$2.50"),
])
def test_one_rule_for_every_amount(nanos: int | None, shown: str) -> None:
    assert format_usd(nanos) == shown
