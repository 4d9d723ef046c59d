"""SDK overhead figures (issue 4). Plain script: prints figures, exits 0, ~2 minutes.

1. Added median latency per non-streaming call, real ``openai`` client -> loopback fake server.
   The fake provider and the fake collector each run in a process of their own so their threads
   share neither our GIL nor each other's. Blocks of calls alternate between SDK on and off (hooks
   installed or not) so drift on this shared machine hits both sides equally. Also: the hook's own cost with an
   in-memory transport (no sockets), which isolates what the SDK adds.
2. Added cost per streamed chunk: the tap alone over in-memory chunks, and end to end with the
   real openai client consuming a 2,002-chunk stream from an in-memory transport.
3. Memory with the collector down for 1M calls. Cheaper path than the real client (1M
   loopback HTTP calls would take ~15 min here): each iteration runs exactly what a hook runs
   around the network call (``Client.begin`` = detect + caps check + Call, then
   ``capture.finish`` with a real response body = enqueue), against a collector port that
   refuses connections. Memory must plateau at the queue bound, with drops counted.
4. Steady load (``steady``): host threads make real ``openai`` calls to the loopback fake at a fixed
   rate (default 500 calls/s), in alternating blocks with the SDK on and off, and we report host-call
   p50/p99/p99.9 for both sides of the same run, plus the worker thread's own CPU time per event
   (its thread CPU clock over the events it built and sent). A worker that holds the GIL for
   milliseconds shows up here as a fat tail on the SDK-on side only.

5. Worker CPU per event (``worker``): 5,000 calls captured on the hook path (as in 3, with a real
   OpenAI chat body) against the live fake collector, worker thread CPU over their building,
   encoding and upload, divided by the events sent. Same code path and data for any SDK version.

Usage: ``python bench/bench_sdk.py [all|overhead|streaming|memory|steady|worker] [--rate N] [--seconds S]``.
Works against an older SDK too (``PYTHONPATH=/path/to/other/sdk``) so before/after is one command.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# one process for the fake provider, another for the fake collector: the collector decodes each
# 500-event batch whole (milliseconds holding its process's GIL), which would otherwise stall the
# provider's replies and show up as host-call latency that a real, separate collector never causes
SERVE = """
import sys, time
sys.path.insert(0, {root!r})
from tests.sdk.fakes.servers import {server}
print({server}().url, flush=True)
time.sleep(600)
"""


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def median_us(xs: list[float]) -> float:
    return statistics.median(xs) * 1e6


def sdk_hub() -> object:
    """The module holding the active client (``hub`` now, ``capture`` in SDKs before it existed)."""
    try:
        from llmobserve import hub
    except ImportError:
        from llmobserve import capture as hub  # type: ignore[no-redef]
    return hub


def worker_cpu_seconds() -> float:
    """CPU time used so far by the SDK's worker thread (found by name, its thread CPU clock)."""
    for t in threading.enumerate():
        if t.name == "llmobserve-worker" and t.ident is not None:
            return time.clock_gettime(time.pthread_getcpuclockid(t.ident))
    return 0.0


