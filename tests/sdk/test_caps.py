"""Hard block: BudgetExceededError before any network I/O, not retried by the clients."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import anthropic
import llmobserve
import openai
import pytest

from .helpers import drain, start

pytestmark = pytest.mark.timeout(30)
MSG = [{"role": "user", "content": "hi"}]
FUTURE = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
PAST = (datetime.now(UTC) - timedelta(hours=1)).isoformat()


def wait_blocked(n: int = 1, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(llmobserve.stats().get("blocked", [])) < n:
        time.sleep(0.01)


def test_block_from_events_reply(collector, providers):
    collector.blocked = [{"scope": "model", "value": "gpt-4o-mini", "until": FUTURE}]
    start(collector, providers)
    try:
        client = openai.OpenAI(base_url=providers["openai"].url + "/v1", api_key="k", max_retries=3)
        client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
        drain(collector, 1)
        wait_blocked()
        before = len(providers["openai"].requests)
        with pytest.raises(llmobserve.BudgetExceededError) as info:
            client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
        assert info.value.scope == "model" and info.value.value == "gpt-4o-mini"
        assert len(providers["openai"].requests) == before  # no network I/O, no retries
        client.chat.completions.create(model="gpt-4.1", messages=MSG)  # other models pass
        assert len(providers["openai"].requests) == before + 1
    finally:
        llmobserve.shutdown(1.0)


def test_block_scopes_from_caps_poll(collector, providers):
    collector.caps_status = [
        {"scope": "customer", "value": "acme", "until": FUTURE},
        {"scope": "agent", "value": "research", "until": FUTURE},
        {"scope": "provider", "value": "anthropic", "until": FUTURE},
        {"scope": "customer", "value": "expired", "until": PAST},
    ]
    collector.blocked = collector.caps_status  # each /v1/events reply carries the full current list
    start(collector, providers)
    try:
        wait_blocked(3)
        oa = openai.OpenAI(base_url=providers["openai"].url + "/v1", api_key="k")
        ant = anthropic.Anthropic(base_url=providers["anthropic"].url, api_key="k")
        with llmobserve.customer("acme"), pytest.raises(llmobserve.BudgetExceededError):
            oa.chat.completions.create(model="m", messages=MSG)
        with llmobserve.customer("expired"):
            oa.chat.completions.create(model="m", messages=MSG)
        with pytest.raises(llmobserve.BudgetExceededError):
            llmobserve.agent("research")(lambda: oa.chat.completions.create(model="m", messages=MSG))()
        before = len(providers["anthropic"].requests)
        with pytest.raises(llmobserve.BudgetExceededError) as info:
            ant.messages.create(model="claude", max_tokens=5, messages=MSG)
        assert info.value.scope == "provider"
        assert isinstance(info.value, anthropic.AnthropicError)  # so anthropic neither wraps nor retries it
        assert len(providers["anthropic"].requests) == before
        # a block lifted by the server is lifted here on the next poll/reply
        collector.blocked = []
        oa.chat.completions.create(model="m", messages=MSG)
        drain(collector)
        wait_blocked(0)
        assert llmobserve.stats()["blocked"] == []
    finally:
        llmobserve.shutdown(1.0)


def test_global_block_and_async(collector, providers):
    import asyncio

    collector.caps_status = [{"scope": "global", "value": "", "until": FUTURE}]
    start(collector, providers)
    try:
        wait_blocked()

        async def main() -> None:
            client = openai.AsyncOpenAI(base_url=providers["openai"].url + "/v1", api_key="k")
            with pytest.raises(llmobserve.BudgetExceededError):
                await client.chat.completions.create(model="m", messages=MSG)
            await client.close()

        asyncio.run(main())
    finally:
        llmobserve.shutdown(1.0)


def test_fail_open_by_default_and_fail_closed_option(collector, providers):
    client = openai.OpenAI(base_url=providers["openai"].url + "/v1", api_key="k", max_retries=0)
    llmobserve.observe("http://127.0.0.1:9", api_key="k", provider_hosts={providers["openai"].netloc: "openai"})
    try:
        client.chat.completions.create(model="m", messages=MSG)  # collector unreachable: let through
    finally:
        llmobserve.shutdown(0.2)
    llmobserve.observe(
        "http://127.0.0.1:9",
        api_key="k",
        provider_hosts={providers["openai"].netloc: "openai"},
        caps_fail_open=False,
        caps_stale_after=0.0,
    )
    try:
        time.sleep(0.05)
        with pytest.raises(llmobserve.BudgetExceededError):
            client.chat.completions.create(model="m", messages=MSG)
    finally:
        llmobserve.shutdown(0.2)


def test_block_google_genai_and_requests(collector, providers):
    import requests
    from google import genai

    collector.caps_status = [
        {"scope": "provider", "value": "google", "until": FUTURE},
        {"scope": "provider", "value": "cohere", "until": FUTURE},
    ]
    start(collector, providers)
    try:
        wait_blocked(2)
        client = genai.Client(api_key="g", http_options={"base_url": providers["google"].url})
        before = len(providers["google"].requests)
        with pytest.raises(llmobserve.BudgetExceededError):
            client.models.generate_content(model="gemini-2.5-flash", contents="hi")
        assert len(providers["google"].requests) == before
        with pytest.raises(llmobserve.BudgetExceededError):
            requests.post(providers["cohere"].url + "/v2/chat", json={"model": "command-r"})
    finally:
        llmobserve.shutdown(1.0)
