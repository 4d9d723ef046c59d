"""Ingest benchmark: events/s end-to-end over HTTP into SQLite (or PostgreSQL), next to the raw insert rate.

    .venv/bin/python bench/bench_ingest.py [--events 300000] [--clients 8] [--workers 1] [--raw-rows 300000]
    .venv/bin/python bench/bench_ingest.py --database postgres --workers 1 4 [--events 100000]
    .venv/bin/python bench/bench_ingest.py --full-app [--cold-events 200000] [--events 200000] [--rounds 3]

With ``--database postgres`` every measurement uses a fresh database on the local server (``BENCH_POSTGRES_URL``,
default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``; dropped after), each round runs (b),
psycopg's ``executemany`` into ``events`` (pipelined by psycopg), then (a) once per ``--workers`` value.

(a) starts the real ingest app (``ingest_api:create_ingest_app``) under Granian — the server ``reflex run``
uses in production — on 127.0.0.1 over a fresh migrated SQLite database with one account and API key, and
POSTs gzip batches of 500 realistic events (11 provider/model mixes, 10k customers, agent sections, runs of
8 calls, 2% failed calls, unique time-ordered span and run ids as the SDK makes them) from concurrent
clients; bodies are encoded before the clock starts, as the SDK does (compact JSON, gzip level 1). It then
checks that every event and its rollups were stored. (b) inserts equivalent rows into the same ``events``
table with plain ``sqlite3.executemany``: half in one transaction, then the other half in one transaction per 500 rows.
Bounded in time (about a minute).

With ``--full-app`` each round measures (b), (a), then (c): the whole app exactly as ``make run`` serves it
(``reflex run --env prod --single-port``, pages, jobs and the ingest API in one backend, built from this
checkout) on a fresh database: its first ``--cold-events`` right after it starts serving (no warm-up), then
``--events`` more (warm). Each rate is reported as a ratio to (b)'s rate of the same round.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import random
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BATCH = 500

# (provider, model, endpoint, usage factory) — the mix a typical agentic SaaS sends.
_CALLS: list[tuple[str, str, str, Any]] = [
    ("openai", "gpt-4o-mini", "chat", lambda r: {"input_tokens": r.randrange(200, 4000),
                                                 "output_tokens": r.randrange(20, 800)}),
    ("openai", "gpt-4.1", "responses", lambda r: (lambda i: {"input_tokens": i, "cached_input_tokens": i // 2,
                                                             "output_tokens": r.randrange(50, 1500)})(
        r.randrange(1000, 20000))),
    ("openai", "o3-mini", "chat", lambda r: (lambda o: {"input_tokens": r.randrange(500, 6000), "output_tokens": o,
                                                        "reasoning_tokens": o // 2})(r.randrange(200, 4000))),
    ("anthropic", "claude-sonnet-4-20250514", "messages",
     lambda r: (lambda c: {"input_tokens": c + r.randrange(100, 3000), "cached_input_tokens": c,
                           "cache_write_tokens": r.randrange(0, 100), "output_tokens": r.randrange(50, 2000)})(
         r.randrange(0, 8000))),
    ("anthropic", "claude-3-5-haiku-latest", "messages", lambda r: {"input_tokens": r.randrange(100, 3000),
                                                                    "output_tokens": r.randrange(10, 500)}),
    ("google", "gemini-2.5-flash", "generate_content",
     lambda r: (lambda o: {"input_tokens": r.randrange(100, 8000), "output_tokens": o,
                           "reasoning_tokens": o // 3})(r.randrange(50, 3000))),
    ("mistral", "mistral-small-latest", "chat", lambda r: {"input_tokens": r.randrange(100, 3000),
                                                           "output_tokens": r.randrange(10, 600)}),
    ("openai", "text-embedding-3-small", "embeddings", lambda r: {"input_tokens": r.randrange(10, 2000)}),
    ("cohere", "embed-english-v3.0", "embeddings", lambda r: {"input_tokens": r.randrange(10, 1000)}),
    ("pinecone", "serverless", "vector", lambda r: {"units": {"read_units": r.randrange(1, 20)}}),
    ("openai", "whisper-1", "audio", lambda r: {"audio_seconds": round(r.uniform(1, 120), 1)}),
]
_TOKEN = "ROUNDXXX"  # 8 characters, replaced per round so that every span and run id is unique
_WEIGHTS = [30, 10, 5, 12, 8, 8, 4, 10, 3, 8, 2]
_SECTIONS = [None, "agent:research", "agent:research/tool:web_search", "agent:writer", "agent:support/tool:kb",
             "agent:planner", "agent:support", "agent:research/tool:summarise"]


def _time_ordered_id(rng: random.Random, position: int) -> str:
    """An id shaped like the SDK's UUIDv7 ones (``llmobserve.ids``): time first, then random bits. Here the
    first 8 hex digits are the round token (replaced per round, see ``make_bodies``), then the event's
    position in its round, then 18 random hex digits."""
    return f"{_TOKEN}{position:06x}{rng.getrandbits(72):018x}"


def make_events(count: int, seed: int = 1, customers: int = 10_000,
                span: timedelta = timedelta(hours=2)) -> list[dict[str, Any]]:
    """``count`` realistic SDK events with unique span ids, runs of ~8 calls, 2% failed calls, starting
    ``span`` ago and spread over it."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(hours=2)
    step = span / max(count, 1)  # a live stream: calls arrive roughly in time order
    events: list[dict[str, Any]] = []
    run_id = customer = section = None
    run_start = start
    for index in range(count):
        if index % 8 == 0:
            run_id = _time_ordered_id(rng, index)
            customer = f"cust_{rng.randrange(customers):05d}" if rng.random() < 0.9 else None
            section = rng.choice(_SECTIONS)
            run_start = start + step * index
        provider, model, endpoint, usage = rng.choices(_CALLS, _WEIGHTS)[0]
        started = run_start + timedelta(milliseconds=rng.randrange(0, 60_000))
        ended = started + timedelta(milliseconds=rng.randrange(80, 9_000))
        status = 200 if rng.random() > 0.02 else rng.choice([429, 500, 503])
        event: dict[str, Any] = {
            "span_id": _time_ordered_id(rng, index),
            "run_id": run_id,
            "parent_span_id": None,
            "started_at": started.isoformat(),
            "ended_at": ended.isoformat(),
            "provider": provider,
            "model": model,
            "endpoint": endpoint,
            "status_code": status,
            "streamed": endpoint in ("chat", "messages") and rng.random() < 0.5,
            "usage": usage(rng) if status == 200 else {},
            "customer_id": customer,
            "section_path": section,
            "tags": {"env": "prod"} if rng.random() < 0.3 else {},
            "sdk_version": "0.1.0",
        }
        events.append(event)
    return events




