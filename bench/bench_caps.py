"""Spending caps benchmark: what caps cost ingest, and the catch-up job over 10,000 caps.

    .venv/bin/python bench/bench_caps.py [--events 40000] [--rounds 3] [--caps-tenants 100]

(a) The real ingest app under Granian (as ``bench_ingest.py``: gzip batches of 500 realistic events, 8
clients, SQLite) on two fresh databases holding the same 20 days of history, alternately in the same run: one
account without caps, and one with 100 enabled caps on the scopes the traffic touches (global, providers,
models, agents, 88 named customers and two ``customer:*`` caps; day, week and month; half of them ``block``;
limits high enough that nothing blocks, so every batch pays a full evaluation). Target: with caps ≥ 90 % of
the rate without (median of the rounds' ratios), and the server CPU per event next to it (the steadier
figure on a shared machine).

(b) ``catch_up`` (the minute job) over 10,000 enabled caps: 100 tenants × 100 caps like (a), each tenant with
ingested traffic. Target ≤ 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_ingest import (  # noqa: E402
    BATCH,
    _check_stored,
    _drop_database,
    _post_all,
    _process_cpu,
    _setup_database,
    _start_server,
    _stop,
    make_bodies,
    make_events,
)

CLIENTS = 8


def cap_specs(count: int = 100) -> list[dict]:
    """``count`` caps on the scopes ``bench_ingest``'s traffic touches (limits no batch reaches)."""
    specs = [{"scope": "global", "period": "day", "action": "block"},
             {"scope": "global", "period": "month", "action": "alert"},
             {"scope": "customer", "value": "*", "period": "day", "action": "block"},
             {"scope": "customer", "value": "*", "period": "month", "action": "alert"}]
    specs += [{"scope": "provider", "value": value, "period": "week", "action": "block"}
              for value in ("openai", "anthropic")]
    specs += [{"scope": "model", "value": value, "period": "month", "action": "alert"}
              for value in ("gpt-4o-mini", "claude-sonnet-4-20250514")]
    specs += [{"scope": "agent", "value": value, "period": "day", "action": "block"}
              for value in ("research", "support")]
    periods = ("day", "week", "month")
    specs += [{"scope": "customer", "value": f"cust_{n:05d}", "period": periods[n % 3],
               "action": ("alert", "block")[n % 2]} for n in range(count - len(specs))]
    return [{**spec, "limit_usd": "1000000"} for spec in specs[:count]]


def _add_caps(url: str, tenant_id: int, count: int) -> None:
    from llmobserve_app.db import get_engine, session_scope
    from llmobserve_app.services.caps import crud

    with session_scope(get_engine(url)) as session:
        for spec in cap_specs(count):
            crud.create_cap(session, tenant_id, **spec)


def _tenant_of(url: str, key: str) -> int:
    from llmobserve_app.db import get_engine, session_scope
    from llmobserve_app.services.api_keys import tenant_for_key

    with session_scope(get_engine(url)) as session:
        tenant = tenant_for_key(session, key)
    assert tenant is not None
    return tenant


def history(count: int, days: int = 20) -> list[dict]:
    """``count`` events spread over the ``days`` before the live traffic (a month cap then sums weeks of
    rollups, as it would in production)."""
    shift = timedelta(days=days)
    events = make_events(count, seed=7, span=shift)
    for event in events:
        event["span_id"] = uuid.uuid4().hex
        for field in ("started_at", "ended_at"):
            event[field] = (datetime.fromisoformat(event[field]) - shift).isoformat()
    return events


def _seed(url: str, key: str, events: list[dict]) -> None:
    from llmobserve_app.db import get_engine, session_scope
    from llmobserve_app.services.ingest.store import ingest_events

    tenant = _tenant_of(url, key)
    for start in range(0, len(events), BATCH):
        with session_scope(get_engine(url)) as session:
            ingest_events(session, tenant, [{**event, "span_id": uuid.uuid4().hex}
                                            for event in events[start:start + BATCH]])


