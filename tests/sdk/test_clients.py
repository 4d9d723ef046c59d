"""Real provider clients against loopback fakes: captured once, right usage, host unaffected."""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic
import httpx2
import llmobserve
import openai
import pytest
import requests
from google import genai

from .fakes import wire
from .helpers import drain, start

pytestmark = pytest.mark.timeout(30)

MSG = [{"role": "user", "content": "hi"}]


def usage_has(event: dict[str, Any], expected: dict[str, int]) -> None:
    for k, v in expected.items():
        assert event["usage"][k] == v, (k, event["usage"])


def oa(providers: Any, **kw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=providers["openai"].url + "/v1", api_key="sk-test", **kw)


# ---- OpenAI ---------------------------------------------------------------------------------------


def test_openai_chat_sync(sdk, providers):
    r = oa(providers).chat.completions.create(model="gpt-4o-mini", messages=MSG)
    assert r.choices[0].message.content == "Hello there!"
    (ev,) = drain(sdk, 1)
    assert ev["provider"] == "openai" and ev["endpoint"] == "chat" and ev["model"] == "gpt-4o-mini-2024-07-18"
    assert ev["status_code"] == 200 and ev["streamed"] is False and ev["incomplete"] is False
    assert ev["service_tier"] == "default" and ev["usage"]["requests"] == 1
    usage_has(ev, wire.OPENAI_CHAT_USAGE)


def test_openai_chat_stream_sync(sdk, providers):
    stream = oa(providers).chat.completions.create(
        model="gpt-4o-mini", messages=MSG, stream=True, stream_options={"include_usage": True}
    )
    text = "".join((c.choices[0].delta.content or "") for c in stream if c.choices)
    assert text == "tok0 tok1 tok2 "
    (ev,) = drain(sdk, 1)
    assert ev["streamed"] is True and ev["incomplete"] is False and ev["model"] == "gpt-4o-mini-2024-07-18"
    usage_has(ev, {"input_tokens": 11, "cached_input_tokens": 2, "output_tokens": 3})


def test_openai_async_and_async_stream(sdk, providers):
    async def main() -> None:
        client = openai.AsyncOpenAI(base_url=providers["openai"].url + "/v1", api_key="sk-test")
        await client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=MSG, stream=True, stream_options={"include_usage": True}
        )
        async for _ in stream:
            pass
        await client.close()

    asyncio.run(main())
    events = drain(sdk, 2)
    assert sorted(e["streamed"] for e in events) == [False, True]
    for ev in events:
        assert ev["usage"]["input_tokens"] in (19, 11)


def test_openai_responses_embeddings_audio(sdk, providers):
    client = oa(providers)
    client.responses.create(model="gpt-4.1", input="hi", tools=[{"type": "web_search"}])
    client.embeddings.create(model="text-embedding-3-small", input="hello")
    client.audio.transcriptions.create(model="whisper-1", file=("a.wav", b"RIFF....", "audio/wav"))
    speech = client.audio.speech.create(model="tts-1", voice="alloy", input="Hello world")
    assert speech.content.startswith(b"ID3")
    events = drain(sdk, 4)
    tts = [e for e in events if e["endpoint"] == "audio" and e["model"] == "tts-1"]
    assert len(tts) == 1 and tts[0]["usage"]["units"] == {"characters": 11}
    events = {e["endpoint"]: e for e in events if e is not tts[0]}
    usage_has(
        events["responses"],
        {"input_tokens": 36, "cached_input_tokens": 6, "output_tokens": 87, "reasoning_tokens": 40, "web_searches": 1},
    )
    assert events["responses"]["model"] == "gpt-4.1-2025-04-14"
    usage_has(events["embeddings"], {"input_tokens": 8, "output_tokens": 0})
    assert events["audio"]["usage"]["audio_seconds"] == 9 and events["audio"]["model"] is None


def test_openrouter_reported_cost(sdk, providers):
    client = openai.OpenAI(base_url=providers["openrouter"].url + "/api/v1", api_key="k")
    client.chat.completions.create(model="openai/gpt-4o-mini", messages=MSG)
    (ev,) = drain(sdk, 1)
    assert ev["provider"] == "openrouter" and ev["provider_reported_cost"] == 0.0000123
    usage_has(ev, {"input_tokens": 7, "output_tokens": 2})


