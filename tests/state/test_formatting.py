"""Chart money axes: from $0, labelled with format_usd (no SI suffixes such as "$20µ"), hovers alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from llmobserve_app.services.money import format_usd
from llmobserve_app.state import formatting

DAY = datetime(2026, 11, 1, tzinfo=UTC)


def _axis(figure) -> tuple[list[float], list[str], list[float]]:
    axis = figure.layout.yaxis
    return list(axis.tickvals), list(axis.ticktext), list(axis.range)


def test_nothing_priced_draws_zero_to_one_dollar_never_negative() -> None:
    for figure in (formatting.cost_bars([(DAY, 0), (DAY + timedelta(days=1), 0)]), formatting.cost_bars([]),
                   formatting.cost_lines({})):
        values, labels, span = _axis(figure)
        assert span[0] == 0 and min(values) == 0 and span[1] >= 1
        assert labels[0] == "$0.00" and labels[-1] == "$1.00"


def test_tiny_costs_get_plain_dollar_labels() -> None:
    figure = formatting.cost_lines({"agent-a": [(DAY, 20_000), (DAY + timedelta(days=1), 7_000)]})  # $0.00002
    values, labels, span = _axis(figure)
    assert labels == [format_usd(round(value * 1e9)) for value in values]
    assert labels == ["$0.00", "$0.000005", "$0.00001", "$0.000015", "$0.00002"]
    assert not any(suffix in label for label in labels for suffix in ("µ", "m", "k", "n"))
    assert span[0] == 0 and span[1] >= 0.00002
    assert list(figure.data[0].customdata) == ["$0.00002", "$0.000007"]


def test_axis_covers_the_largest_value_in_round_steps() -> None:
    figure = formatting.cost_bars([(DAY, 1_234_567_890_000), (DAY + timedelta(days=1), 10)])  # $1,234.57
    values, labels, _ = _axis(figure)
    assert labels == ["$0.00", "$500.00", "$1,000.00", "$1,500.00"]
    assert values[-1] >= 1234.57
    assert formatting.money_ticks(10) == [0, 2, 4, 6, 8, 10]