def percentile(xs: list[float], q: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _paced(call: object, rate_per_thread: float, until: float, out: list[float]) -> None:
    """Call ``call()`` at a fixed rate until ``until``; a missed slot is skipped, not made up in a burst."""
    period = 1.0 / rate_per_thread
    next_t = time.perf_counter()
    while next_t < until:
        now = time.perf_counter()
        if now < next_t:
            time.sleep(next_t - now)
        t = time.perf_counter()
        call()  # type: ignore[operator]
        out.append(time.perf_counter() - t)
        next_t = max(next_t + period, time.perf_counter() - period)


def bench_steady(provider_url: str, collector_url: str, rate: float, seconds: float, threads: int = 4) -> None:
    import llmobserve
    import openai
    from llmobserve import hooks

    hub = sdk_hub()
    netloc = provider_url.split("//", 1)[1]
    llmobserve.observe(collector_url, api_key="test-key", provider_hosts={netloc: "openai"})
    client_sdk = hub.active()  # type: ignore[attr-defined]
    clients = [openai.OpenAI(base_url=provider_url + "/v1", api_key="k", max_retries=0) for _ in range(threads)]
    msgs = [{"role": "user", "content": "hi"}]
    calls = [lambda c=c: c.chat.completions.create(model="gpt-4o-mini", messages=msgs) for c in clients]
    for c in calls:
        for _ in range(50):
            c()
    llmobserve.flush(5)

    def toggle(sdk_on: bool) -> None:
        if sdk_on:
            hub.set_active(client_sdk)  # type: ignore[attr-defined]
            hooks.install(("httpx2",))
        else:
            hooks.uninstall()
            hub.set_active(None)  # type: ignore[attr-defined]

    lat: dict[bool, list[float]] = {True: [], False: []}
    wall = {True: 0.0, False: 0.0}
    cpu = 0.0
    sent = 0
    block = 5.0
    for i in range(max(2, round(2 * seconds / block))):
        sdk_on = i % 2 == 0
        toggle(sdk_on)
        cpu0, sent0 = worker_cpu_seconds(), llmobserve.stats().get("sent", 0)
        t0 = time.perf_counter()
        until = t0 + block
        pool = [threading.Thread(target=_paced, args=(c, rate / threads, until, lat[sdk_on])) for c in calls]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        wall[sdk_on] += time.perf_counter() - t0
        if sdk_on:
            hub.set_active(client_sdk)  # type: ignore[attr-defined]
            llmobserve.flush(10)  # the block's events are built and sent: count all of their cost
            cpu += worker_cpu_seconds() - cpu0
            sent += llmobserve.stats().get("sent", 0) - sent0
    toggle(True)
    print(f"steady load, real openai client over loopback, {threads} host threads, target {rate:.0f} calls/s,")
    print(f"  alternating {block:.0f} s blocks, {seconds:.0f} s per side:")
    for sdk_on in (False, True):
        xs = lat[sdk_on]
        print(
            f"  SDK {'on ' if sdk_on else 'off'}  {len(xs) / wall[sdk_on]:5.0f} calls/s  "
            f"p50 {percentile(xs, 0.5) * 1e3:6.2f} ms  p99 {percentile(xs, 0.99) * 1e3:6.2f} ms  "
            f"p99.9 {percentile(xs, 0.999) * 1e3:6.2f} ms  max {max(xs) * 1e3:6.2f} ms"
        )
    on, off = lat[True], lat[False]
    print(
        f"  ratio on/off: p50 {percentile(on, 0.5) / percentile(off, 0.5):.2f}  "
        f"p99 {percentile(on, 0.99) / percentile(off, 0.99):.2f}  "
        f"p99.9 {percentile(on, 0.999) / percentile(off, 0.999):.2f}"
    )
    print(f"  worker thread CPU {cpu / max(1, sent) * 1e6:6.1f} us/event over {sent} events")
    llmobserve.shutdown(2)


def bench_non_streaming(provider_url: str, collector_url: str) -> None:
    import llmobserve
    import openai
    from llmobserve import hooks

    hub: Any = sdk_hub()

    netloc = provider_url.split("//", 1)[1]
    llmobserve.observe(collector_url, api_key="test-key", provider_hosts={netloc: "openai"})
    client_sdk = hub.active()
    client = openai.OpenAI(base_url=provider_url + "/v1", api_key="k", max_retries=0)
    msgs = [{"role": "user", "content": "hi"}]
    for _ in range(200):  # warm up connections, caches, the worker
        client.chat.completions.create(model="gpt-4o-mini", messages=msgs)

    on: list[float] = []
    off: list[float] = []
    for block in range(30):
        sdk_on = block % 2 == 0
        if sdk_on:
            hub.set_active(client_sdk)
            hooks.install(("httpx2",))
        else:
            hooks.uninstall()
            hub.set_active(None)
        out = on if sdk_on else off
        for _ in range(100):
            t = time.perf_counter()
            client.chat.completions.create(model="gpt-4o-mini", messages=msgs)
            out.append(time.perf_counter() - t)
    hub.set_active(client_sdk)
    hooks.install(("httpx2",))
    llmobserve.flush(5)
    print("non-streaming, real openai client over loopback (1500 calls each side, interleaved blocks):")
    print(f"  median without SDK  {median_us(off):8.1f} us")
    print(f"  median with SDK     {median_us(on):8.1f} us")
    print(f"  added (median diff) {median_us(on) - median_us(off):8.1f} us   (target <= 50 us)")
    print(f"  events delivered    {llmobserve.stats()['sent']}")

    # the hook alone: in-memory transport, no sockets
    import httpx2

    from tests.sdk.fakes import wire

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=wire.OPENAI_CHAT, headers={"content-type": "application/json"})

    mem = httpx2.Client(transport=httpx2.MockTransport(handler))
    body = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
    req = mem.build_request("POST", "https://api.openai.com/v1/chat/completions", content=body)

    def loop(n: int) -> list[float]:
        times = []
        for _ in range(n):
            t = time.perf_counter()
            mem.send(req)
            times.append(time.perf_counter() - t)
        return times

    loop(2000)
    with_hook = loop(20000)
    llmobserve.flush(5)
    hooks.uninstall()
    hub.set_active(None)
    without = loop(20000)
    hub.set_active(client_sdk)
    print("hook cost alone (httpx2 Client.send, in-memory transport, 20k calls):")
    print(
        f"  median without {median_us(without):6.2f} us, with {median_us(with_hook):6.2f} us, "
        f"added {median_us(with_hook) - median_us(without):6.2f} us"
    )
    llmobserve.shutdown(2)


