"""Nothing acknowledged is ever lost: ``kill -9`` the server in the middle of a steady ingest from the real SDK.

Three customer apps (``crash_client.py``, each its own process with the real SDK and the real ``openai``
and ``pinecone`` clients against local fake providers) send through a small recording proxy to the bare
ingest app served by granian (the server Reflex runs in production; the full Reflex app takes minutes to
build and start, and adds nothing to the ingest path). The proxy notes the span ids of every batch the
server answered 200.

On SQLite the writer child is killed alone first (the web process answers 503 and starts a new one), then
the whole server — web process and writer child — at once; on PostgreSQL the web process. Then:
every acknowledged event is in the database exactly once, before the restart too; the rollups equal a
rebuild from the events; and once the SDKs have flushed (their retries deduplicated by span id), every event
they produced is stored exactly once, or counted by the SDK as dropped after its retries ran out.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from llmobserve_app.models import Event
from llmobserve_app.services import rollups
from tests.factories import rollup_snapshot
from tests.sdk.fakes.servers import ProviderServer

REPO = Path(__file__).resolve().parents[2]
CLIENTS = 3
START_TIMEOUT_SECONDS = 60.0
RETRY_BUDGET_SECONDS = 15.75  # the least time the SDK's 6 retries of a batch take (llmobserve.transport)
EVENTS = Event.__table__
pytestmark = pytest.mark.timeout(300)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.01)


class Server:
    """``granian`` serving ``factory`` (``ingest_api.create_ingest_app`` unless told) in its own process group."""

    def __init__(self, database_url: str, port: int, log: Path, factory: str = "ingest_api:create_ingest_app",
                 env: dict[str, str] | None = None) -> None:
        self.database_url, self.port, self.log, self.factory = database_url, port, log, factory
        self.extra_env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "DATABASE_URL": self.database_url, "PYTHONPATH": str(REPO), **self.extra_env}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / "granian"), "--interface", "asgi", "--factory",
                 "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1", "--no-ws", self.factory],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.port}/v1/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        pytest.fail(f"the server did not start:\n{self.log.read_text()[-3000:]}")

    def processes(self) -> dict[int, str]:
        """pid -> command line of every live process in the server's group (granian, its worker, the writer)."""
        assert self.process is not None
        group: dict[int, str] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.getpgid(int(entry.name)) != self.process.pid:
                    continue
                stat = (entry / "stat").read_text()
                if stat.rsplit(")", 1)[1].split()[0] == "Z":
                    continue  # killed, not yet reaped
                group[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, ProcessLookupError, IndexError):
                continue
        return group

    def writer_pid(self) -> int:
        writers = [pid for pid, command in self.processes().items() if "ingest_api.writer_process" in command]
        assert len(writers) == 1, self.processes()
        return writers[0]

    def kill(self) -> None:
        """SIGKILL to every process of the server at once (web process and writer child alike)."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        _wait(lambda: not self.processes(), 10, "the killed server's processes to end")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()


class RecordingProxy(ThreadingHTTPServer):
    """Forwards the SDKs' batches to the server and notes what the server acknowledged.

    When the server is unreachable or dies mid-request, the SDK's connection is closed without a reply, as
    the dead server's would be."""

    daemon_threads = True

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.lock = threading.Lock()
        self.sent: list[list[str]] = []  # span ids of every attempt, answered or not
        self.acked: list[list[str]] = []  # span ids of every batch the server answered 200
        self.statuses: Counter[int | str] = Counter()
        self.in_flight = 0
        self.slowest = 0.0  # seconds: the longest the server took to answer a batch
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def acked_batches(self) -> int:
        with self.lock:
            return len(self.acked)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # an SDK hanging up is expected here


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: RecordingProxy

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        raw = gzip.decompress(body) if self.headers.get("Content-Encoding") == "gzip" else body
        spans = [event["span_id"] for event in json.loads(raw)["events"]]
        proxy = self.server
        headers = {name: value for name, value in self.headers.items()
                   if name.lower() in ("authorization", "content-type", "content-encoding", "user-agent")}
        with proxy.lock:
            proxy.sent.append(spans)
            proxy.in_flight += 1
        began = time.monotonic()
        try:
            upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
            try:
                upstream.request("POST", self.path, body=body, headers=headers)
                reply = upstream.getresponse()
                payload = reply.read()
            finally:
                upstream.close()
        except (OSError, http.client.HTTPException) as error:
            with proxy.lock:
                proxy.statuses[type(error).__name__] += 1
            self.close_connection = True  # no reply: the SDK sees the connection end, as with a dead server
            return
        finally:
            with proxy.lock:
                proxy.in_flight -= 1
        with proxy.lock:
            proxy.statuses[reply.status] += 1
            proxy.slowest = max(proxy.slowest, time.monotonic() - began)
            if reply.status == 200:
                proxy.acked.append(spans)
        self.send_response(reply.status)
        for name in ("Content-Type", "Retry-After", "Date"):
            if reply.getheader(name):
                self.send_header(name, reply.getheader(name))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _stored(engine: sa.Engine, tenant_id: int) -> Counter[str]:
    """How many times each span id of the tenant is stored."""
    with engine.connect() as connection:
        rows = connection.execute(sa.select(EVENTS.c.span_id).where(EVENTS.c.tenant_id == tenant_id)).scalars()
        return Counter(rows)


