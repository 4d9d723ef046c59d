"""The typed decode of provider replies (sdk/llmobserve/decode.py) against the plain ``json.loads`` the
extractors were written for: every extractor must read the same usage, model, tier and cost either way."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llmobserve import capture, context, events
from llmobserve.decode import decode_reply
from llmobserve.extractors import EXTRACTORS, Extracted
from llmobserve.providers import Target
from llmobserve.streaming import SSETap

from .fakes import wire

FAMILIES = sorted(EXTRACTORS)


def _outcome(ext: Extracted) -> tuple[Any, ...]:
    return ext.usage, ext.model, ext.service_tier, ext.reported_cost, ext.found


def _call(family: str) -> capture.Call:
    call = capture.Call(Target("x", "chat"), context.current(), None)
    call.target.family = family
    call.status = 200
    return call


def _extracted(family: str, body: bytes, encoding: str | None = None) -> tuple[Any, ...]:
    """What the SDK extracts from a non-streamed reply (typed decode, falling back to json.loads)."""
    call = _call(family)
    call.body, call.encoding = body, encoding
    return _outcome(events.extract(call))


def _full(family: str, body: bytes) -> tuple[Any, ...]:
    """The reference: the whole body through json.loads, then the extractor."""
    ext = Extracted()
    try:
        obj = json.loads(body)
    except ValueError:
        return _outcome(ext)
    EXTRACTORS[family](obj, ext)
    return _outcome(ext)


def _lines(chunks: list[bytes]) -> list[bytes]:
    tap = SSETap(None)
    for chunk in chunks:
        tap.feed(chunk)
    tap.end()
    return tap.lines()


def _streamed(family: str, lines: list[bytes]) -> tuple[Any, ...]:
    call = _call(family)
    call.streamed, call.lines = True, lines
    return _outcome(events.extract(call))


def _streamed_full(family: str, lines: list[bytes]) -> tuple[Any, ...]:
    ext = Extracted()
    for line in lines:
        data = line[5:].strip()
        if data and data != b"[DONE]":
            try:
                EXTRACTORS[family](json.loads(data), ext)
            except ValueError:
                continue
    return _outcome(ext)


def _j(obj: object, indent: int | None = None) -> bytes:
    return json.dumps(obj, indent=indent).encode()


VECTOR = [0.0123456789] * 1536
MISTRAL_CHAT = _j(  # api.mistral.ai: the OpenAI format with Mistral's extra usage members
    {
        "id": "cmpl-e5cc70bb28c444948073e77776eb30ef",
        "object": "chat.completion",
        "model": "mistral-small-latest",
        "usage": {"prompt_tokens": 16, "completion_tokens": 34, "total_tokens": 50, "prompt_audio_seconds": None},
        "created": 1702256327,
        "choices": [
            {"index": 0, "message": {"content": "Bonjour", "tool_calls": None, "role": "assistant"},
             "finish_reason": "stop"}
        ],
    }
)
REAL_BODIES = {  # name -> (family, body): the fake providers' replies and a few more real shapes
    **{
        name.lower(): (family, body)
        for name, body in vars(wire).items()
        if isinstance(body, bytes) and body[:1] == b"{" and "ERROR" not in name
        for family in [
            "anthropic" if name.startswith("ANTHROPIC")
            else "google" if name.startswith("GEMINI")
            else "cohere" if name.startswith("COHERE")
            else "pinecone" if name.startswith("PINECONE")
            else "openai"
        ]
    },
    "openai_pretty": ("openai", _j(json.loads(wire.OPENAI_CHAT), indent=2)),  # OpenAI's own bodies are indented
    "openai_embeddings_1536": (
        "openai",
        _j({"object": "list", "data": [{"embedding": VECTOR}], "model": "e", "usage": {"prompt_tokens": 8}}),
    ),
    "mistral_chat": ("openai", MISTRAL_CHAT),
    "openai_error_429": ("openai", wire.OPENAI_ERROR_429),  # 200 here: no usage to find, none found
    "anthropic_error_529": ("anthropic", wire.ANTHROPIC_ERROR_529),
    "google_array": ("google", b"[" + wire.GEMINI_GENERATE + b"," + wire.GEMINI_GENERATE + b"]"),
    "ollama_chat": (
        "ollama",
        _j({"model": "llama3", "message": {"role": "assistant", "content": "hi"}, "done": True,
            "prompt_eval_count": 26, "eval_count": 298}),
    ),
}


@pytest.mark.parametrize("name", sorted(REAL_BODIES))
def test_real_replies_decode_as_json_loads_does(name):
    family, body = REAL_BODIES[name]
    assert _extracted(family, body) == _full(family, body)
    assert _extracted(family, body)[4] == ("error" not in name), "usage is found where the reply carries it"


def test_real_replies_take_the_typed_path():
    """Only what the extractor reads is decoded (so the fast path is really used on real replies)."""
    for name, (family, body) in REAL_BODIES.items():
        decoded = decode_reply(body, family)
        whole = json.loads(body)
        if isinstance(whole, dict):
            assert set(decoded) < set(whole) or name in ("pinecone_upsert", "openai_transcription"), name
    assert "choices" not in decode_reply(wire.OPENAI_CHAT, "openai")
    assert "data" not in decode_reply(REAL_BODIES["openai_embeddings_1536"][1], "openai")
    assert decode_reply(wire.OPENAI_RESPONSES, "openai")["output"] == [{"type": "web_search_call"}, {"type": "message"}]


def test_any_family_on_any_real_reply():
    """An extractor given another provider's reply (a misdetected host) still agrees with json.loads."""
    for family in FAMILIES:
        for _, body in REAL_BODIES.values():
            assert _extracted(family, body) == _full(family, body)