def bench_streaming(provider_url: str, collector_url: str) -> None:
    import httpx2
    import llmobserve
    import openai
    from llmobserve import hooks

    hub: Any = sdk_hub()

    from tests.sdk.fakes import wire

    # in-memory: per-chunk cost of the tap (one SSE event per chunk, as providers send them)
    chunks = wire.openai_chat_stream(2000, True)
    llmobserve.observe(collector_url, api_key="test-key")

    class Raw(httpx2.SyncByteStream):
        def __iter__(self):
            return iter(chunks)

    from llmobserve.capture import Call, StreamRecord
    from llmobserve.context import current
    from llmobserve.providers import Target

    def run_raw() -> float:
        t = time.perf_counter()
        for _ in Raw():
            pass
        return time.perf_counter() - t

    def run_tapped() -> float:
        rec = StreamRecord(Call(Target("openai", "chat"), current(), None), True, None, 1 << 20)
        feed = rec.tap.feed
        t = time.perf_counter()
        for c in Raw():  # same loop body as TapStream.__iter__
            if feed is not None:
                try:
                    feed(c)
                except Exception:
                    feed = None
        rec.finalize(True)
        return time.perf_counter() - t

    raw = statistics.median(run_raw() for _ in range(50))
    tapped = statistics.median(run_tapped() for _ in range(50))
    per_chunk = (tapped - raw) / len(chunks) * 1e6
    print("streaming, tap cost per chunk (in-memory, 2002 OpenAI SSE chunks, median of 50):")
    print(f"  added per chunk {per_chunk:6.3f} us   (target <= 5 us)")

    # end to end: the real openai client parsing a 2,002-chunk stream served by an in-memory
    # transport (a loopback server's write scheduling is far noisier than the figure sought)
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=iter(chunks))

    client = openai.OpenAI(
        api_key="k", max_retries=0, http_client=httpx2.Client(transport=httpx2.MockTransport(handler))
    )
    msgs = [{"role": "user", "content": "hi"}]
    client_sdk = hub.active()

    def one() -> float:
        t = time.perf_counter()
        s = client.chat.completions.create(
            model="m", messages=msgs, stream=True, stream_options={"include_usage": True}
        )
        for _ in s:
            pass
        return time.perf_counter() - t

    for _ in range(3):
        one()

    def toggle(sdk_on: bool) -> None:
        if sdk_on:
            hub.set_active(client_sdk)
            hooks.install(("httpx2",))
        else:
            hooks.uninstall()
            hub.set_active(None)

    diffs: list[float] = []
    on: list[float] = []
    off: list[float] = []
    for i in range(40):  # paired, alternating order: drift cancels out
        first = i % 2 == 0
        toggle(first)
        a = one()
        toggle(not first)
        b = one()
        t_on, t_off = (a, b) if first else (b, a)
        on.append(t_on)
        off.append(t_off)
        diffs.append(t_on - t_off)
    toggle(True)
    llmobserve.flush(5)
    n = len(chunks)
    print(f"streaming end to end, real openai client, {n}-chunk stream, in-memory transport (40 pairs):")
    print(
        f"  median without {statistics.median(off) * 1e3:7.2f} ms, with {statistics.median(on) * 1e3:7.2f} ms, "
        f"median paired diff per chunk {statistics.median(diffs) / n * 1e6:6.2f} us"
    )
    print(f"  events delivered {llmobserve.stats()['sent']}")
    llmobserve.shutdown(1)