def _ingest_round(workdir: Path, events: int, caps: int, max_seconds: float, past: list[dict]) -> dict[str, float]:
    url, key = _setup_database(workdir, "sqlite")
    try:
        _seed(url, key, past)
        if caps:
            _add_caps(url, _tenant_of(url, key), caps)
        warmup = 10
        bodies = make_bodies(warmup + events // BATCH)
        server, base = _start_server(url, workdir, 1)
        try:
            _post_all(base, key, bodies[:warmup], CLIENTS, max_seconds)
            cpu_before = _process_cpu(server.pid)
            sent, seconds, _, latencies = _post_all(base, key, bodies[warmup:], CLIENTS, max_seconds)
            cpu_after = _process_cpu(server.pid)
        finally:
            _stop(server)
        _check_stored(url, sent + warmup * BATCH + len(past))
    finally:
        _drop_database(url)
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    used = {name: (cpu_after[name] - cpu_before.get(name, 0.0)) * 1e6 / sent for name in cpu_after}
    latencies.sort()
    return {"rate": sent / seconds, "web_cpu_us": sum(v for n, v in used.items() if n != "writer"),
            "server_cpu_us": sum(used.values()), "p95_ms": 1000 * latencies[int(len(latencies) * .95)]}


def bench_ingest_with_caps(workdir: Path, events: int, rounds: int, max_seconds: float,
                           history_events: int) -> list[tuple[dict, dict]]:
    results = []
    past = history(history_events)
    for number in range(rounds):
        order = (0, 100) if number % 2 == 0 else (100, 0)  # alternate who goes first
        measured = {caps: _ingest_round(workdir, events, caps, max_seconds, past) for caps in order}
        results.append((measured[0], measured[100]))
        print(f"  round {number + 1}: no caps {measured[0]['rate']:,.0f} events/s "
              f"({measured[0]['web_cpu_us']:.1f} µs web CPU/event, {measured[0]['server_cpu_us']:.1f} with the "
              f"writer, p95 {measured[0]['p95_ms']:.0f} ms); 100 caps {measured[100]['rate']:,.0f} events/s "
              f"({measured[100]['web_cpu_us']:.1f} µs, {measured[100]['server_cpu_us']:.1f}, "
              f"p95 {measured[100]['p95_ms']:.0f} ms): {measured[100]['rate'] / measured[0]['rate']:.0%}",
              flush=True)
    return results


def bench_catch_up(workdir: Path, tenants: int, events_per_tenant: int) -> dict[str, float]:
    from llmobserve_app.db import get_engine, migrate, session_scope
    from llmobserve_app.services import accounts
    from llmobserve_app.services.caps.checks import catch_up
    from llmobserve_app.services.ingest.store import ingest_events

    url = f"sqlite:///{workdir / 'catchup.db'}"
    migrate(url)
    engine = get_engine(url)
    events = make_events(events_per_tenant)
    for number in range(tenants):
        with session_scope(engine) as session:
            tenant = accounts.signup(session, f"t{number}@example.com", "correct horse battery", "T").id
            ingest_events(session, tenant, [{**event, "span_id": uuid.uuid4().hex} for event in events])
        _add_caps(url, tenant, 100)
    now = datetime.now(UTC)
    catch_up(engine, now)  # warm: the first run fires nothing either (limits not reached) but loads modules
    timings = []
    for _ in range(3):
        began = time.perf_counter()
        fired = catch_up(engine, now)
        timings.append(time.perf_counter() - began)
    engine.dispose()
    return {"caps": tenants * 100, "seconds": statistics.median(timings), "fired": len(fired),
            "events": tenants * events_per_tenant}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=40_000, help="events POSTed per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--history-events", type=int, default=20_000,
                        help="events over the 20 days before the live traffic, stored first")
    parser.add_argument("--caps-tenants", type=int, default=100, help="tenants of 100 caps for the catch-up")
    parser.add_argument("--events-per-tenant", type=int, default=500)
    parser.add_argument("--max-seconds", type=float, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llmo-bench-caps-") as tmp:
        workdir = Path(tmp)
        os.environ.setdefault("LLMOBSERVE_DATA_DIR", str(workdir))
        os.environ.setdefault("JWT_SECRET", "bench-" + uuid.uuid4().hex)
        print(f"(a) ingest over HTTP (SQLite, {CLIENTS} clients, 1 worker), {args.events:,} events per measurement, "
              f"{args.history_events:,} events of history")
        pairs = bench_ingest_with_caps(workdir, args.events, args.rounds, args.max_seconds, args.history_events)
        ratios = [caps["rate"] / none["rate"] for none, caps in pairs]
        cpu = [caps["web_cpu_us"] / none["web_cpu_us"] for none, caps in pairs]
        server = [caps["server_cpu_us"] / none["server_cpu_us"] for none, caps in pairs]
        print(f"    with 100 caps / without: {', '.join(f'{r:.0%}' for r in ratios)} "
              f"(median {statistics.median(ratios):.0%}; target ≥ 90 %); CPU per event × "
              f"{statistics.median(cpu):.2f} in the web process, × {statistics.median(server):.2f} web + writer")
        catch = bench_catch_up(workdir, args.caps_tenants, args.events_per_tenant)
        print(f"(b) catch-up over {catch['caps']:,} enabled caps ({args.caps_tenants} tenants, {catch['events']:,} "
              f"events): {catch['seconds']:.3f} s (median of 3; target ≤ 1 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
