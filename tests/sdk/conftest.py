from __future__ import annotations

from collections.abc import Iterator

import llmobserve
import pytest

from .fakes.servers import FakeCollector, ProviderServer
from .helpers import start

FLAVOURS = ("openai", "anthropic", "google", "openrouter", "cohere", "pinecone")


@pytest.fixture(scope="session")
def providers() -> Iterator[dict[str, ProviderServer]]:
    servers = {name: ProviderServer(flavour=name) for name in FLAVOURS}
    yield servers
    for s in servers.values():
        s.stop()


@pytest.fixture(scope="session")
def collector_server() -> Iterator[FakeCollector]:
    c = FakeCollector()
    yield c
    c.stop()


@pytest.fixture()
def collector(collector_server: FakeCollector) -> FakeCollector:
    collector_server.reset()
    return collector_server


@pytest.fixture()
def sdk(collector: FakeCollector, providers: dict[str, ProviderServer]) -> Iterator[FakeCollector]:
    start(collector, providers)
    yield collector
    llmobserve.shutdown(timeout=1.0)
