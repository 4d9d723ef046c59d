"""The SQL re-pricing of plain token calls (``recalculation.flat_sql``) against ``FlatPrices.cost``, the integer
pricing ingest uses: on SQLite and PostgreSQL, for random rates and counts (half-way rounding included), the SQL
cost is the same integer wherever its condition holds, and its condition holds wherever ``cost`` answers
(counts beyond INT_MAX are left to Python)."""

from __future__ import annotations

import random
from typing import Any

import sqlalchemy as sa

from llmobserve_app.services.ingest.fast_schema import INT_MAX
from llmobserve_app.services.recalculation import flat_sql
from pricing import FlatPrices

_COUNTS = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens", "output_tokens",
           "reasoning_tokens", "web_searches", "requests")


def _rate(rng: random.Random) -> int | None:
    return rng.choice([None, 0, 1, 5, 25, rng.randrange(1, 100), rng.randrange(1, 10**4), rng.randrange(1, 10**6)])


def _flat(rng: random.Random) -> FlatPrices:
    fee = rng.random() < 0.3
    return FlatPrices(f"test/model@base#{rng.getrandbits(16)}", rng.choice([0, 3, 6, 7, 8, 9, 10, 11, 12, 13, 15]),
                      *(_rate(rng) for _ in range(7)), _rate(rng) if fee else None, fee)


def _sql_costs(connection: sa.Connection, flat: FlatPrices, rows: list[dict[str, int]]) -> list[tuple[int, Any]]:
    """(condition holds: 1 or 0, SQL cost) of each row of counts, computed by the database."""
    sql = flat_sql(flat)
    assert sql is not None
    condition, cost = sql
    values = " UNION ALL ".join(
        "SELECT " + ", ".join(f"CAST(:{name}{i} AS BIGINT) AS {name}" for name in _COUNTS) for i in range(len(rows)))
    params = {f"{name}{i}": row[name] for i, row in enumerate(rows) for name in _COUNTS}
    return [tuple(answer) for answer in connection.execute(sa.text(
        f"SELECT CASE WHEN {condition} THEN 1 ELSE 0 END, CASE WHEN {condition} THEN {cost} END "
        f"FROM ({values}) AS counts"), params)]


def _counts(rng: random.Random) -> dict[str, int]:
    def count() -> int:
        if rng.random() < 0.04:  # at or past the limits
            return rng.choice([INT_MAX, INT_MAX + rng.randrange(1, 10), -rng.randrange(1, 5)])
        return rng.choice([0, 0, 0, rng.randrange(1, 50), rng.randrange(1, 10**5), rng.randrange(1, 10**7)])

    counts = {name: count() for name in _COUNTS}
    if rng.random() < 0.7:  # mostly consistent counts: the parts within the totals
        counts["input_tokens"] = max(counts["input_tokens"], 0) + sum(
            max(counts[name], 0) for name in ("cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens"))
        counts["output_tokens"] = max(counts["output_tokens"], 0) + max(counts["reasoning_tokens"], 0)
    return counts


def test_the_sql_price_is_the_integer_price(engine) -> None:
    rng = random.Random(20261201)
    checked = rounded = 0
    with engine.connect() as connection:
        for _ in range(150):
            flat = _flat(rng)
            if flat_sql(flat) is None:
                continue
            rows = [_counts(rng) for _ in range(40)]
            for row, (fits, got) in zip(rows, _sql_costs(connection, flat, rows), strict=True):
                expected = flat.cost(*(row[name] for name in _COUNTS), exponent=9)
                in_range = all(0 <= row[name] <= INT_MAX for name in _COUNTS)
                if fits:
                    assert got == expected is not None, (flat, row)
                    checked += 1
                    rounded += flat.scale > 9
                else:
                    assert expected is None or not in_range, (flat, row)
        assert checked > 1000 and rounded > 300

        # half-way cases round to even: 5 × 10**-10 USD per token is half a nano-dollar
        half = FlatPrices("test/half@base#1", 10, 5, None, None, None, None, None, None, None, False)
        rows = [dict.fromkeys(_COUNTS, 0) | {"input_tokens": tokens} for tokens in (1, 3, 5, 7, 2, 0)]
        assert _sql_costs(connection, half, rows) == [(1, 0), (1, 2), (1, 2), (1, 4), (1, 1), (0, None)]


def test_rates_that_could_overflow_64_bits_are_left_to_python() -> None:
    assert flat_sql(FlatPrices("x", 0, 10**12, None, None, None, 10**12, None, None, None, False)) is None
    assert flat_sql(FlatPrices("x", 7, 25, None, None, None, 100, None, None, None, False)) is not None
    assert flat_sql(FlatPrices("x", 7, None, None, None, None, None, None, None, None, True)) is None  # no fee