def test_gzip_reply():
    body = gzip.compress(wire.ANTHROPIC_MESSAGE)
    assert _extracted("anthropic", body, "gzip") == _full("anthropic", wire.ANTHROPIC_MESSAGE)


RESPONSES_STREAM = [
    b"event: x\ndata: " + _j(e) + b"\n\n"
    for e in [
        {"type": "response.created", "response": {"id": "r", "model": "gpt-4.1", "usage": None, "output": []}},
        {"type": "response.output_text.delta", "delta": "Hi"},
        {
            "type": "response.completed",
            "response": {
                "model": "gpt-4.1",
                "output": [{"type": "web_search_call", "id": "ws"}, {"type": "message", "content": []}],
                "usage": {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 20},
            },
        },
    ]
]
COHERE_STREAM = [
    b'event: message-start\ndata: {"type":"message-start","id":"c","delta":{"message":{"role":"assistant"}}}\n\n',
    b'event: content-delta\ndata: {"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"Hi"}}}}\n\n',
    b'event: message-end\ndata: {"type":"message-end","delta":{"finish_reason":"COMPLETE",'
    b'"usage":{"billed_units":{"input_tokens":3,"output_tokens":9},"tokens":{"input_tokens":70}}}}\n\n',
]
STREAMS = {
    "openai_chat": ("openai", wire.openai_chat_stream(5)),
    "openai_responses": ("openai", RESPONSES_STREAM),
    "anthropic": ("anthropic", wire.anthropic_stream(5)),
    "google": ("google", wire.gemini_stream(5)),
    "cohere": ("cohere", COHERE_STREAM),
    "with_garbage_lines": ("openai", [b"data: {not json\n\n", b"data: null\n\n", *wire.openai_chat_stream(2)]),
}


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_streams_decode_as_json_loads_does(name):
    family, chunks = STREAMS[name]
    lines = _lines(chunks)
    assert _streamed(family, lines) == _streamed_full(family, lines)
    assert _streamed(family, lines)[4]