def _assert_acknowledged_stored_once(engine: sa.Engine, tenant_id: int, proxy: RecordingProxy) -> Counter[str]:
    stored = _stored(engine, tenant_id)
    with proxy.lock:
        acked = {span for batch in proxy.acked for span in batch}
    assert acked, "no batch was acknowledged"
    assert not acked - set(stored), f"{len(acked - set(stored))} acknowledged events are not stored"
    assert max(stored.values()) == 1, [span for span, times in stored.items() if times > 1][:5]
    return stored


def _kill_mid_batch(proxy: RecordingProxy, kill: Callable[[], None]) -> None:
    """Kill while a batch is with the server (bounded: kill anyway after 5 s)."""
    deadline = time.monotonic() + 5
    while proxy.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    kill()


@pytest.fixture
def providers() -> Iterator[list[ProviderServer]]:
    servers = [ProviderServer(flavour="openai"), ProviderServer(flavour="pinecone")]
    yield servers
    for server in servers:
        server.stop()


def test_kill_9_mid_ingest_loses_and_duplicates_nothing(
    database_url: str, engine: sa.Engine, make_account, providers: list[ProviderServer], tmp_path: Path
) -> None:
    tenant_id, _, key = make_account("crash")
    sqlite = engine.dialect.name == "sqlite"
    server = Server(database_url, _free_port(), tmp_path / "server.log")
    proxy = RecordingProxy(server.port)
    stop_file = tmp_path / "stop"
    clients: list[subprocess.Popen[str]] = []
    try:
        server.start()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        clients = [
            subprocess.Popen([sys.executable, str(Path(__file__).with_name("crash_client.py")), proxy.url, key,
                              *(server.url for server in providers), f"app{number}", str(stop_file)],
                             cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for number in range(CLIENTS)
        ]

        def ingest_goes_on(batches: int = 20) -> None:
            target = proxy.acked_batches() + batches
            _wait(lambda: proxy.acked_batches() >= target, 60, f"{batches} more acknowledged batches")

        ingest_goes_on()
        if sqlite:  # the writer child alone: the web process fails its batches (503) and starts a new child
            writer = server.writer_pid()
            _kill_mid_batch(proxy, lambda: os.kill(writer, signal.SIGKILL))
            ingest_goes_on()
            assert server.writer_pid() != writer
        web_processes = server.processes()
        if sqlite:
            assert any("ingest_api.writer_process" in command for command in web_processes.values())
        _kill_mid_batch(proxy, server.kill)
        killed_at = time.monotonic()

        # Before any restart: what was acknowledged is on disk (SQLite recovers the WAL on opening).
        engine.dispose()
        _assert_acknowledged_stored_once(engine, tenant_id, proxy)

        server.start()
        outage = time.monotonic() - killed_at
        ingest_goes_on()  # the SDKs' retries and new events flow again
        stop_file.touch()
        reports = []
        for client in clients:
            out, err = client.communicate(timeout=150)
            assert client.returncode == 0, err[-3000:]
            reports.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        stop_file.touch()
        for client in clients:
            if client.poll() is None:
                client.kill()
                client.wait()
        server.stop()
        proxy.shutdown()
        proxy.server_close()

    stored = _assert_acknowledged_stored_once(engine, tenant_id, proxy)
    stats = Counter()
    for report in reports:
        stats.update(report["stats"])
    seen = {span for batch in proxy.sent for span in batch}
    calls = sum(report["calls"] for report in reports)
    provider_calls = sum(len(server.requests) for server in providers)
    # Every provider call became an event the SDK sent at least once; none was dropped from its queue.
    assert calls == provider_calls == stats["captured"] == len(seen)
    assert stats["dropped_queue_full"] == stats["internal_errors"] == stats["rejected"] == 0, stats
    assert all(report["flushed"] for report in reports), reports
    # The SDKs count as sent the events of every 200 they read; a 200 that came after the SDK's request
    # timeout (5 s) was acknowledged by the server but not read: the SDK sent that batch again.
    assert stats["sent"] <= sum(len(batch) for batch in proxy.acked)
    # Every event sent is stored once. The SDK drops (and counts) a batch only once its retries ran out,
    # which takes at least RETRY_BUDGET_SECONDS: longer than this restart unless the machine crawls.
    assert set(stored) <= seen
    lost = seen - set(stored)
    if outage < RETRY_BUDGET_SECONDS:
        assert not lost and stats["dropped_send_failed"] == 0, (len(lost), stats, outage)
    else:
        assert len(lost) <= stats["dropped_send_failed"], (len(lost), stats, outage)
    assert len(proxy.acked) < len(proxy.sent), "no batch was interrupted: the kill came too late or too early"

    maintained = rollup_snapshot(engine, tenant_id)
    assert all(maintained), [len(rows) for rows in maintained]
    rollups.rebuild(engine, tenant_id)
    rebuilt = rollup_snapshot(engine, tenant_id)
    for table, before, after in zip(rollups.ROLLUPS, maintained, rebuilt, strict=True):
        assert before == after, f"{table.name}: the rollups kept at ingest differ from a rebuild from the events"
    print(f"\n{engine.dialect.name}: {len(stored)} events stored, down {outage:.1f} s, "
          f"{len(proxy.sent)} batch attempts, "
          f"{len(proxy.acked)} acknowledged (slowest {proxy.slowest:.1f} s), replies {dict(proxy.statuses)}, "
          f"SDK {dict(stats)}")