_TIMESTAMP = re.compile(r'"(started_at|ended_at)":"([^"]+)"')


def make_bodies(batches: int, templates: int = 40, seed: int = 1) -> list[bytes]:
    """``batches`` gzip bodies of ``BATCH`` events, encoded as the SDK does (compact JSON, gzip level 1).

    The whole stream covers the last two hours in time order, as live traffic does: each round of
    ``templates`` bodies is the template events with new ids and their times moved on by one round's share
    of the two hours (replaying the same two hours every round would scatter every time-ordered index)."""
    rounds = max(1, -(-batches // templates))
    round_span = timedelta(hours=2) / rounds
    events = make_events(templates * BATCH, seed, span=round_span)
    texts = [json.dumps({"events": events[i:i + BATCH]}, separators=(",", ":"))
             for i in range(0, len(events), BATCH)]
    bodies = []
    for number in range(batches):
        round_number, shift = number // templates, round_span * (number // templates)
        text = texts[number % templates].replace(_TOKEN, f"{round_number:08x}")
        if shift:
            text = _TIMESTAMP.sub(
                lambda match, shift=shift: f'"{match[1]}":"{(datetime.fromisoformat(match[2]) + shift).isoformat()}"',
                text)
        bodies.append(gzip.compress(text.encode(), compresslevel=1))
    return bodies


# ------------------------------------------------------------------------------------------------ (a) HTTP
POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _new_database(workdir: Path, database: str, name: str) -> str:
    """The URL of a new empty database: a SQLite file, or a PostgreSQL database (``_drop_database`` drops it)."""
    if database == "sqlite":
        return f"sqlite:///{workdir / f'{name}-{uuid.uuid4().hex[:8]}.db'}"  # new each time (rounds)
    import sqlalchemy as sa

    db_name = f"llmo_bench_{name}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{db_name}"'))
    admin.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{db_name}"


def _drop_database(url: str) -> None:
    from llmobserve_app.db import get_engine

    get_engine(url).dispose()
    if url.startswith("sqlite"):
        return
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def _setup_database(workdir: Path, database: str = "sqlite") -> tuple[str, str]:
    """A fresh migrated database with one account; returns (database_url, api_key)."""
    from llmobserve_app.db import get_engine, migrate, session_scope
    from llmobserve_app.services import accounts, api_keys

    url = _new_database(workdir, database, "bench")
    migrate(url)
    with session_scope(get_engine(url)) as session:
        user = accounts.signup(session, "bench@example.com", "correct horse battery", "Bench")
        _, key = api_keys.create_api_key(session, user.id, "bench")
    get_engine(url).dispose()
    return url, key


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(url: str, workdir: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "LLMOBSERVE_DATA_DIR": str(workdir),
           "JWT_SECRET": "bench-" + uuid.uuid4().hex, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(workers), "--no-ws", "--log-level", "warning",
               "ingest_api:create_ingest_app"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90  # a busy shared machine starts 4 workers slowly
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/v1/healthz", timeout=1).status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            raise SystemExit(f"ingest server exited with {server.returncode}")
        time.sleep(0.2)
    _stop(server)
    raise SystemExit("ingest server did not come up in 90 s")


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _session_processes(session_id: int) -> list[tuple[Path, str]]:
    """(/proc entry, name) of each process in the server's session: the Granian processes and the writer."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[3]) == session_id:  # field 6 of stat: the session id
            found.append((entry, "writer" if any(b"writer_process" in part for part in command)
                          else f"server[{entry.name}]"))
    return found


def _process_cpu(session_id: int) -> dict[str, float]:
    """CPU seconds (user + system) so far of each process in the server's session, by name."""
    ticks = os.sysconf("SC_CLK_TCK")
    usage: dict[str, float] = {}
    for entry, name in _session_processes(session_id):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        usage[name] = usage.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return usage


def _peak_memory(session_id: int) -> dict[str, float]:
    """Peak resident memory (VmHWM, MiB) of each process in the server's session, by name."""
    peaks = {}
    for entry, name in _session_processes(session_id):
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        kib = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
        peaks[name] = kib / 1024
    return peaks


def _post_all(
    base: str, key: str, bodies: list[bytes], clients: int, max_seconds: float, finished: list[float] | None = None
) -> tuple[int, float, float, list[float]]:
    """POST every body from ``clients`` threads; returns (events accepted, seconds, client CPU seconds,
    per-request latencies). ``finished`` collects when each request was answered (``time.perf_counter``)."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Content-Encoding": "gzip"}
    host, port = base.removeprefix("http://").rsplit(":", 1)
    queue = iter(bodies)
    lock = threading.Lock()
    accepted: list[int] = []
    latencies: list[float] = []
    failures: list[str] = []
    deadline = time.monotonic() + max_seconds

    def client() -> None:
        # The standard library's HTTP client with one kept-alive connection per thread: it costs the two shared
        # cores about a third of what httpx does per request, leaving them to the server being measured.
        connection = http.client.HTTPConnection(host, port, timeout=60)
        try:
            while time.monotonic() < deadline and not failures:
                with lock:
                    body = next(queue, None)
                if body is None:
                    return
                began = time.perf_counter()
                connection.request("POST", "/v1/events", body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                latencies.append(time.perf_counter() - began)
                if finished is not None:
                    finished.append(time.perf_counter())
                if response.status != 200:
                    failures.append(f"HTTP {response.status}: {payload[:300]!r}")
                    return
                reply = json.loads(payload)
                if reply["rejected"] or reply["accepted"] != BATCH:
                    failures.append(f"unexpected reply: {str(reply)[:300]}")
                accepted.append(reply["accepted"])
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    if failures:
        raise SystemExit(f"ingest failed: {failures[0]}")
    return sum(accepted), elapsed, cpu, latencies


def _check_stored(url: str, expected: int) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            events, calls, run_calls = (connection.execute(sa.text(query)).scalar_one() for query in (
                "SELECT count(*) FROM events", "SELECT sum(calls) FROM usage_hourly", "SELECT sum(calls) FROM runs"))
    finally:
        engine.dispose()
    if not events == calls == run_calls == expected:
        raise SystemExit(f"stored {events} events, {calls} rollup calls, {run_calls} run calls; sent {expected}")


def bench_http(workdir: Path, events: int, clients: int, workers: int, max_seconds: float,
               database: str = "sqlite") -> dict[str, float]:
    url, key = _setup_database(workdir, database)
    try:
        warmup = 20
        bodies = make_bodies(warmup + events // BATCH)
        server, base = _start_server(url, workdir, workers)
        try:
            _post_all(base, key, bodies[:warmup], clients, max_seconds)
            cpu_before = _process_cpu(server.pid)
            sent, seconds, client_cpu, latencies = _post_all(base, key, bodies[warmup:], clients, max_seconds)
            cpu_after = _process_cpu(server.pid)
            memory = _peak_memory(server.pid)
        finally:
            _stop(server)
        _check_stored(url, sent + warmup * BATCH)
    finally:
        _drop_database(url)
    latencies.sort()
    server_cpu = {name: (cpu_after[name] - cpu_before.get(name, 0.0)) * 1e6 / sent for name in sorted(cpu_after)}
    return {"events": sent, "seconds": seconds, "rate": sent / seconds, "client_cpu": client_cpu, "cpu": server_cpu,
            "memory": memory, "p50_ms": 1000 * latencies[len(latencies) // 2],
            "p95_ms": 1000 * latencies[int(len(latencies) * 0.95)]}


# --------------------------------------------------------------------------------------- (c) the whole app
def _start_full_app(url: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str, float]:
    """``reflex run --env prod --single-port`` as `make run` starts it; returns (process, base URL, seconds until
    it served both the API and the pages)."""
    port = _free_port()
    tools = ROOT / ".tools/node_modules/.bin"
    env = {**os.environ, "PORT": str(port), "DATABASE_URL": url, "LLMOBSERVE_DATA_DIR": str(workdir),
           "JWT_SECRET": "bench-" + uuid.uuid4().hex, "REFLEX_USE_SYSTEM_BUN": "1", "REFLEX_TELEMETRY_ENABLED": "false",
           "REFLEX_STATES_WORKDIR": str(workdir / "states"),
           "PATH": f"{tools}:{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    command = [str(Path(sys.executable).parent / "reflex"), "run", "--env", "prod", "--single-port",
               "--frontend-port", str(port), "--backend-port", str(port)]
    log = (workdir / "full-app.log").open("w")
    began = time.monotonic()
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    while time.monotonic() < began + 900:  # the first start builds the frontend
        try:
            if (httpx.get(base + "/v1/healthz", timeout=2).status_code == 200
                    and httpx.get(base + "/login/", timeout=5).status_code == 200):
                return server, base, time.monotonic() - began
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            tail = (workdir / "full-app.log").read_text()[-3000:]
            raise SystemExit(f"the app exited with {server.returncode}: {tail}")
        time.sleep(0.5)
    _stop(server)
    raise SystemExit("the app did not serve within 900 s")


def _phase(server: subprocess.Popen[bytes], base: str, key: str, bodies: list[bytes], clients: int,
           max_seconds: float) -> dict[str, Any]:
    cpu_before, finished = _process_cpu(server.pid), []
    began = time.perf_counter()
    sent, seconds, _client_cpu, latencies = _post_all(base, key, bodies, clients, max_seconds, finished)
    cpu_after = _process_cpu(server.pid)
    latencies.sort()
    finished.sort()
    quarter = len(finished) // 4  # events/s in each quarter of the phase's requests, in the order they finished
    marks = [began] + [finished[min(len(finished) - 1, quarter * n - 1)] for n in (1, 2, 3, 4)]
    quarters = [quarter * BATCH / (marks[n + 1] - marks[n]) for n in range(4)] if quarter else []
    return {"events": sent, "seconds": seconds, "rate": sent / seconds, "quarters": quarters,
            "cpu": {name: (cpu_after[name] - cpu_before.get(name, 0.0)) * 1e6 / sent for name in sorted(cpu_after)},
            "p50_ms": 1000 * latencies[len(latencies) // 2], "p95_ms": 1000 * latencies[int(len(latencies) * 0.95)]}


def bench_full_app(workdir: Path, cold_events: int, warm_events: int, clients: int,
                   max_seconds: float) -> dict[str, Any]:
    """(c): the first ``cold_events`` right after the app serves, then ``warm_events``; every event checked."""
    url, key = _setup_database(workdir)
    try:
        cold_batches = cold_events // BATCH
        bodies = make_bodies(cold_batches + warm_events // BATCH, seed=3)
        server, base, started = _start_full_app(url, workdir)
        try:
            cold = _phase(server, base, key, bodies[:cold_batches], clients, max_seconds)
            warm = _phase(server, base, key, bodies[cold_batches:], clients, max_seconds)
            memory = _peak_memory(server.pid)
        finally:
            _stop(server)
        _check_stored(url, cold["events"] + warm["events"])
    finally:
        _drop_database(url)
    return {"started": started, "cold": cold, "warm": warm, "memory": memory}


def main_full_app(args: argparse.Namespace, workdir: Path) -> int:
    """Rounds of (b), (a) and (c) on SQLite: each rate as a ratio to (b)'s of the same round."""
    ratios: dict[str, list[float]] = {"bare app": [], "full app, cold": [], "full app, warm": []}
    for round_number in range(1, args.rounds + 1):
        raw = bench_raw(workdir, args.raw_rows)
        bare = bench_http(workdir, args.events, args.clients, 1, args.max_seconds)
        full = bench_full_app(workdir, args.cold_events, args.events, args.clients, args.max_seconds)
        print(f"round {round_number}:")
        print(f"(b) raw sqlite3 executemany, one transaction: {raw['rate']:,.0f} rows/s ({raw['rows']:,} rows)")
        _print_http(bare, "SQLite (bare ingest app)", args.clients, 1)
        print(f"(c) the whole app (reflex run --env prod --single-port), serving {full['started']:.0f} s after start:")
        for phase in ("cold", "warm"):
            result = full[phase]
            print(f"    {phase}: {result['rate']:,.0f} events/s ({result['events']:,} events in "
                  f"{result['seconds']:.1f} s; by quarter "
                  + " / ".join(f"{rate:,.0f}" for rate in result["quarters"])
                  + f"; request p50 {result['p50_ms']:.0f} ms, p95 {result['p95_ms']:.0f} ms); "
                  "server CPU per event: " + ", ".join(f"{name} {us:.1f} µs" for name, us in result["cpu"].items()))
        print("    peak memory: " + ", ".join(f"{name} {mib:.0f} MiB" for name, mib in full["memory"].items()))
        for name, rate in (("bare app", bare["rate"]), ("full app, cold", full["cold"]["rate"]),
                           ("full app, warm", full["warm"]["rate"])):
            ratios[name].append(rate / raw["rate"])
            print(f"    {name} / raw = {rate / raw['rate']:.0%}")
    for name, values in ratios.items():
        print(f"{name} / raw one-transaction rate: " + ", ".join(f"{value:.0%}" for value in values)
              + f" (median {statistics.median(values):.0%})")
    return 0


# ------------------------------------------------------------------------------------------------ (b) raw
def _raw_rows(count: int) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Rows for the events table equivalent to what ingest writes (priced values precomputed)."""
    from llmobserve_app.services.ingest.rows import EVENT_COLUMNS, agent_of

    size = 40 * BATCH
    round_span = timedelta(hours=2) / max(1, -(-count // size))  # moving on in time across rounds, as make_bodies
    template = make_events(size, seed=2, span=round_span)
    received = datetime.now(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    rows = []
    for index in range(count):
        event = template[index % size]
        token, shift = f"{index // size:08x}", round_span * (index // size)
        usage = event["usage"]
        started = datetime.fromisoformat(event["started_at"]).replace(tzinfo=None) + shift
        ended = datetime.fromisoformat(event["ended_at"]).replace(tzinfo=None) + shift
        values = {
            "tenant_id": 1, "span_id": event["span_id"].replace(_TOKEN, token),
            "run_id": event["run_id"].replace(_TOKEN, token),
            "parent_span_id": None, "started_at": started.isoformat(" ", "microseconds"),
            "ended_at": ended.isoformat(" ", "microseconds"),
            "latency_ms": int((ended - started).total_seconds() * 1000), "provider": event["provider"],
            "model": event["model"], "endpoint": event["endpoint"], "status_code": event["status_code"],
            "streamed": event["streamed"], "incomplete": False, "error": None,
            "input_tokens": usage.get("input_tokens", 0), "cached_input_tokens": usage.get("cached_input_tokens", 0),
            "cache_write_tokens": usage.get("cache_write_tokens", 0), "cache_write_1h_tokens": 0,
            "output_tokens": usage.get("output_tokens", 0), "reasoning_tokens": usage.get("reasoning_tokens", 0),
            "audio_seconds": float(usage.get("audio_seconds", 0)), "web_searches": 0, "requests": 1,
            "units": json.dumps(usage.get("units", {})), "customer_id": event["customer_id"],
            "section_path": event["section_path"], "agent": agent_of(event["section_path"]),
            "tags": json.dumps(event["tags"]), "batch": False, "service_tier": None,
            "provider_reported_cost_nanos": None, "cost_nanos": 270_000, "priced": True,
            "charged": event["status_code"] < 400, "price_id": f"{event['provider']}/{event['model']}@base",
            "sdk_version": event["sdk_version"], "received_at": received,
        }
        rows.append(tuple(values[name] for name in EVENT_COLUMNS))
    return list(EVENT_COLUMNS), rows


def bench_raw(workdir: Path, count: int) -> dict[str, float]:
    """Plain sqlite3 executemany into the migrated ``events`` table, with the app's PRAGMAs."""
    from llmobserve_app.db import migrate, sqlite_pragmas

    path = workdir / f"raw-{uuid.uuid4().hex[:8]}.db"  # new each round
    migrate(f"sqlite:///{path}")
    columns, rows = _raw_rows(count)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in sqlite_pragmas(writer=True):  # as the ingest writer's connection
            connection.execute(f"PRAGMA {pragma}")
        connection.execute("INSERT INTO users (id, email, name, password_hash, subscription_tier, created_at) "
                           "VALUES (1, 'raw@example.com', 'Raw', 'x', 'free', '2026-01-01 00:00:00.000000')")
        sql = f"INSERT INTO events ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        half = count // 2
        began = time.perf_counter()
        connection.execute("BEGIN")
        connection.executemany(sql, rows[:half])
        connection.execute("COMMIT")
        one = half / (time.perf_counter() - began)
        began = time.perf_counter()
        for start in range(half, count, BATCH):
            connection.execute("BEGIN")
            connection.executemany(sql, rows[start:start + BATCH])
            connection.execute("COMMIT")
        per_batch = (count - half) / (time.perf_counter() - began)
    finally:
        connection.close()
    return {"rows": half, "rate": one, "rate_500": per_batch}


def bench_raw_postgres(workdir: Path, count: int) -> dict[str, float]:
    """psycopg ``executemany`` of plain INSERTs into the migrated ``events`` table (psycopg pipelines them)."""
    import psycopg

    from llmobserve_app.db import migrate

    url = _new_database(workdir, "postgres", "raw")
    try:
        migrate(url)
        columns, rows = _raw_rows(count)
        with psycopg.connect(url.replace("+psycopg", "")) as connection, connection.cursor() as cursor:
            cursor.execute("INSERT INTO users (id, email, name, password_hash, subscription_tier, created_at) "
                           "VALUES (1, 'raw@example.com', 'Raw', 'x', 'free', now())")
            connection.commit()
            sql = f"INSERT INTO events ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
            half = count // 2
            began = time.perf_counter()
            cursor.executemany(sql, rows[:half])
            connection.commit()
            one = half / (time.perf_counter() - began)
            began = time.perf_counter()
            for start in range(half, count, BATCH):
                cursor.executemany(sql, rows[start:start + BATCH])
                connection.commit()
            per_batch = (count - half) / (time.perf_counter() - began)
    finally:
        _drop_database(url)
    return {"rows": half, "rate": one, "rate_500": per_batch}


def _print_http(http: dict[str, Any], database: str, clients: int, workers: int) -> None:
    print(f"(a) end-to-end HTTP → {database}: {http['rate']:,.0f} events/s "
          f"({http['events']:,} events in {http['seconds']:.1f} s, batches of {BATCH}, gzip, "
          f"{clients} clients, Granian {workers} worker(s); "
          f"request p50 {http['p50_ms']:.0f} ms, p95 {http['p95_ms']:.0f} ms; client CPU {http['client_cpu']:.1f} s)")
    print("    server CPU per event: " + ", ".join(f"{name} {micros:.1f} µs" for name, micros in http["cpu"].items())
          + f"; client {http['client_cpu'] * 1e6 / http['events']:.1f} µs")
    print("    peak memory: " + ", ".join(f"{name} {mib:.0f} MiB" for name, mib in http["memory"].items()))


def main_postgres(args: argparse.Namespace, workdir: Path) -> int:
    """Rounds of (b) then (a) for each worker count: ratios are compared within a round (the machine is shared)."""
    ratios: dict[int, list[float]] = {workers: [] for workers in args.workers}
    for round_number in range(1, args.rounds + 1):
        raw = bench_raw_postgres(workdir, args.raw_rows)
        results = {workers: bench_http(workdir, args.events, args.clients, workers, args.max_seconds, "postgres")
                   for workers in args.workers}
        print(f"round {round_number}:")
        print(f"(b) raw psycopg executemany (pipelined), one transaction: {raw['rate']:,.0f} rows/s "
              f"({raw['rows']:,} rows); one transaction per {BATCH} rows: {raw['rate_500']:,.0f} rows/s")
        for workers, result in results.items():
            _print_http(result, "PostgreSQL", args.clients, workers)
        for workers, result in results.items():
            ratios[workers].append(result["rate"] / raw["rate"])
            print(f"    {workers} worker(s): end-to-end / raw = {result['rate'] / raw['rate']:.0%} "
                  f"(/ raw per {BATCH} rows: {result['rate'] / raw['rate_500']:.0%})")
    for workers, values in ratios.items():
        print(f"{workers} worker(s), end-to-end / raw one-transaction rate: "
              + ", ".join(f"{value:.0%}" for value in values) + f" (median {statistics.median(values):.0%})")
    return 0


# ------------------------------------------------------------------------------------------------ main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300_000, help="events to POST after warm-up")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--workers", type=int, nargs="+", default=[1],
                        help="Granian worker processes (reflex run uses WORKERS, 1 by default); several values "
                             "with --database postgres")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=1,
                        help="with --database postgres or --full-app: rounds of (b), (a) (and (c))")
    parser.add_argument("--max-seconds", type=float, default=60, help="stop posting after this long")
    parser.add_argument("--raw-rows", type=int, default=300_000, help="rows for the raw SQLite insert")
    parser.add_argument("--full-app", action="store_true",
                        help="also measure the whole app as `make run` serves it, cold and warm (SQLite)")
    parser.add_argument("--cold-events", type=int, default=200_000, help="with --full-app: events right after start")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llmo-bench-ingest-") as tmp:
        workdir = Path(tmp)
        os.environ.setdefault("LLMOBSERVE_DATA_DIR", str(workdir))
        os.environ.setdefault("JWT_SECRET", "bench-" + uuid.uuid4().hex)
        if args.database == "postgres":
            return main_postgres(args, workdir)
        if args.full_app:
            return main_full_app(args, workdir)
        http = bench_http(workdir, args.events, args.clients, args.workers[0], args.max_seconds)
        raw = bench_raw(workdir, args.raw_rows)
    _print_http(http, "SQLite", args.clients, args.workers[0])
    print(f"(b) raw sqlite3 executemany, one transaction: {raw['rate']:,.0f} rows/s ({raw['rows']:,} rows); "
          f"one transaction per {BATCH} rows: {raw['rate_500']:,.0f} rows/s")
    print(f"    end-to-end / raw = {http['rate'] / raw['rate']:.0%}; target ≥ 50,000 events/s end-to-end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
