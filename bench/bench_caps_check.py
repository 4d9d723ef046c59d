"""CPU of the after-batch caps check itself, in-process: what ``checks.after_batch`` costs per 500-event batch.

    .venv/bin/python bench/bench_caps_check.py [--batches 200] [--code /path/to/another/checkout]

One SQLite database with ``bench_caps``'s account: 20,000 events of history and 100 enabled caps on the
scopes the traffic touches (limits no batch reaches). Each batch of 500 ``bench_ingest`` events is stored as
the ingest API stores it (``write_prepared``, untimed), then ``after_batch`` gets its rows, timed with the
thread's CPU clock. ``--code`` measures another checkout's code (e.g. the main branch, for a before/after in
one sitting): only public functions that exist on both are called.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--history-events", type=int, default=20_000)
    parser.add_argument("--code", type=Path, default=HERE.parent, help="the checkout whose code is measured")
    args = parser.parse_args()
    sys.path[:0] = [str(args.code.resolve()), str(HERE)]
    with tempfile.TemporaryDirectory(prefix="llmo-bench-caps-check-") as tmp:
        os.environ.setdefault("LLMOBSERVE_DATA_DIR", tmp)
        os.environ.setdefault("JWT_SECRET", "bench-" + uuid.uuid4().hex)
        import llmobserve_app  # from --code
        from llmobserve_app.db import get_engine, session_scope
        from llmobserve_app.models import utcnow
        from llmobserve_app.services import custom_prices
        from llmobserve_app.services.caps import checks
        from llmobserve_app.services.ingest.batch import prepare_events
        from llmobserve_app.services.ingest.schema import validate_events
        from llmobserve_app.services.ingest.store import write_prepared

        # Only now (they put this checkout first on the path when imported):
        bench_caps, bench_ingest = (importlib.import_module(name) for name in ("bench_caps", "bench_ingest"))
        BATCH = bench_ingest.BATCH  # noqa: N806

        url, key = bench_ingest._setup_database(Path(tmp), "sqlite")
        bench_caps._seed(url, key, bench_caps.history(args.history_events))
        tenant = bench_caps._tenant_of(url, key)
        bench_caps._add_caps(url, tenant, 100)
        engine = get_engine(url)
        events = bench_ingest.make_events(args.batches * BATCH, seed=3)
        cpu_us: list[float] = []
        from_memory = 0
        for start in range(0, len(events), BATCH):
            validated, rejected = validate_events(events[start:start + BATCH])
            batch = prepare_events(tenant, validated, rejected, "sqlite", custom_prices.prices_for(engine, tenant))
            with session_scope(engine) as session:
                write_prepared(session, batch, utcnow())
            began = time.thread_time()
            result = checks.after_batch(engine, tenant, batch.rows, datetime.now(UTC))
            cpu_us.append((time.thread_time() - began) * 1e6)
            from_memory += bool(getattr(result, "from_memory", False))
        engine.dispose()
    warm = cpu_us[10:]
    median = statistics.median(warm)
    print(f"code {Path(llmobserve_app.__file__).parent.parent}: after_batch over {len(warm)} batches of {BATCH} "
          f"(after 10 warm-up): median {median:,.0f} µs CPU per batch ({median / BATCH:.2f} µs per event), "
          f"mean {statistics.fmean(warm):,.0f} µs; answered from memory: {from_memory}/{len(cpu_us)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