EDGE_CASES = [
    b'{"model":"a","x":{"usage":{"prompt_tokens":9}},"usage":{"prompt_tokens":1}}',  # nested twin
    b'{"x":{"usage":{"prompt_tokens":9}}}',  # only nested: no usage
    b'{"usage":{"prompt_tokens":1},"service_tier":null,"model":"after"}',
    b'{"object":"model","usage":{"prompt_tokens":1}}',  # "model" as a value
    b'{"a\\"usage":{"prompt_tokens":2},"usage":{"prompt_tokens":1}}',  # key with an escaped quote
    b'{"mo\\u0064el":"escaped key","usage":{"prompt_tokens":1}}',
    b'{"usage":{"prompt_tokens":1},"usage":{"prompt_tokens":2}}',  # duplicate key: the last wins
    b'{"usage":{"prompt_tokens":1},"model":"m"',  # truncated
    b'{"usage":{"prompt_tokens":1},"model":"m"} trailing',
    b'{"usage":{"prompt_tokens":NaN},"x":Infinity}',  # json.loads takes these, msgspec does not
    b'\xef\xbb\xbf{"usage":{"prompt_tokens":1}}',  # UTF-8 byte order mark
    '{"usage":{"prompt_tokens":1},"model":"m"}'.encode("utf-16"),
    b'{"usage":{"prompt_tokens":1e400},"model":"big"}',
    b'{"usage":{"prompt_tokens":123456789012345678901234567890}}',
    b'{"x":"\\ud800","usage":{"prompt_tokens":1}}',  # lone surrogate escape
    b'{"output":"not a list","usage":{"input_tokens":1}}',
    b'{"output":[1,{"type":"web_search_call"}],"usage":{"input_tokens":1}}',
    b'{"output":null,"usage":{"input_tokens":1}}',
    b'{"type":"response.completed","response":"not an object"}',
    b'{"type":"response.completed","response":null}',
    b'{"type":"message_start","message":[1]}',
    b'{"type":"message_start","message":{"model":"c","usage":{"input_tokens":3}}}',
    b'{"type":"message-end","delta":{"usage":{"billed_units":{"input_tokens":3}}}}',
    b'{"type":"message-end","delta":"x","meta":{"billed_units":{"input_tokens":3}}}',
    b'{"candidates":[{"groundingMetadata":{"webSearchQueries":["a"]}}],"usageMetadata":{"promptTokenCount":1}}',
    b'{"candidates":[7,{"groundingMetadata":{"webSearchQueries":["a","b"]}}],"usageMetadata":{}}',
    b'{"candidates":{"not":"a list"},"usageMetadata":{"promptTokenCount":1}}',
    b'[{"usageMetadata":{"promptTokenCount":1}}, 3]',
    b'{"duration":3.5,"text":"hi"}',
    b'{"prompt_eval_count":null}',
    b'{"upsertedCount":2,"usage":{"readUnits":1,"read_units":9}}',
    '{"model":"caf\u00e9","usage":{"prompt_tokens":1}}'.encode(),
    b"[]",
    b"null",
    b"",
    b"{" * 5000 + b"}" * 5000,  # nested beyond the recursion limit: json.loads raises too
]


@pytest.mark.parametrize("body", EDGE_CASES)
@pytest.mark.parametrize("family", FAMILIES)
def test_usage_only_decode_matches_full_decode(family, body):
    try:
        expected = _full(family, body)
    except RecursionError:
        with pytest.raises(RecursionError):
            _extracted(family, body)
        return
    assert _extracted(family, body) == expected


def test_invalid_utf8_in_a_member_not_read_keeps_the_usage():
    """The one deliberate difference: json.loads refuses the whole body over a bad byte in, say, the
    reply's text; the typed decode never reads that member and keeps the usage the call was billed."""
    body = b'{"choices":[{"message":{"content":"\xff"}}],"model":"m","usage":{"prompt_tokens":4}}'
    assert _full("openai", body)[4] is False
    usage, model, _, _, found = _extracted("openai", body)
    assert found and model == "m" and usage["input_tokens"] == 4


# keys the extractors read, nested anywhere, with values of every JSON type
_keys = st.sampled_from(
    ["usage", "model", "service_tier", "type", "response", "output", "duration", "text", "message", "delta",
     "meta", "billed_units", "usageMetadata", "modelVersion", "candidates", "groundingMetadata",
     "webSearchQueries", "upsertedCount", "prompt_eval_count", "eval_count", "prompt_tokens", "input_tokens",
     "cost", "x"]
)
_values = st.sampled_from(["message_start", "message-end", "response.completed", "web_search_call", "duration"])
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8) | _values,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=5),
    max_leaves=16,
)


@settings(max_examples=300, deadline=None)
@given(obj=st.dictionaries(_keys, _json, max_size=6) | st.lists(_json, max_size=3), indent=st.sampled_from([None, 2]))
def test_usage_only_decode_matches_full_decode_on_any_object(obj, indent):
    body = _j(obj, indent)
    for family in FAMILIES:
        assert _extracted(family, body) == _full(family, body)
