"""What custom prices and inference cost ingest: a 500-event batch validated and priced into rows
(``events_from_body`` + ``prepare_events``, the web process's share of ingest), in one run:

  shared         prices passed directly (ingest before custom prices existed)
  no custom      ``custom_prices.prices_for`` looked up per batch for a tenant without custom prices
  custom         the same for a tenant with a custom price for the batch's most common model
  generic        the batch's calls sent as ``openai-compatible`` (priced by inference)

    .venv/bin/python bench/bench_ingest_pricing.py [--rounds 40]

Prints the median per batch of each and its ratio to "shared" (the machine is shared: compare ratios).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_ingest import BATCH, make_events  # noqa: E402


def sqlite_with_accounts(workdir: str, *names: str) -> tuple[Any, list[int]]:
    """A fresh migrated SQLite database in ``workdir`` (the app's settings pointed there) and one account per
    name: (engine, account ids)."""
    os.environ.setdefault("LLMOBSERVE_DATA_DIR", workdir)
    os.environ.setdefault("JWT_SECRET", "bench-secret-" + "x" * 32)
    from llmobserve_app.db import get_engine, migrate, session_scope
    from llmobserve_app.services import accounts

    url = f"sqlite:///{workdir}/bench.db"
    migrate(url)
    engine = get_engine(url)
    with session_scope(engine) as session:
        ids = [accounts.signup(session, f"{name}@example.com", "correct horse", name.title()).id for name in names]
    return engine, ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="llmo-bench-") as workdir:
        engine, (plain, custom) = sqlite_with_accounts(workdir, "plain", "custom")
        from ingest_api.batches import events_from_body, freeze_startup_heap
        from llmobserve_app.db import session_scope
        from llmobserve_app.services import custom_prices
        from llmobserve_app.services.ingest.batch import prepare_events
        from llmobserve_app.services.ingest.rows import SHARED_PRICES

        with session_scope(engine) as session:
            custom_prices.put_price(session, custom, custom_prices.parse_price(
                {"provider": "openai", "model": "gpt-4o-mini", "input_per_mtok": "0.1", "output_per_mtok": "0.4"}))
        custom_prices.forget(custom)
        events = make_events(BATCH)
        raw = json.dumps({"events": events}, separators=(",", ":")).encode()
        generic = [dict(e, provider="openai-compatible") for e in events]
        raw_generic = json.dumps({"events": generic}, separators=(",", ":")).encode()

        def shared() -> None:
            batch, rejected = events_from_body(raw, BATCH)
            prepare_events(plain, batch, rejected, "sqlite", SHARED_PRICES)

        def tenant(tenant_id: int, body: bytes) -> None:
            batch, rejected = events_from_body(body, BATCH)
            prepare_events(tenant_id, batch, rejected, "sqlite", custom_prices.prices_for(engine, tenant_id))

        cases = {
            "shared (no lookup)": shared,
            "no custom prices (prices_for)": lambda: tenant(plain, raw),
            "custom price for gpt-4o-mini": lambda: tenant(custom, raw),
            "openai-compatible (inferred)": lambda: tenant(plain, raw_generic),
        }
        priced = prepare_events(custom, events_from_body(raw, BATCH)[0], [], "sqlite",
                                custom_prices.prices_for(engine, custom)).rows
        assert any(str(row[-3] or "").startswith("custom:") for row in priced), "the custom price was not used"
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for fn in cases.values():
            fn()  # warm caches
        freeze_startup_heap()  # as the server does once started
        for _ in range(args.rounds):  # interleaved: a noisy neighbour hits every case alike
            for name, fn in cases.items():
                t0 = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - t0)
        base = statistics.median(samples["shared (no lookup)"])
        print(f"pricing at ingest: {BATCH}-event batch validated and priced, median of {args.rounds} rounds")
        for name, values in samples.items():
            median = statistics.median(values)
            print(f"  {name:32s} {median * 1000:7.2f} ms/batch  {BATCH / median:9,.0f} events/s  "
                  f"x{median / base:.3f}")
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
