"""Analytics at scale: page query latency (p50/p95) over N synthetic events, and dashboard render time.

    .venv/bin/python bench/bench_analytics.py                       # 200k events, quick (make bench)
    .venv/bin/python bench/bench_analytics.py --events 10000000 --customers 10000 --keep /tmp/llmo-10m
    .venv/bin/python bench/bench_analytics.py --reuse /tmp/llmo-10m  # re-measure an existing database
    .venv/bin/python bench/bench_analytics.py --events 1000000 --render   # + Chromium render of /
    .venv/bin/python bench/bench_analytics.py --reuse /tmp/llmo-10m --render-only  # render + server memory

Server memory: every process of the server (bench/server_memory.py), RSS and PSS (shared pages counted once), after
every analytics page and export, twice.

Events go through the server's ingest path (one-pass validation, pricing and rollups as the web process does
them, then the writer process's APSW writer) in batches of 5,000, into SQLite, in time order across the days
as a live stream arrives.
Page queries are timed in steady state (per-customer range bases already built: one warm-up call each); the
one-off cost of building a base, paid by the first request of the day (hour, for 24 h windows), is timed
separately with the bases dropped.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import server_memory  # noqa: E402

MODELS = [("openai", "gpt-4o-mini", 40), ("openai", "gpt-4o", 12), ("anthropic", "claude-3-5-haiku-20241022", 15),
          ("anthropic", "claude-sonnet-4-20250514", 6), ("google", "gemini-2.0-flash", 10),
          ("openai", "text-embedding-3-small", 12), ("pinecone", "serverless", 5)]
SECTIONS = ["agent:support/tool:search_docs", "agent:support", "agent:research/tool:web_search",
            "agent:summarizer", None]


def _events(rng: random.Random, count: int, customers: int, days: int, now: datetime, offset: int,
            total: int) -> list[dict]:
    """``count`` events starting at position ``offset`` of ``total``, in time order across ``days`` as a live
    stream arrives (ids time-ordered too, as the SDK makes them)."""
    weights = [m[2] for m in MODELS]
    span = days * 86_400
    out = []
    for index in range(count):
        position = offset + index
        provider, model, _ = rng.choices(MODELS, weights)[0]
        started = now - timedelta(seconds=span * (1 - position / total) - rng.random())
        usage = ({"units": {"read_units": rng.randint(1, 20)}} if provider == "pinecone" else
                 {"input_tokens": rng.randint(50, 8000), "output_tokens": rng.randint(0, 1200)})
        out.append({
            "span_id": f"{position:016x}{rng.getrandbits(64):016x}", "run_id": f"r{position // 4:015x}",
            "started_at": started.isoformat(),
            "ended_at": (started + timedelta(milliseconds=rng.randint(100, 4000))).isoformat(),
            "provider": provider, "model": model, "status_code": 429 if rng.random() < 0.01 else 200,
            "usage": usage, "customer_id": f"cust_{rng.randrange(customers):05d}",
            "section_path": rng.choice(SECTIONS),
        })
    return out


def populate(database_url: str, events: int, customers: int, days: int) -> int:
    import json

    from ingest_api.sqlite_writer import SqliteWriter
    from llmobserve_app.db import migrate, session_scope
    from llmobserve_app.models import utcnow
    from llmobserve_app.services import accounts, api_keys
    from llmobserve_app.services.ingest.batch import prepare_events
    from llmobserve_app.services.ingest.schema import parse_valid_batch
    from llmobserve_app.services.ingest.store import write_prepared

    migrate(database_url)
    from llmobserve_app.db import get_engine

    engine = get_engine(database_url)
    with session_scope(engine) as session:
        user = accounts.signup(session, "bench@example.com", "bench-password", "Bench")
        api_keys.create_api_key(session, user.id, "bench")
        tenant = user.id
    rng, now, chunk = random.Random(1), datetime.now(UTC), 5000
    # SQLite: the ingest API's own writer (APSW, as its writer process runs it); else the service's session path.
    # Never both libraries on one file at once in one process (their POSIX locks would clash): the engine's
    # pooled connections are closed first, and reopen once the writer is closed.
    writer = None
    if engine.dialect.name == "sqlite":
        engine.dispose()
        writer = SqliteWriter(engine.url.database)
    began = time.perf_counter()
    for offset in range(0, events, chunk):
        body = json.dumps({"events": _events(rng, min(chunk, events - offset), customers, days, now, offset, events)})
        prepared = prepare_events(tenant, parse_valid_batch(body), (), engine.dialect.name)
        if writer is not None:
            [outcome] = writer.write_group([prepared])
            if isinstance(outcome, Exception):
                raise outcome
        else:
            with session_scope(engine) as session:
                write_prepared(session, prepared, utcnow())
        if offset and offset % 500_000 == 0:
            rate = offset / (time.perf_counter() - began)
            print(f"  ingested {offset:,} events ({rate:,.0f}/s)", flush=True)
    if writer is not None:
        writer.close()
    elapsed = time.perf_counter() - began
    print(f"ingested {events:,} events in {elapsed:.1f} s ({events / elapsed:,.0f} events/s through the ingest writer)")
    return tenant


def _timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def measure_queries(database_url: str, tenant: int, repeat: int) -> list[tuple[str, float, float]]:
    from llmobserve_app.db import get_engine, session_scope
    from llmobserve_app.services import analytics

    engine = get_engine(database_url)
    now = datetime.now(UTC)
    day, week, month = (_scope(tenant, key, now) for key in ("24h", "7d", "30d"))
    one_customer = analytics.Scope(tenant, month.start, month.end, "cust_00042")
    cases: dict[str, Callable] = {
        "dashboard: KPI summary (24h, 7d, previous 7d, runs)": lambda s: analytics.dashboard_summary(s, tenant, now),
        "dashboard: cost over time, 30d": lambda s: analytics.cost_over_time(s, month),
        "dashboard: cost by provider, 7d": lambda s: analytics.cost_by(s, week, "provider"),
        "dashboard: cost by model, 30d": lambda s: analytics.cost_by(s, month, "model"),
        "dashboard: top agents, 30d": lambda s: analytics.cost_by(s, month, "agent"),
        "dashboard: top customers, 30d": lambda s: analytics.cost_by(s, month, "customer", limit=5),
        "dashboard: recent runs": lambda s: analytics.recent_runs(s, tenant),
        "customers: page 1 by cost, 30d": lambda s: analytics.customers_page(s, month),
        "customers: page 1 by cost, 24h": lambda s: analytics.customers_page(s, day),
        "customers: search 'cust_001', 7d": lambda s: analytics.customers_page(s, week, search="cust_001"),
        "customers: page 100 by last seen, 30d": lambda s: analytics.customers_page(s, month, sort="last_seen",
                                                                                     page=99),
        "customer drill-down (all it loads), 30d": lambda s: (
            analytics.totals(s, one_customer), analytics.cost_over_time(s, one_customer),
            analytics.cost_by(s, one_customer, "model"), analytics.cost_by(s, one_customer, "agent"),
            analytics.runs_page(s, one_customer, page_size=10)),
        "agents: table + trend, 30d": lambda s: analytics.agents_with_trend(s, month),
        "runs: page 1, 7d": lambda s: analytics.runs_page(s, week),
        "runs: page 1, 30d": lambda s: analytics.runs_page(s, month),
        "llms: models, 30d": lambda s: analytics.models(s, month),
        "infrastructure, 30d": lambda s: analytics.infrastructure(s, month),
        "insights (two weeks)": lambda s: analytics.insights(s, tenant, now),
    }
    results = []
    with session_scope(engine) as session:
        for name, query in cases.items():
            query(session)  # warm the page cache once
            p50, p95 = _timed(lambda q=query: q(session), repeat)
            results.append((name, p50, p95))
            print(f"  {name:<48} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms", flush=True)
    return results


def _scope(tenant: int, key: str, now: datetime):
    from llmobserve_app.services import analytics
    from llmobserve_app.services.time_range import resolve_range

    window = resolve_range(key, now=now)  # as the pages do
    return analytics.Scope(tenant, window.start, window.end)


def measure_builds(database_url: str, tenant: int) -> None:
    """The first request of a day (of an hour, for 24 h windows) builds the per-customer range bases it needs
    inside the request: timed here with every base of the tenant dropped first."""
    import sqlalchemy as sa

    from llmobserve_app.db import get_engine, session_scope
    from llmobserve_app.services import analytics, customer_ranges

    engine = get_engine(database_url)
    now = datetime.now(UTC)
    day, week, month = (_scope(tenant, key, now) for key in ("24h", "7d", "30d"))
    cases: dict[str, Callable] = {
        "customers page 1, 30d (builds the 30-day base)": lambda s: analytics.customers_page(s, month),
        "top customers, 7d (builds the 7-day base)": lambda s: analytics.cost_by(s, week, "customer", limit=5),
        "insights (builds 7-day + previous-week bases)": lambda s: analytics.insights(s, tenant, now),
        "customers page 1, 24h (builds the hour base)": lambda s: analytics.customers_page(s, day),
    }
    for name, query in cases.items():
        with session_scope(engine) as session:
            for table in (customer_ranges.STATE, customer_ranges.TOTALS):
                session.execute(sa.delete(table).where(table.c.tenant_id == tenant))
        with session_scope(engine) as session:
            began = time.perf_counter()
            query(session)
            cold = (time.perf_counter() - began) * 1000
            began = time.perf_counter()
            query(session)
            warm = (time.perf_counter() - began) * 1000
        print(f"  {name:<48} first {cold:8.1f} ms   then {warm:8.1f} ms", flush=True)


# Every analytics page and an element that shows once its data is in (as tests/e2e/test_pages.py checks).
PAGES = {
    "/customers?range=30d": "#customers-table", "/customers?range=24h": "#customers-table",
    "/agents?range=30d": "#agents-table", "/runs?range=30d": "#runs-table", "/llms?range=30d": "#llms-table",
    "/infrastructure?range=30d": "#infrastructure-table", "/costs?range=30d&group_by=customer": "#costs-table",
    "/insights": "#movers", "/customers/cust_00042?range=30d": "#kpi-customer-cost", "/?range=30d": "#recent-runs",
}
EXPORTS = ["/api/export/runs.csv?range=24h", "/api/export/runs.json?range=24h",
           "/api/export/costs.csv?range=30d&group_by=customer", "/api/export/costs.json?range=30d&group_by=model"]


def _load() -> str:
    return "load average " + " ".join(f"{value:.1f}" for value in os.getloadavg())


def measure_render(database_url: str, data_dir: Path, repeat: int = 5) -> None:
    """Serve the app on the database and time navigation → dashboard fully rendered in Chromium."""
    from playwright.sync_api import sync_playwright

    with socket.socket() as probe:  # a free loopback port, chosen now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PORT": str(port), "DATABASE_URL": database_url, "LLMOBSERVE_DATA_DIR": str(data_dir),
           "JWT_SECRET": secrets.token_urlsafe(40), "REFLEX_USE_SYSTEM_BUN": "1",
           "PATH": f"{REPO / '.tools/node_modules/.bin'}:{Path(sys.executable).parent}:{os.environ['PATH']}"}
    server = subprocess.Popen([str(Path(sys.executable).parent / "reflex"), "run", "--env", "prod", "--single-port",
                               "--frontend-port", str(port), "--backend-port", str(port)], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        import httpx

        for _ in range(300):
            try:
                if httpx.get(f"http://localhost:{port}/login/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                 args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.goto(f"http://localhost:{port}/login")
            page.fill("#email", "bench@example.com")
            page.fill("#password", "bench-password")
            page.click("#submit")
            page.wait_for_selector("#kpi-cost-7d", timeout=60_000)
            samples = []
            for _ in range(repeat):
                began = time.perf_counter()
                page.goto(f"http://localhost:{port}/?range=30d")
                page.wait_for_selector("#recent-runs", timeout=60_000)
                page.wait_for_selector(".js-plotly-plot .bars", timeout=60_000)
                samples.append((time.perf_counter() - began) * 1000)
            print("  dashboard navigations (ms):", ", ".join(f"{sample:.0f}" for sample in samples))
            print(f"  dashboard rendered in Chromium: median {statistics.median(samples):.0f} ms, "
                  f"max {max(samples):.0f} ms over {repeat} navigations", flush=True)
            for visit in (1, 2):  # every page and export: the server's memory after serving them all, twice
                for path, selector in PAGES.items():
                    began = time.perf_counter()
                    page.goto(f"http://localhost:{port}{path}")
                    page.wait_for_selector(selector, timeout=60_000)
                    print(f"  {path:<42} rendered in {(time.perf_counter() - began) * 1000:6.0f} ms", flush=True)
                for path in EXPORTS:  # the signed-in browser's cookie; the body read to its end
                    began = time.perf_counter()
                    response = page.request.get(f"http://localhost:{port}{path}", timeout=600_000)
                    size = len(response.body())
                    assert response.ok, (path, response.status)
                    print(f"  {path:<42} downloaded in {(time.perf_counter() - began) * 1000:6.0f} ms "
                          f"({size / 2**20:.1f} MiB)", flush=True)
                print(f"  server memory after every page and export, visit {visit} (MiB; {_load()}):")
                print(server_memory.table(server_memory.server_memory(server.pid, data_dir / "bench.db")),
                      flush=True)
            browser.close()
    finally:
        os.killpg(server.pid, 15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="keep the database in this folder")
    parser.add_argument("--reuse", type=Path, help="measure an existing database made with --keep")
    parser.add_argument("--render", action="store_true", help="also time the dashboard in Chromium")
    parser.add_argument("--render-only", action="store_true",
                        help="with --reuse: only the Chromium part (render times and server memory)")
    args = parser.parse_args()

    folder = args.reuse or args.keep or Path(tempfile.mkdtemp(prefix="llmo-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("LLMOBSERVE_DATA_DIR", str(folder))
    database_url = f"sqlite:///{folder / 'bench.db'}"
    try:
        if args.reuse:
            from llmobserve_app.db import migrate

            migrate(database_url)  # a database kept by an older version gets the newer tables
            tenant = 1
        else:
            (folder / "bench.db").unlink(missing_ok=True)
            tenant = populate(database_url, args.events, args.customers, args.days)
        size = (folder / "bench.db").stat().st_size / 2**20
        if args.render_only:
            print(f"database: {size:,.0f} MiB")
            measure_render(database_url, folder)
            return
        print(f"database: {size:,.0f} MiB; page queries over {args.repeat} runs each:")
        results = measure_queries(database_url, tenant, args.repeat)
        worst = max(results, key=lambda r: r[2])
        print(f"worst p95: {worst[2]:.1f} ms ({worst[0]}); peak RSS of this process: "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
        print("one-off range builds (first request of the day; bases dropped first):")
        measure_builds(database_url, tenant)
        if args.render:
            measure_render(database_url, folder)
    finally:
        if not (args.keep or args.reuse):
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
