"""Retention vs ingest: how long an ingest batch waits while the retention job deletes a large history.

    .venv/bin/python bench/bench_retention.py                  # 60k old events to delete (make bench)
    .venv/bin/python bench/bench_retention.py --events 300000 --chunk 2000

One SQLite database (the app's pragmas). Tenant A has ``--events`` events 60 to 90 days old (Free: all past its
30-day history); tenant B ingests batches of 100 current events in a loop, through the same ``ingest_events``
as the server, first alone, then while ``apply_retention`` purges A in chunks of ``--chunk`` rows. Printed:
batch latency p50 / p99 / max in both phases (the ratio is what matters on a shared machine), and retention's
rows per second.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _events(rng: random.Random, count: int, now: datetime, days_back: tuple[int, int]) -> list[dict]:
    events = []
    for _ in range(count):
        started = now - timedelta(seconds=rng.uniform(days_back[0] * 86_400, days_back[1] * 86_400))
        events.append({"span_id": f"{rng.getrandbits(128):032x}", "run_id": f"r{rng.getrandbits(40):010x}",
                       "started_at": started.isoformat(), "provider": "openai", "model": "gpt-4o-mini",
                       "endpoint": "chat", "status_code": 200, "customer_id": f"c{rng.randrange(500)}",
                       "usage": {"input_tokens": rng.randint(50, 8000), "output_tokens": rng.randint(0, 1200)}})
    return events


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms · p99 {p99 * 1000:.1f} ms · max {ordered[-1] * 1000:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--chunk", type=int, default=None, help="rows per retention transaction")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="llmo-bench-retention-")
    os.environ.setdefault("LLMOBSERVE_DATA_DIR", folder)
    os.environ.setdefault("JWT_SECRET", "bench-" + "x" * 40)

    from llmobserve_app.db import get_engine, migrate, session_scope
    from llmobserve_app.services import accounts
    from llmobserve_app.services.billing import plans, retention
    from llmobserve_app.services.ingest.store import ingest_events

    url = f"sqlite:///{Path(folder) / 'bench.db'}"
    migrate(url)
    engine = get_engine(url)
    with session_scope(engine) as session:
        old = accounts.signup(session, "old@example.com", "password123", "Old").id
        live = accounts.signup(session, "live@example.com", "password123", "Live").id
    rng, now = random.Random(1), datetime.now(UTC)
    started = time.perf_counter()
    for offset in range(0, args.events, 5000):
        with session_scope(engine) as session:
            ingest_events(session, old, _events(rng, min(5000, args.events - offset), now, (60, 90)))
    print(f"seeded {args.events:,} old events in {time.perf_counter() - started:.1f} s")

    def ingest_batches(stop: threading.Event, samples: list[float]) -> None:
        while not stop.is_set():
            batch = _events(rng, 100, now, (0, 0.01))
            began = time.perf_counter()
            with session_scope(engine) as session:
                ingest_events(session, live, batch)
            samples.append(time.perf_counter() - began)

    def phase(seconds: float | None, work=None) -> list[float]:
        stop, samples = threading.Event(), []
        worker = threading.Thread(target=ingest_batches, args=(stop, samples))
        worker.start()
        if work is None:
            time.sleep(seconds)
        else:
            work()
        stop.set()
        worker.join()
        return samples

    alone = phase(5)
    chunk = args.chunk or retention.CHUNK_ROWS
    timing: dict[str, float] = {}

    def purge() -> None:
        began = time.perf_counter()
        result = retention.apply_retention(
            engine, lambda _session, user_id: plans.FREE if user_id == old else plans.SELF_HOSTED,
            now=now, chunk_rows=chunk)
        timing["seconds"], timing["rows"] = time.perf_counter() - began, sum(result.deleted.values())

    during = phase(None, purge)
    print(f"ingest alone            ({len(alone)} batches of 100): {_percentiles(alone)}")
    print(f"ingest during retention ({len(during)} batches of 100): {_percentiles(during)}")
    print(f"retention: {timing['rows']:,} rows in {timing['seconds']:.1f} s "
          f"({timing['rows'] / timing['seconds']:,.0f} rows/s, chunks of {chunk})")
    engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
