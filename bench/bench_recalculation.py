"""Re-pricing past calls on SQLite: how fast a recalculation goes, and what it costs ingest running meanwhile.

    .venv/bin/python bench/bench_recalculation.py [--events 100000] [--pause 1.0]

1. ingests ``--events`` realistic events (``bench_ingest.make_events``, batches of 500, in-process through
   ``ingest_events``) into a fresh SQLite database, then saves a custom price for gpt-4o-mini (about a third
   of the calls);
2. recalculates the whole window with no pause (its full speed: events/s, and the time 1M events would take);
3. measures in-process ingest of fresh batches alone, then while a second recalculation (``--pause``, 4 as the
   API runs it) re-prices the window in a thread, and prints the ingest rate ratio (same run).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_ingest import BATCH, make_events  # noqa: E402
from bench_ingest_pricing import sqlite_with_accounts  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--pause", type=float, default=4.0)  # recalculation.BACKGROUND_PAUSE
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llmo-bench-") as workdir:
        engine, (tenant,) = sqlite_with_accounts(workdir, "recalc")
        from llmobserve_app.db import session_scope
        from llmobserve_app.services import custom_prices, recalculation
        from llmobserve_app.services.ingest.store import ingest_events

        events = make_events(args.events, span=timedelta(days=20))
        t0 = time.perf_counter()
        for i in range(0, len(events), BATCH):
            with session_scope(engine) as session:
                ingest_events(session, tenant, events[i:i + BATCH])
        print(f"recalculation bench (SQLite): {args.events:,} events ingested in {time.perf_counter() - t0:.1f} s")
        with session_scope(engine) as session:
            custom_prices.put_price(session, tenant, custom_prices.parse_price(
                {"provider": "openai", "model": "gpt-4o-mini", "input_per_mtok": "0.1", "output_per_mtok": "0.4"}))
        # make_events spreads its calls from 2 hours ago over --span: 20 days
        window = (datetime.now(UTC) - timedelta(hours=3), datetime.now(UTC) + timedelta(days=21))

        t0 = time.perf_counter()
        job = recalculation.recalculate(engine, tenant, *window)
        took = time.perf_counter() - t0
        print(f"  full speed (no pause): {job.events_seen:,} events, {job.calls_changed:,} changed, {took:.1f} s "
              f"= {job.events_seen / took:,.0f} events/s (1M events: {1_000_000 / (job.events_seen / took):.0f} s)")

        fresh = make_events(40 * BATCH, seed=2)
        for index, event in enumerate(fresh):
            event["span_id"] = f"fresh-{index}"

        def ingest_rate(batches: list[list[dict]]) -> float:
            timings = []
            for batch in batches:
                began = time.perf_counter()
                with session_scope(engine) as session:
                    ingest_events(session, tenant, batch)
                timings.append(time.perf_counter() - began)
            return BATCH / statistics.median(timings)

        batches = [fresh[i:i + BATCH] for i in range(0, len(fresh), BATCH)]
        alone = ingest_rate(batches[:20])
        with session_scope(engine) as session:  # undo the first price change so the second job has work
            for price in custom_prices.list_prices(session, tenant):
                custom_prices.delete_price(session, tenant, price.id)
        custom_prices.forget(tenant)
        with session_scope(engine) as session:
            job_id = recalculation.start(session, tenant, *window).id
        worker = threading.Thread(target=recalculation.run, args=(engine, job_id, args.pause))
        worker.start()
        time.sleep(0.5)
        during = ingest_rate(batches[20:]) if worker.is_alive() else float("nan")
        still_running = worker.is_alive()
        worker.join()
        print(f"  in-process ingest alone {alone:,.0f} events/s; during a recalculation (pause x{args.pause}) "
              f"{during:,.0f} events/s: x{during / alone:.2f}"
              f"{'' if still_running else ' (the recalculation ended before ingest did: raise --events)'}")
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