@pytest.mark.parametrize(
    "status,exc", [(429, openai.RateLimitError), (500, openai.InternalServerError), (400, openai.BadRequestError)]
)
def test_openai_errors_same_exception_and_not_charged(collector, providers, status, exc):
    def call() -> BaseException:
        client = oa(providers, max_retries=1)
        with pytest.raises(exc) as info:
            client.chat.completions.create(
                model="gpt-4o-mini", messages=MSG, extra_headers={"X-Fake-Status": str(status)}
            )
        return info.value

    without = call()
    start(collector, providers)
    try:
        with_sdk = call()
        events = drain(collector, 1)
    finally:
        llmobserve.shutdown(1.0)
    assert type(without) is type(with_sdk) and without.status_code == with_sdk.status_code
    assert without.body == with_sdk.body
    # x-should-retry: false -> one attempt, one span, not charged
    assert len(events) == 1
    assert events[0]["status_code"] == status and events[0]["usage"]["requests"] == 0
    assert events[0]["usage"]["input_tokens"] == 0
    assert events[0]["model"] == "gpt-4o-mini"  # from the request: error bodies do not name it


def test_retried_429_each_attempt_a_span(sdk, providers):
    client = oa(providers, max_retries=2)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(
            model="gpt-4o-mini", messages=MSG, extra_headers={"X-Fake-Status": "429", "X-Fake-Retry": "1"}
        )
    events = drain(sdk, 3)
    assert len(events) == 3 and {e["status_code"] for e in events} == {429}
    assert all(e["usage"]["requests"] == 0 for e in events)


def test_stream_closed_early_by_host(sdk, providers):
    stream = oa(providers).chat.completions.create(
        model="m", messages=MSG, stream=True, stream_options={"include_usage": True}
    )
    next(iter(stream))
    stream.close()
    (ev,) = drain(sdk, 1)
    assert ev["incomplete"] is True and ev["error"] is None and ev["model"] == "gpt-4o-mini-2024-07-18"


def test_each_retry_attempt_is_a_span(sdk, providers):
    """openai retries a connection error: each attempt is its own span, with the error name."""
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="k", max_retries=1)
    llmobserve.shutdown()
    start(sdk, providers, provider_hosts={"127.0.0.1:9": "openai"})
    with pytest.raises(openai.APIConnectionError):
        client.with_options(timeout=2).chat.completions.create(model="gpt-4o-mini", messages=MSG)
    events = drain(sdk, 2)
    assert len(events) == 2
    assert all(e["status_code"] is None and e["error"] == "ConnectError" for e in events)
    assert all(e["usage"]["requests"] == 0 for e in events)


def test_byte_identical_with_and_without_sdk(collector, providers):
    def grab() -> tuple[bytes, list[bytes], bytes]:
        client = oa(providers)
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MSG)
        body = raw.http_response.content
        with (
            httpx2.Client() as h,
            h.stream(
                "POST",
                providers["openai"].url + "/v1/chat/completions",
                json={"model": "m", "stream": True, "stream_options": {"include_usage": True}},
            ) as r,
        ):
            chunks = list(r.iter_raw())
        r2 = requests.post(
            providers["anthropic"].url + "/v1/messages",
            json={"model": "m"},
            headers={"anthropic-version": "2023-06-01"},
        )
        return body, chunks, r2.content

    before = grab()
    start(collector, providers, libraries=("httpx2", "requests", "urllib3"))
    try:
        after = grab()
        events = drain(collector, 3)
    finally:
        llmobserve.shutdown(1.0)
    assert b"".join(before[1]) == b"".join(after[1])
    assert before[0] == after[0] == wire.OPENAI_CHAT
    assert before[2] == after[2] == wire.ANTHROPIC_MESSAGE
    assert len(events) == 3  # requests call captured once (not again by urllib3)


# ---- Anthropic ------------------------------------------------------------------------------------


def ant(providers: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=providers["anthropic"].url, api_key="sk-ant")