def bench_worker_cpu(collector_url: str, n: int = 5000, repeats: int = 3) -> None:
    import llmobserve
    from llmobserve import capture

    from tests.sdk.fakes import wire

    headers = {"content-type": "application/json"}
    figures = []
    for _ in range(repeats):
        sdk_client = llmobserve.observe(collector_url, api_key="test-key", flush_interval=3600, enforce_caps=False)
        begin = getattr(sdk_client, "begin", None)  # Client.begin now; capture.begin before the hub existed
        if begin is None:
            begin = capture.begin  # type: ignore[attr-defined]
        sent0 = llmobserve.stats()["sent"]
        cpu0 = worker_cpu_seconds()
        for _ in range(n):
            call = begin("POST", "api.openai.com", "/v1/chat/completions", headers, b'{"model":"m"}')
            capture.finish(call, 200, wire.OPENAI_CHAT + b" ")  # type: ignore[arg-type]
        llmobserve.flush(30)
        cpu = worker_cpu_seconds() - cpu0
        sent = llmobserve.stats()["sent"] - sent0
        figures.append(cpu / max(1, sent) * 1e6)
        llmobserve.shutdown(2)
    print(f"worker thread CPU per event ({n} OpenAI chat calls, batches of 500, {repeats} repeats):")
    print("  " + ", ".join(f"{x:.1f}" for x in figures) + f" us/event (median {statistics.median(figures):.1f})")

    # how long a host thread waits for the GIL while the worker builds a 500-event batch: a ticker
    # sleeps 1 ms in a loop and records how late it wakes (idle: same ticker, worker asleep). On a shared
    # machine most lateness is the OS running other processes; the part the worker can have caused is at
    # most the CPU time the worker thread used while the ticker slept, so that bound is reported too.
    def ticker(seconds: float) -> tuple[list[float], list[float]]:
        late, caused = [], []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            cpu0 = worker_cpu_seconds()
            t = time.perf_counter()
            time.sleep(0.001)
            lateness = time.perf_counter() - t - 0.001
            late.append(lateness)
            caused.append(min(lateness, worker_cpu_seconds() - cpu0))
        return late, caused

    sdk_client = llmobserve.observe(collector_url, api_key="test-key", flush_interval=3600, enforce_caps=False)
    begin = getattr(sdk_client, "begin", None) or capture.begin  # type: ignore[attr-defined]
    busy: list[float] = []
    idle: list[float] = []
    by_worker: list[float] = []
    for _ in range(5):
        idle += ticker(0.3)[0]
        for _ in range(500):  # the 500th wakes the worker, which then builds and sends the batch
            call = begin("POST", "api.openai.com", "/v1/chat/completions", headers, b'{"model":"m"}')
            capture.finish(call, 200, wire.OPENAI_CHAT + b" ")  # type: ignore[arg-type]
        late, caused = ticker(0.3)
        busy += late
        by_worker += caused
    llmobserve.shutdown(2)
    print("host thread lateness waking from a 1 ms sleep (GIL wait), worker idle vs building 500-event batches:")
    for name, xs in (("idle", idle), ("busy", busy), ("busy, at most the worker's CPU meanwhile", by_worker)):
        print(
            f"  {name}  p50 {percentile(xs, 0.5) * 1e3:5.2f} ms  p99 {percentile(xs, 0.99) * 1e3:5.2f} ms  "
            f"max {max(xs) * 1e3:5.2f} ms  ({len(xs)} wakes)"
        )


