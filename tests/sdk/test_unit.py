"""Provider detection, extractors and the incremental SSE tap, without network."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llmobserve import capture, context, events
from llmobserve.extractors import EXTRACTORS, Extracted
from llmobserve.providers import Target, clear_cache, detect
from llmobserve.streaming import MAX_LINE, SSETap

from .fakes import wire


@pytest.mark.parametrize(
    "host,path,headers,expected",
    [
        ("api.openai.com", "/v1/chat/completions", None, ("openai", "chat", None)),
        ("api.openai.com", "/v1/models", None, None),
        ("myres.openai.azure.com", "/openai/deployments/gpt4o/chat/completions", None, ("azure", "chat", "gpt4o")),
        ("api.anthropic.com", "/v1/messages", None, ("anthropic", "messages", None)),
        ("api.anthropic.com", "/v1/messages/count_tokens", None, None),
        (
            "generativelanguage.googleapis.com",
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
            None,
            ("google", "generate", "gemini-2.5-pro"),
        ),
        (
            "us-central1-aiplatform.googleapis.com",
            "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent",
            None,
            ("vertex", "generate", "gemini-2.5-flash"),
        ),
        ("api.cohere.com", "/v2/rerank", None, ("cohere", "rerank", None)),
        ("api.mistral.ai", "/v1/embeddings", None, ("mistral", "embeddings", None)),
        ("api.groq.com", "/openai/v1/chat/completions", None, ("groq", "chat", None)),
        ("api.together.xyz", "/v1/completions", None, ("together", "completions", None)),
        ("api.fireworks.ai", "/inference/v1/chat/completions", None, ("fireworks", "chat", None)),
        ("api.deepseek.com", "/chat/completions", None, ("deepseek", "chat", None)),
        ("api.x.ai", "/v1/responses", None, ("xai", "responses", None)),
        ("openrouter.ai", "/api/v1/chat/completions", None, ("openrouter", "chat", None)),
        ("api.perplexity.ai", "/chat/completions", None, ("perplexity", "chat", None)),
        ("idx-abc.svc.aped-4627-b74a.pinecone.io", "/query", None, ("pinecone", "vector", None)),
        # self-hosted / unknown hosts: recognised by shape
        ("localhost:8000", "/v1/chat/completions", None, ("openai-compatible", "chat", None)),  # vLLM
        ("localhost:11434", "/v1/embeddings", None, ("openai-compatible", "embeddings", None)),  # Ollama
        ("localhost:11434", "/api/chat", None, ("ollama", "chat", None)),
        ("localhost:1234", "/v1/responses", None, ("openai-compatible", "responses", None)),  # LM Studio
        ("proxy.internal", "/v1/messages", {"anthropic-version": "2023-06-01"}, ("anthropic", "messages", None)),
        (
            "proxy.internal",
            "/v1beta/models/gemini-2.0-flash:generateContent",
            None,
            ("google", "generate", "gemini-2.0-flash"),
        ),
        ("example.com", "/api/users", None, None),
    ],
)
def test_detect(host, path, headers, expected):
    clear_cache()
    t = detect(host, path, headers, {}, True)
    assert (None if t is None else (t.provider, t.endpoint, t.model)) == expected


@pytest.mark.parametrize(
    "body,expected",
    [
        (b'{"model":"llama3","messages":[{"role":"user","content":"hi"}]}', ("openai-compatible", "chat", None)),
        (b'{"name":"x","messages":[]}', None),
        (None, None),
    ],
)
def test_detect_by_body_shape(body, expected):
    t = detect("gateway.internal:4000", "/custom/llm", None, {}, True, body)
    assert (None if t is None else (t.provider, t.endpoint, t.model)) == expected


def run(family: str, obj: object) -> Extracted:
    out = Extracted()
    EXTRACTORS[family](obj, out)
    return out


def test_extractors_quirks():
    ds = run(
        "openai",
        {
            "model": "deepseek-chat",
            "usage": {
                "prompt_tokens": 100,
                "completion_tokens": 5,
                "prompt_cache_hit_tokens": 60,
                "prompt_cache_miss_tokens": 40,
            },
        },
    )
    assert ds.usage["input_tokens"] == 100 and ds.usage["cached_input_tokens"] == 60
    pplx = run("openai", {"usage": {"prompt_tokens": 3, "completion_tokens": 4, "num_search_queries": 2}})
    assert pplx.usage["web_searches"] == 2
    g = run("google", json.loads(wire.GEMINI_GENERATE))
    assert g.usage["output_tokens"] == 25 and g.usage["reasoning_tokens"] == 20
    a = run("anthropic", json.loads(wire.ANTHROPIC_MESSAGE))
    assert a.usage["input_tokens"] == 162 and a.usage["cache_write_1h_tokens"] == 40
    a2 = run(
        "anthropic",
        {
            "model": "c",
            "usage": {
                "input_tokens": 1,
                "cache_creation_input_tokens": 9,
                "cache_read_input_tokens": 0,
                "output_tokens": 2,
            },
        },
    )
    assert a2.usage["input_tokens"] == 10 and a2.usage["cache_write_tokens"] == 9
    co = run("cohere", {"meta": {"billed_units": {"input_tokens": 12}}})
    assert co.usage["input_tokens"] == 12
    pc = run("pinecone", {"usage": {"read_units": 7}})
    assert pc.usage["units"] == {"read_units": 7}
    ol = run("ollama", {"model": "llama3", "prompt_eval_count": 26, "eval_count": 298})
    assert (ol.usage["input_tokens"], ol.usage["output_tokens"]) == (26, 298)
    # garbage never raises
    for fam in EXTRACTORS:
        run(fam, {"usage": "nope", "usageMetadata": [1], "model": 3, "output": "x"})
        run(fam, [None, 1, "x"])


def tap_usage(family: str, chunks: list[bytes], encoding: str | None = None) -> tuple[Extracted, bool]:
    tap = SSETap(encoding)
    for c in chunks:
        tap.feed(c)
    tap.end()
    call = capture.Call(Target("x", "chat"), context.current(), None)
    call.target.family = family
    call.status, call.streamed, call.lines = 200, True, tap.lines()
    return events.extract(call), tap.finished()


STREAMS = {
    "openai": b"".join(wire.openai_chat_stream(5)),
    "anthropic": b"".join(wire.anthropic_stream(5)),
    "google": b"".join(wire.gemini_stream(5)),
}


@settings(max_examples=60, deadline=None)
@given(family=st.sampled_from(sorted(STREAMS)), cuts=st.lists(st.integers(min_value=1, max_value=4000), max_size=40))
def test_sse_tap_independent_of_chunking(family, cuts):
    data = STREAMS[family]
    points = sorted({c % len(data) for c in cuts} | {0, len(data)})
    chunks = [data[a:b] for a, b in zip(points, points[1:], strict=False) if b > a]
    whole, done_whole = tap_usage(family, [data])
    split, done_split = tap_usage(family, chunks)
    assert whole.usage == split.usage and whole.model == split.model and done_whole == done_split
    assert whole.usage["input_tokens"] > 0 and whole.usage["output_tokens"] > 0


def test_sse_tap_gzip_and_memory_bound():
    data = STREAMS["anthropic"]
    z = gzip.compress(data)
    ext, done = tap_usage("anthropic", [z[i : i + 7] for i in range(0, len(z), 7)], "gzip")
    assert done and ext.usage["output_tokens"] == 15 and ext.usage["input_tokens"] == 35
    tap = SSETap()
    tap.feed(b"data: " + b"x" * (MAX_LINE + 10))  # over-long line without newline: not buffered
    tap.feed(b"y" * 1000)
    assert len(tap._tail) == 0
    tap.feed(b'\ndata: {"usage":{}}\n')
    assert tap.last_usage == b'data: {"usage":{}}'


def test_responses_api_stream_usage_and_completion():
    events = [
        {"type": "response.created", "response": {"id": "r", "model": "gpt-4.1", "usage": None}},
        {"type": "response.output_text.delta", "delta": "Hi"},
        {
            "type": "response.completed",
            "response": {
                "id": "r",
                "model": "gpt-4.1",
                "usage": {
                    "input_tokens": 10,
                    "input_tokens_details": {"cached_tokens": 4},
                    "output_tokens": 20,
                    "output_tokens_details": {"reasoning_tokens": 5},
                },
            },
        },
    ]
    data = [b"event: x\ndata: " + json.dumps(e).encode() + b"\n\n" for e in events]
    ext, finished = tap_usage("openai", data)
    assert finished and ext.model == "gpt-4.1"
    assert (ext.usage["input_tokens"], ext.usage["cached_input_tokens"]) == (10, 4)
    assert (ext.usage["output_tokens"], ext.usage["reasoning_tokens"]) == (20, 5)
    ext, finished = tap_usage("openai", data[:2])  # cut before the end: not finished, no usage
    assert not finished and ext.usage["input_tokens"] == 0


def test_cohere_stream_message_end():
    data = [
        b'event: message-start\ndata: {"type":"message-start","id":"c"}\n\n',
        b'event: message-end\ndata: {"type":"message-end","delta":{"finish_reason":"COMPLETE",'
        b'"usage":{"billed_units":{"input_tokens":3,"output_tokens":9}}}}\n\n',
    ]
    ext, finished = tap_usage("cohere", data)
    assert finished and (ext.usage["input_tokens"], ext.usage["output_tokens"]) == (3, 9)


def test_iso_matches_datetime():
    for ts in (1763900000.0, 1763900000.123456, 1763900000.9999996, 1763900000.0000004, 1764589000.5):
        assert events._iso(ts) == datetime.fromtimestamp(ts, UTC).isoformat()