def test_anthropic_sync_and_stream(sdk, providers):
    client = ant(providers)
    m = client.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=MSG)
    assert m.content[0].text == "Hello!"
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=10, messages=MSG) as s:
        assert "".join(s.text_stream) == "tok0 tok1 tok2 "
    events = sorted(drain(sdk, 2), key=lambda e: e["streamed"])
    assert [e["provider"] for e in events] == ["anthropic", "anthropic"]
    assert events[0]["endpoint"] == "messages" and events[0]["model"] == "claude-sonnet-4-5-20250929"
    usage_has(events[0], wire.ANTHROPIC_USAGE)
    assert events[0]["service_tier"] == "standard"
    usage_has(events[1], wire.ANTHROPIC_STREAM_USAGE)
    assert events[1]["streamed"] and not events[1]["incomplete"]


def test_anthropic_async_stream(sdk, providers):
    async def main() -> None:
        client = anthropic.AsyncAnthropic(base_url=providers["anthropic"].url, api_key="sk-ant")
        stream = await client.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=MSG, stream=True)
        async for _ in stream:
            pass
        await client.close()

    asyncio.run(main())
    (ev,) = drain(sdk, 1)
    usage_has(ev, wire.ANTHROPIC_STREAM_USAGE)


def test_anthropic_overloaded_same_exception(collector, providers):
    def call() -> BaseException:
        with pytest.raises(anthropic.APIStatusError) as info:
            anthropic.Anthropic(base_url=providers["anthropic"].url, api_key="k", max_retries=0).messages.create(
                model="claude-sonnet-4-5", max_tokens=10, messages=MSG, extra_headers={"X-Fake-Status": "529"}
            )
        return info.value

    a = call()
    start(collector, providers)
    try:
        b = call()
        (ev,) = drain(collector, 1)
    finally:
        llmobserve.shutdown(1.0)
    assert type(a) is type(b) and a.status_code == b.status_code == 529
    assert ev["status_code"] == 529 and ev["usage"]["requests"] == 0


# ---- Google -------------------------------------------------------------------------------------


def gem(providers: Any) -> genai.Client:
    return genai.Client(api_key="g-key", http_options={"base_url": providers["google"].url})


