"""Benchmark pricing.compute_cost (issue 3 target: median <= 5 us for a hot model).

    .venv/bin/python bench/bench_pricing.py [--check]

Prints figures; with --check exits 1 when the target is missed.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_US = 5.0
CALLS = 100_000


def per_call_ns(fn, calls: int) -> list[int]:
    clock = time.perf_counter_ns
    out = []
    for _ in range(calls):
        t0 = clock()
        fn()
        out.append(clock() - t0)
    return out


def main() -> int:
    t0 = time.perf_counter()
    import pricing

    pricing.default_registry()
    load_ms = (time.perf_counter() - t0) * 1000
    from datetime import UTC, datetime

    from pricing import Usage, compute_cost

    usage = {"input_tokens": 1200, "cached_input_tokens": 200, "output_tokens": 350, "reasoning_tokens": 100}
    typed = Usage(**usage)
    at = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    cases = {
        "hot: openai/gpt-4o, dict usage, at=None": lambda: compute_cost("openai", "gpt-4o", usage),
        "hot: openai/gpt-4o, typed Usage, at=event time": lambda: compute_cost("openai", "gpt-4o", typed, at=at),
        "hot: anthropic/claude-sonnet-4-5 (tiers), batch=True": lambda: compute_cost(
            "anthropic", "claude-sonnet-4-5-20250929", usage, batch=True
        ),
        "hot: unknown model (unpriced)": lambda: compute_cost("openai", "gpt-99", usage),
    }
    print(f"pricing bench: {pricing.default_registry().stats()}, data {pricing.PRICE_DATA_VERSION}")
    print(f"  load bundled data: {load_ms:.0f} ms (once per process)")
    for name, fn in cases.items():
        for _ in range(2_000):
            fn()  # warm the match cache and CPU caches
        samples = per_call_ns(fn, CALLS)
        batch_t0 = time.perf_counter_ns()
        for _ in range(CALLS):
            fn()
        mean_us = (time.perf_counter_ns() - batch_t0) / CALLS / 1000
        median_us = statistics.median(samples) / 1000
        p99_us = statistics.quantiles(samples, n=100)[98] / 1000
        print(f"  {name}: median {median_us:.2f} us, p99 {p99_us:.2f} us, mean (no timer) {mean_us:.2f} us")
        if name.startswith("hot: openai/gpt-4o, dict"):
            headline = median_us
    flat_cases = {
        "ingest fast path: openai/gpt-4o (flat_prices + cost)": ("openai", "gpt-4o"),
        "ingest fast path: openai-compatible/gpt-4o-2024-08-06 (inferred)": ("openai-compatible", "gpt-4o-2024-08-06"),
    }
    for name, (provider, model) in flat_cases.items():
        def fast(provider: str = provider, model: str = model) -> None:
            pricing.flat_prices(provider, model, at).cost(1200, 200, 0, 0, 350, 100, 0, 0, exponent=9)
        for _ in range(2_000):
            fast()
        samples = per_call_ns(fast, CALLS)
        print(f"  {name}: median {statistics.median(samples) / 1000:.2f} us")
    miss = per_call_ns(lambda: pricing.unknown_model("openai-compatible", "llama3.1:8b"), CALLS)
    miss_us = statistics.median(miss) / 1000
    print(f"  ingest miss: unknown_model(openai-compatible, llama3.1:8b): median {miss_us:.2f} us")
    n = 300
    t0 = time.perf_counter()
    for i in range(n):
        compute_cost("openai-compatible", f"new-local-model-{i}", usage)
    print(f"  cold lookup (first call for a new name from a generic provider, 13 vendors asked): "
          f"{(time.perf_counter() - t0) / n * 1e6:.0f} us")
    t0 = time.perf_counter()
    for i in range(n):
        compute_cost("openrouter", f"vendor/new-model-{i}", usage)
    cold_us = (time.perf_counter() - t0) / n * 1e6
    print(f"  cold lookup (first call for a new name, scans ~930 OpenRouter rules): {cold_us:.0f} us")
    ok = headline <= TARGET_US
    print(f"  target: hot median <= {TARGET_US} us -> {'met' if ok else 'MISSED'} ({headline:.2f} us)")
    if "--check" in sys.argv and not ok:
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
