"""A ``block`` cap end to end: the real SDK with the real ``openai`` client (against the local fake provider)
sends its events to the real ingest app over HTTP (granian; SQLite through the writer process, or
PostgreSQL); once the customer's spend crosses the cap, the next call for that customer raises
BudgetExceededError before any network I/O, another customer's calls pass, concurrent threads overshoot only
by calls that started before the crossing reply reached the SDK, and the next UTC day lifts the block.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import llmobserve
import openai
import pytest

from tests.ingest_api.test_crash_durability import Server, _free_port
from tests.sdk.fakes.servers import ProviderServer

pytestmark = pytest.mark.timeout(180)
MESSAGES = [{"role": "user", "content": "hi"}]
LIMIT_USD = "0.00004"  # a few fake gpt-4o-mini calls (each ~$0.0000099)


@pytest.fixture
def stack(database_url: str, make_account, tmp_path: Path):
    """(server URL, API key, clock file, fake OpenAI server); the server and the SDK stopped afterwards."""
    _, _, key = make_account()
    clock_file = tmp_path / "clock"
    now = datetime.now(UTC)
    if now.hour == 23 and now.minute >= 57:  # a real day boundary mid-test would lift the block early
        time.sleep((60 - now.minute) * 60 - now.second + 1)
        now = datetime.now(UTC)
    clock_file.write_text(now.isoformat())
    server = Server(database_url, _free_port(), tmp_path / "server.log", "tests.ingest_api.clocked_app:create_app",
                    {"LLMOBSERVE_TEST_CLOCK_FILE": str(clock_file)})
    provider = ProviderServer("openai")
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}", key, clock_file, provider
    finally:
        llmobserve.shutdown(2.0)
        server.stop()
        provider.stop()


def _blocked_seen() -> bool:
    return any(block["scope"] == "customer" for block in llmobserve.stats().get("blocked", []))


def test_block_cap_stops_the_customer_in_the_sdk(stack) -> None:
    base, key, clock_file, provider = stack
    created = httpx.post(base + "/v1/caps", headers={"Authorization": f"Bearer {key}"}, json={
        "scope": "customer", "value": "acme", "period": "day", "limit_usd": LIMIT_USD, "action": "block"})
    assert created.status_code == 201, created.text
    llmobserve.observe(base, api_key=key, flush_interval=0.02, caps_poll_interval=0.2,
                       provider_hosts={provider.netloc: "openai"})
    client = openai.OpenAI(base_url=provider.url + "/v1", api_key="k", max_retries=0)

    # Concurrent threads for acme until the cap crosses; a watcher notes when the SDK first holds the block.
    calls: list[tuple[float, bool]] = []  # (start time, blocked?)
    seen_at: list[float] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set() and not seen_at:
            if _blocked_seen():
                seen_at.append(time.monotonic())
            time.sleep(0.001)

    def call_as_acme() -> None:
        with llmobserve.customer("acme"):
            while not stop.is_set():
                began = time.monotonic()
                try:
                    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
                    calls.append((began, False))
                except llmobserve.BudgetExceededError as error:
                    assert (error.scope, error.value) == ("customer", "acme")
                    calls.append((began, True))
                time.sleep(0.005)

    threads = [threading.Thread(target=watch)] + [threading.Thread(target=call_as_acme) for _ in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (seen_at and sum(blocked for _, blocked in calls) >= 20):
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(10)
    assert seen_at, f"the SDK never received the block ({len(calls)} calls)"
    passed = [began for began, blocked in calls if not blocked]
    assert passed, "no call went through before the cap"
    # Bounded overshoot: no call that started after the SDK held the block reached the provider.
    assert [began for began in passed if began > seen_at[0]] == []
    assert len(provider.requests) == len(passed)

    # The block is the customer's: another customer passes, and acme still stops before any network I/O.
    before = len(provider.requests)
    with llmobserve.customer("beta"):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    with llmobserve.customer("acme"), pytest.raises(llmobserve.BudgetExceededError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert len(provider.requests) == before + 1
    status = httpx.get(base + "/v1/caps/status", headers={"Authorization": f"Bearer {key}"}).json()
    assert [(b["scope"], b["value"]) for b in status["blocked"]] == [("customer", "acme")]

    # The next UTC day: the server's clock moves; the SDK's next poll (or reply) lifts the block.
    tomorrow = datetime.fromisoformat(clock_file.read_text()) + timedelta(days=1)
    clock_file.write_text(tomorrow.isoformat())
    deadline = time.monotonic() + 10
    while _blocked_seen() and time.monotonic() < deadline:
        time.sleep(0.05)
    with llmobserve.customer("acme"):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert len(provider.requests) == before + 2


def test_streamed_calls_count_toward_a_cap_like_plain_ones(stack) -> None:
    """A streamed call is spend exactly as a non-streamed one: the caps' spend for a customer who only streams
    and one who never does equals what the read API reports for each (both > 0), and a streamed-only customer
    is blocked once over the limit."""
    base, key, _, provider = stack
    headers = {"Authorization": f"Bearer {key}"}
    for customer, limit in (("streamer", "1"), ("plain", "1"), ("stream-blocked", LIMIT_USD)):
        created = httpx.post(base + "/v1/caps", headers=headers, json={
            "scope": "customer", "value": customer, "period": "day", "limit_usd": limit, "action": "block"})
        assert created.status_code == 201, created.text
    llmobserve.observe(base, api_key=key, flush_interval=0.02, caps_poll_interval=0.2,
                       provider_hosts={provider.netloc: "openai"})
    client = openai.OpenAI(base_url=provider.url + "/v1", api_key="k", max_retries=0)

    def streamed() -> None:
        chunks = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True,
                                                stream_options={"include_usage": True})
        for _ in chunks:
            pass

    with llmobserve.customer("streamer"):
        for _ in range(3):
            streamed()
    with llmobserve.customer("plain"):
        for _ in range(3):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert llmobserve.flush(5.0)

    usage = httpx.get(base + "/v1/usage", headers=headers, params={"group_by": "customer"}).json()
    cost = {row["key"]: row["cost_usd"] for row in usage["rows"]}
    spend = {cap["value"]: cap["spend_usd"] for cap in httpx.get(base + "/v1/caps", headers=headers).json()["caps"]}
    for customer in ("streamer", "plain"):
        assert float(cost[customer]) > 0, usage
        assert spend[customer] == cost[customer], (customer, spend, cost)

    # Streamed calls alone cross a block cap, and the next streamed call stops before any network I/O.
    with llmobserve.customer("stream-blocked"):
        deadline = time.monotonic() + 30
        while not _blocked_seen() and time.monotonic() < deadline:
            streamed()
            llmobserve.flush(5.0)
        assert _blocked_seen(), "streamed calls never crossed the cap"
        before = len(provider.requests)
        with pytest.raises(llmobserve.BudgetExceededError):
            streamed()
        assert len(provider.requests) == before