def bench_memory() -> None:
    import llmobserve
    from llmobserve import capture

    from tests.sdk.fakes import wire

    sdk_client = llmobserve.observe("http://127.0.0.1:9", api_key="k", max_retries=2)
    assert sdk_client is not None
    headers = {"content-type": "application/json"}
    gc.collect()
    start_rss = rss_mb()
    marks = []
    t0 = time.perf_counter()
    n = 1_000_000
    for i in range(1, n + 1):
        call = sdk_client.begin("POST", "api.openai.com", "/v1/chat/completions", headers, b'{"model":"m"}')
        body = wire.OPENAI_CHAT + b" "  # a distinct body per call, as in real life
        capture.finish(call, 200, body)  # type: ignore[arg-type]
        if i == 20_000 or i % 200_000 == 0:
            marks.append((i, rss_mb() - start_rss))
    elapsed = time.perf_counter() - t0
    st = llmobserve.stats()
    print("memory, collector down, 1,000,000 captured calls (hook path without sockets):")
    print("  RSS growth: " + ", ".join(f"{i // 1000}k: {mb:+.1f} MiB" for i, mb in marks))
    print(
        f"  peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; "
        f"queued {st['queued']} (bound 10000), dropped_queue_full {st['dropped_queue_full']}, "
        f"dropped_send_failed {st['dropped_send_failed']}, sent {st['sent']}"
    )
    print(f"  {elapsed / n * 1e6:.2f} us per captured call on the host thread (begin + finish)")
    t = time.perf_counter()
    llmobserve.shutdown(2)
    print(f"  shutdown with collector down took {time.perf_counter() - t:.2f} s (bound 2 s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "what", nargs="?", default="all", choices=["all", "overhead", "streaming", "memory", "steady", "worker"]
    )
    parser.add_argument("--rate", type=float, default=500.0, help="steady: host calls per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="steady: seconds per side (on, off)")
    args = parser.parse_args()
    run = {args.what} if args.what != "all" else {"overhead", "streaming", "memory", "steady", "worker"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SERVE.format(root=ROOT, server=server)], stdout=subprocess.PIPE, text=True
        )
        for server in ("ProviderServer", "FakeCollector")
    ]
    try:
        provider_url, collector_url = (p.stdout.readline().strip() for p in procs)  # type: ignore[union-attr]
        if "overhead" in run:
            bench_non_streaming(provider_url, collector_url)
        if "streaming" in run:
            bench_streaming(provider_url, collector_url)
        if "worker" in run:
            bench_worker_cpu(collector_url)
        if "steady" in run:
            bench_steady(provider_url, collector_url, args.rate, args.seconds)
        if "memory" in run:
            bench_memory()
    finally:
        for p in procs:
            p.kill()
            p.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