def test_gemini_sync_stream_async(sdk, providers):
    client = gem(providers)
    r = client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert r.text == "Hello!"
    text = "".join(c.text or "" for c in client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"))
    assert text == "tok0 tok1 tok2 "

    async def main() -> None:
        await client.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")

    asyncio.run(main())
    events = drain(sdk, 3)
    assert len(events) == 3 and {e["provider"] for e in events} == {"google"}
    plain = [e for e in events if not e["streamed"]]
    streamed = [e for e in events if e["streamed"]]
    for ev in plain:
        usage_has(ev, wire.GEMINI_USAGE)
        assert ev["model"] == "gemini-2.5-flash" and ev["endpoint"] == "generate"
    usage_has(streamed[0], {"input_tokens": 8, "output_tokens": 3 + 6, "reasoning_tokens": 6})
    assert streamed[0]["incomplete"] is False


# ---- requests (Cohere v2), pinecone -------------------------------------------------------------


def test_cohere_v2_via_requests(sdk, providers):
    url = providers["cohere"].url
    requests.post(url + "/v2/chat", json={"model": "command-r-plus", "messages": MSG})
    requests.post(url + "/v2/rerank", json={"model": "rerank-v3.5", "query": "q", "documents": ["a"]})
    events = {e["endpoint"]: e for e in drain(sdk, 2)}
    assert events["chat"]["provider"] == "cohere" and events["chat"]["model"] == "command-r-plus"
    usage_has(events["chat"], {"input_tokens": 5, "output_tokens": 3})
    assert events["rerank"]["usage"]["units"] == {"search_units": 1}


def test_requests_streaming_sse(sdk, providers):
    r = requests.post(
        providers["openai"].url + "/v1/chat/completions",
        stream=True,
        json={"model": "m", "stream": True, "stream_options": {"include_usage": True}},
    )
    lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == b"data: [DONE]"
    (ev,) = drain(sdk, 1)
    assert ev["streamed"] and not ev["incomplete"]
    usage_has(ev, {"input_tokens": 11, "output_tokens": 3})


def test_pinecone_client(sdk, providers):
    from pinecone import Pinecone

    index = Pinecone(api_key="pc-key").Index(host=providers["pinecone"].url)
    res = index.query(vector=[0.1, 0.2], top_k=1)
    assert res.usage.read_units == 5
    index.upsert(vectors=[("a", [0.1, 0.2]), ("b", [0.3, 0.4])])
    events = drain(sdk, 2)
    assert {e["provider"] for e in events} == {"pinecone"}
    units = sorted((e["usage"]["units"] for e in events), key=str)
    assert {"read_units": 5} in units and {"upserted_records": 2} in units


def test_urllib3_direct(sdk, providers):
    import urllib3

    with urllib3.PoolManager() as pm:
        r = pm.request(
            "POST",
            providers["openai"].url + "/v1/embeddings",
            body=b'{"model":"e"}',
            headers={"Content-Type": "application/json"},
        )
    assert r.data == wire.OPENAI_EMBEDDINGS
    (ev,) = drain(sdk, 1)
    assert ev["endpoint"] == "embeddings" and ev["usage"]["input_tokens"] == 8


def test_non_provider_traffic_ignored(sdk, providers):
    requests.get(providers["openai"].url + "/v1/models")
    with httpx2.Client() as h:
        h.post(providers["openai"].url + "/health", json={})
    assert drain(sdk) == []


def test_gemini_async_stream_and_same_exception(collector, providers):
    from google.genai import errors

    def fail() -> BaseException:
        client = genai.Client(
            api_key="g", http_options={"base_url": providers["google"].url, "headers": {"X-Fake-Status": "429"}}
        )
        with pytest.raises(errors.APIError) as info:
            client.models.generate_content(model="gemini-2.5-flash", contents="hi")
        return info.value

    a = fail()
    start(collector, providers)
    try:
        b = fail()

        async def main() -> str:
            out = []
            async for c in await gem(providers).aio.models.generate_content_stream(
                model="gemini-2.5-flash", contents="hi"
            ):
                out.append(c.text or "")
            return "".join(out)

        assert asyncio.run(main()) == "tok0 tok1 tok2 "
        events = drain(collector, 2)
    finally:
        llmobserve.shutdown(1.0)
    assert type(a) is type(b) and a.code == b.code == 429
    by_status = {e["status_code"]: e for e in events}
    assert by_status[429]["usage"]["requests"] == 0
    assert by_status[200]["streamed"] and by_status[200]["usage"]["output_tokens"] == 9


def test_pinecone_asyncio(sdk, providers):
    from pinecone import Pinecone

    async def main() -> int:
        async with Pinecone(api_key="pc-key").IndexAsyncio(host=providers["pinecone"].url) as index:
            res = await index.query(vector=[0.1, 0.2], top_k=1)
            return res.usage.read_units

    assert asyncio.run(main()) == 5
    (ev,) = drain(sdk, 1)
    assert ev["provider"] == "pinecone" and ev["usage"]["units"] == {"read_units": 5}


STREAM_REQUESTS = [
    ("openai", "/v1/chat/completions", {"model": "m", "stream": True, "stream_options": {"include_usage": True}}),
    ("anthropic", "/v1/messages", {"model": "claude", "stream": True}),
    ("google", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", {"contents": []}),
]


@pytest.mark.parametrize("flavour,path,body", STREAM_REQUESTS)
def test_streams_byte_identical_httpx2_and_requests(collector, providers, flavour, path, body):
    url = providers[flavour].url + path
    headers = {"anthropic-version": "2023-06-01"}

    def grab() -> tuple[bytes, bytes]:
        with httpx2.Client() as h, h.stream("POST", url, json=body, headers=headers) as r:
            a = b"".join(r.iter_bytes())
        b = b"".join(requests.post(url, json=body, headers=headers, stream=True).iter_content(7))
        return a, b

    before = grab()
    start(collector, providers)
    try:
        after = grab()
        events = drain(collector, 2)
    finally:
        llmobserve.shutdown(1.0)
    assert before == after and before[0] == before[1]
    assert len(events) == 2 and all(e["streamed"] and not e["incomplete"] for e in events)
    assert events[0]["usage"] == events[1]["usage"] and events[0]["usage"]["output_tokens"] > 0


def test_requests_stream_never_read_is_recorded_on_gc(sdk, providers):
    import gc

    r = requests.post(
        providers["openai"].url + "/v1/chat/completions", json={"model": "m", "stream": True}, stream=True
    )
    assert r.status_code == 200
    r.close()
    del r
    gc.collect()
    (ev,) = drain(sdk, 1)
    assert ev["streamed"] and ev["incomplete"]
