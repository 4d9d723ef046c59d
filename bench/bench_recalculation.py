"""Re-pricing past calls on SQLite: how fast a recalculation goes, and what it costs ingest running meanwhile.

    .venv/bin/python bench/bench_recalculation.py [--events 1000000] [--rounds 2] [--phase-batches 80]

1. stores ``--events`` realistic calls (``bench_ingest.make_events`` over the 20 days before now, in-process
   ``ingest_events``, batches of 500) in a fresh SQLite database;
2. speed: each round saves a custom price for gpt-4o-mini (about a third of the calls) or deletes it again, then
   recalculates the whole window at full speed (``recalculate``, no pause): events/s and the seconds for 1M;
3. ingest: the real ingest app under Granian (``bench_ingest``: 1 worker and its SQLite writer process, 8 client
   threads POSTing gzip batches of 500) on the same database; each round measures ingest alone and while a
   recalculation started with ``POST /v1/prices/recalculate`` runs (as the app runs it: in a child process of
   the server at nice 10, pausing 4× each chunk's time), alternating which goes first; the job is stopped after
   the phase (its status set to ``stopped``), and its progress during the phase is printed (the background
   rate).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_caps import _tenant_of  # noqa: E402
from bench_ingest import (  # noqa: E402
    BATCH,
    _post_all,
    _setup_database,
    _start_server,
    _stop,
    make_bodies,
    make_events,
)

CLIENTS = 8
HISTORY_DAYS = 20
CHEAPER = {"provider": "openai", "model": "gpt-4o-mini", "input_per_mtok": "0.1", "output_per_mtok": "0.4"}


def _load() -> str:
    return "load " + " ".join(f"{value:.2f}" for value in os.getloadavg())


def _history(count: int) -> list[dict]:
    """``count`` calls spread over the ``HISTORY_DAYS`` days before the live traffic."""
    shift = timedelta(days=HISTORY_DAYS)
    events = make_events(count, seed=5, span=shift)
    for event in events:
        for field in ("started_at", "ended_at"):
            event[field] = (datetime.fromisoformat(event[field]) - shift).isoformat()
    return events


def _toggle_price(engine, tenant: int, cheaper: bool) -> None:
    """Save the gpt-4o-mini custom price, or delete it: either way about a third of the calls change."""
    from llmobserve_app.db import session_scope
    from llmobserve_app.services import custom_prices

    with session_scope(engine) as session:
        if cheaper:
            custom_prices.put_price(session, tenant, custom_prices.parse_price(CHEAPER))
        else:
            for price in custom_prices.list_prices(session, tenant):
                custom_prices.delete_price(session, tenant, price.id)
    custom_prices.forget(tenant)


def _job(engine, job_id: int) -> dict:
    import sqlalchemy as sa

    from llmobserve_app.models import PriceRecalculation

    with engine.connect() as connection:
        return dict(connection.execute(sa.select(PriceRecalculation.__table__)
                                       .where(PriceRecalculation.id == job_id)).mappings().one())


def _stop_job(engine, job_id: int) -> None:
    """Stop a running job (its runner sees the status at its next chunk and ends)."""
    import sqlalchemy as sa

    from llmobserve_app.models import PriceRecalculation

    table = PriceRecalculation.__table__
    with engine.begin() as connection:
        connection.execute(sa.update(table).where(table.c.id == job_id, table.c.status == "running")
                           .values(status="stopped", error="stopped by the bench"))


def bench_speed(engine, tenant: int, window: tuple[datetime, datetime], rounds: int) -> list[float]:
    from llmobserve_app.services import recalculation

    rates = []
    for number in range(rounds):
        _toggle_price(engine, tenant, cheaper=number % 2 == 0)
        load = _load()
        began = time.perf_counter()
        job = recalculation.recalculate(engine, tenant, *window)
        took = time.perf_counter() - began
        rates.append(job.events_seen / took)
        print(f"  speed round {number + 1} ({load}): {job.events_seen:,} events, {job.calls_changed:,} re-priced, "
              f"{took:.1f} s = {rates[-1]:,.0f} events/s (1M events: {1_000_000 / rates[-1]:.0f} s)", flush=True)
    return rates


def _start_recalculation(base: str, key: str, since: datetime) -> int:
    import httpx

    reply = httpx.post(f"{base}/v1/prices/recalculate", json={"from": since.isoformat()},
                       headers={"Authorization": f"Bearer {key}"}, timeout=30)
    if reply.status_code != 202:
        raise SystemExit(f"recalculate: HTTP {reply.status_code} {reply.text[:300]}")
    return int(reply.json()["id"])


def bench_ingest_during(engine, url: str, key: str, tenant: int, workdir: Path, since: datetime, rounds: int,
                        phase_batches: int, max_seconds: float, first_toggle: int) -> list[tuple[float, float]]:
    bodies = make_bodies(10 + 2 * rounds * phase_batches)
    server, base = _start_server(url, workdir, 1)
    pairs = []
    try:
        _post_all(base, key, bodies[:10], CLIENTS, max_seconds)  # warm-up
        offset = 10
        for number in range(rounds):
            order = ("alone", "during") if number % 2 == 0 else ("during", "alone")
            measured: dict[str, float] = {}
            notes = ""
            for phase in order:
                phase_bodies = bodies[offset:offset + phase_batches]
                offset += phase_batches
                if phase == "alone":
                    load = _load()
                    sent, seconds, _, _ = _post_all(base, key, phase_bodies, CLIENTS, max_seconds)
                    measured[phase] = sent / seconds
                    notes += f"alone {measured[phase]:,.0f} events/s ({load}); "
                    continue
                _toggle_price(engine, tenant, cheaper=(first_toggle + number) % 2 == 0)
                job_id = _start_recalculation(base, key, since)
                deadline = time.monotonic() + 30
                while _job(engine, job_id)["events_seen"] == 0:  # it runs: the phase starts
                    if time.monotonic() > deadline:
                        raise SystemExit("the recalculation did not start in 30 s")
                    time.sleep(0.05)
                load = _load()
                seen_before, began = _job(engine, job_id)["events_seen"], time.perf_counter()
                sent, seconds, _, _ = _post_all(base, key, phase_bodies, CLIENTS, max_seconds)
                job = _job(engine, job_id)
                background = (job["events_seen"] - seen_before) / (time.perf_counter() - began)
                if job["status"] != "running":
                    raise SystemExit(f"the recalculation ended during the phase ({job['status']}): raise --events")
                _stop_job(engine, job_id)
                measured[phase] = sent / seconds
                notes += (f"during a recalculation {measured[phase]:,.0f} events/s ({load}; the job re-priced "
                          f"{background:,.0f} events/s meanwhile); ")
            pairs.append((measured["alone"], measured["during"]))
            print(f"  ingest round {number + 1}: {notes}x{measured['during'] / measured['alone']:.2f}", flush=True)
            time.sleep(1)  # the stopped job's runner notices at its next chunk
    finally:
        _stop(server)
    return pairs


def database_with_history(workdir: Path, events: int) -> tuple[str, str, Any, int]:
    """A fresh SQLite database in ``workdir`` holding ``events`` calls of the days before now (in-process
    ``ingest_events``, batches of 500): its URL, API key, engine and tenant id."""
    os.environ.setdefault("LLMOBSERVE_DATA_DIR", str(workdir))
    os.environ.setdefault("JWT_SECRET", "bench-" + uuid.uuid4().hex)
    from llmobserve_app.db import get_engine, session_scope
    from llmobserve_app.services.ingest.store import ingest_events

    url, key = _setup_database(workdir, "sqlite")
    engine, tenant = get_engine(url), _tenant_of(url, key)
    history = _history(events)
    for start in range(0, len(history), BATCH):
        with session_scope(engine) as session:
            ingest_events(session, tenant, history[start:start + BATCH])
    return url, key, engine, tenant


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="calls stored before the measurements")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--phase-batches", type=int, default=80, help="batches of 500 POSTed per ingest phase")
    parser.add_argument("--max-seconds", type=float, default=120)
    parser.add_argument("--skip-speed", action="store_true", help="measure only ingest with and without a job")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llmo-bench-recalc-") as tmp:
        workdir = Path(tmp)
        began = time.perf_counter()
        url, key, engine, tenant = database_with_history(workdir, args.events)
        print(f"recalculation bench (SQLite): {args.events:,} calls stored in {time.perf_counter() - began:.0f} s",
              flush=True)
        since = datetime.now(UTC) - timedelta(days=HISTORY_DAYS + 1)
        window = (since, datetime.now(UTC) - timedelta(hours=3))  # the history, not the live traffic

        speed: list[float] = []
        if not args.skip_speed:
            speed = bench_speed(engine, tenant, window, args.rounds)
            print(f"  full speed: median {statistics.median(speed):,.0f} events/s = 1M events in "
                  f"{1_000_000 / statistics.median(speed):.0f} s (target ≤ 60 s)", flush=True)
        pairs = bench_ingest_during(engine, url, key, tenant, workdir, since, args.rounds, args.phase_batches,
                                    args.max_seconds, first_toggle=len(speed))
        ratios = [during / alone for alone, during in pairs]
        print(f"  ingest during / alone: {', '.join(f'x{r:.2f}' for r in ratios)} (median "
              f"x{statistics.median(ratios):.2f}; target ≥ x0.90)")
        print(json.dumps({"speed_events_per_s": speed, "ingest_pairs": pairs}))
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
