"""The command line of price recalculation (``services/recalculation.py``): re-price an account's calls of a
window, or run one existing job (how a background job's child process runs).

    python -m llmobserve_app.recalculate --tenant ID --from 2026-11-01 [--to 2026-12-01] [--pause 0]
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta

from llmobserve_app.db import get_engine
from llmobserve_app.models import utcnow
from llmobserve_app.services import custom_prices, recalculation
from llmobserve_app.services.errors import UserFacingError
from llmobserve_app.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m llmobserve_app.recalculate",
        description="Re-price an account's calls in a window with the prices now in force.")
    parser.add_argument("--tenant", type=int, help="the account (user) id")
    parser.add_argument("--from", dest="start", help="ISO date or datetime (UTC unless given)")
    parser.add_argument("--to", dest="end", help="ISO date or datetime, exclusive (default: now)")
    parser.add_argument("--job", type=int, help="run this existing job instead (a background job's process)")
    parser.add_argument("--holder", help="with --job: the lease holder name its starter took")
    parser.add_argument("--nice", type=int, default=0, help="lower this process's CPU priority by this much")
    parser.add_argument("--database-url", help=f"default: {recalculation.DATABASE_URL_VARIABLE}, else DATABASE_URL")
    parser.add_argument("--lease-seconds", type=float,
                        help="the job's lease (another process continues the job once it expires; default: "
                        "LLMOBSERVE_JOB_LEASE_SECONDS)")
    parser.add_argument("--chunk-events", type=int, help="calls per chunk (default: sized to take "
                        f"{recalculation.CHUNK_SECONDS * 1000:g} ms each)")
    parser.add_argument("--pause", type=float, default=recalculation.BACKGROUND_PAUSE,
                        help="after each chunk, pause this many times as long as it took "
                        f"(default {recalculation.BACKGROUND_PAUSE:g}; 0: full speed, for a database nothing else "
                        "writes)")
    args = parser.parse_args(argv)
    if args.nice:
        os.nice(args.nice)
    engine = get_engine(args.database_url or os.environ.get(recalculation.DATABASE_URL_VARIABLE))
    if args.lease_seconds:
        ttl = timedelta(seconds=args.lease_seconds)
    else:
        ttl = timedelta(seconds=get_settings().job_lease_seconds)
    if args.job is not None:
        holder = args.holder or recalculation.claim(engine, args.job, ttl)
        if holder is None:
            print(f"error: job {args.job} is run by another process", file=sys.stderr)
            return 3
        recalculation.run(engine, args.job, pause=args.pause, holder=holder, ttl=ttl, chunk_events=args.chunk_events)
        return 0
    if args.tenant is None or args.start is None:
        parser.error("--tenant and --from are required (or --job)")
    try:
        window_start = custom_prices.parse_when(args.start, "from")
        window_end = custom_prices.parse_when(args.end, "to") or utcnow()
        assert window_start is not None
        job = recalculation.recalculate(engine, args.tenant, window_start, window_end, args.pause, ttl,
                                        args.chunk_events)
    except UserFacingError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2
    print(recalculation.as_json(job))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
