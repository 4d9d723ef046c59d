"""Helpers shared by the SDK tests."""

from __future__ import annotations

import time
from typing import Any

import llmobserve

from .fakes.servers import FakeCollector, ProviderServer


def start(collector: FakeCollector, providers: dict[str, ProviderServer], **options: Any) -> None:
    opts: dict[str, Any] = {
        "flush_interval": 0.05,
        "provider_hosts": {s.netloc: name for name, s in providers.items()},
        "caps_poll_interval": 3600,
    }
    opts.update(options)
    llmobserve.observe(collector.url, api_key=collector.api_key, **opts)


def drain(collector: FakeCollector, n: int | None = None, timeout: float = 3.0) -> list[dict[str, Any]]:
    """Flush the SDK and return what the collector received."""
    llmobserve.flush(timeout)
    if n is not None:
        return collector.wait_for(n, timeout)
    return list(collector.events)


def wait_for_uploads_in_flight(client: Any, timeout: float = 8.0) -> None:
    """After a bounded shutdown against a slow collector, the upload in flight still lands later;
    wait for the worker thread to end so that it cannot land in the next test's collector."""
    deadline = time.monotonic() + timeout
    while client.worker.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
