"""Recalculation speed of two checkouts on one SQLite database, alternately in one run (a shared machine's load
moves between runs: compare within one).

    .venv/bin/python bench/bench_recalculation_ab.py --other /path/to/main/checkout [--events 200000] [--rounds 2]

Stores ``--events`` calls (``bench_recalculation._history``), then each round runs ``recalculate`` at full speed
in a fresh subprocess of each checkout (the order alternating), every run toggling the gpt-4o-mini custom price so
each re-prices the same ~30 % of the calls: wall and CPU seconds per run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_recalculation import CHEAPER, database_with_history  # noqa: E402

CHILD = """
import json, sys, time
from datetime import UTC, datetime, timedelta
from llmobserve_app.db import get_engine, session_scope
from llmobserve_app.services import custom_prices, recalculation
engine, tenant, cheaper = get_engine(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
with session_scope(engine) as session:
    if cheaper:
        custom_prices.put_price(session, tenant, custom_prices.parse_price(json.loads(sys.argv[4])))
    else:
        for price in custom_prices.list_prices(session, tenant):
            custom_prices.delete_price(session, tenant, price.id)
custom_prices.forget(tenant)
window = (datetime.now(UTC) - timedelta(days=21), datetime.now(UTC))
wall, cpu = time.perf_counter(), time.process_time()
job = recalculation.recalculate(engine, tenant, *window)
print(json.dumps({"seen": job.events_seen, "changed": job.calls_changed, "wall": time.perf_counter() - wall,
                  "cpu": time.process_time() - cpu}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--other", type=Path, help="the other checkout (its .venv is not needed)")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.other is None:  # `make bench` runs every script: an A/B needs a checkout to compare with
        print("bench_recalculation_ab: skipped (give --other CHECKOUT to compare this checkout with another)")
        return 0
    with tempfile.TemporaryDirectory(prefix="llmo-bench-recalc-ab-") as tmp:
        workdir = Path(tmp)
        url, _, engine, tenant = database_with_history(workdir, args.events)
        engine.dispose()
        checkouts = [("other", args.other.resolve()), ("this", ROOT)]
        runs = 0
        for number in range(args.rounds):
            for name, root in checkouts if number % 2 == 0 else checkouts[::-1]:
                load = os.getloadavg()[0]
                done = subprocess.run(  # noqa: S603
                    [sys.executable, "-c", CHILD, url, str(tenant), "1" if runs % 2 == 0 else "0", json.dumps(CHEAPER)],
                    cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, check=False)
                runs += 1
                if done.returncode:
                    raise SystemExit(done.stderr[-2000:])
                result = json.loads(done.stdout.strip().splitlines()[-1])
                print(f"  round {number + 1} {name} (load {load:.2f}): {result['seen']:,} calls, "
                      f"{result['changed']:,} re-priced, {result['wall']:.1f} s = "
                      f"{result['seen'] / result['wall']:,.0f} calls/s; CPU {result['cpu']:.1f} s = "
                      f"{result['seen'] / result['cpu']:,.0f} calls per CPU-second", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
