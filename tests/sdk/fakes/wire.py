"""Canned responses in each provider's real wire format (bytes, so byte-identity is testable)."""

from __future__ import annotations

import json


def _j(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


OPENAI_CHAT = _j(
    {
        "id": "chatcmpl-123",
        "object": "chat.completion",
        "created": 1763900000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello there!", "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 19,
            "completion_tokens": 10,
            "total_tokens": 29,
            "prompt_tokens_details": {"cached_tokens": 5, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 3,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_1",
    }
)
OPENAI_CHAT_USAGE = {"input_tokens": 19, "cached_input_tokens": 5, "output_tokens": 10, "reasoning_tokens": 3}


def openai_chat_stream(n_tokens: int = 3, include_usage: bool = True) -> list[bytes]:
    base = {
        "id": "chatcmpl-123",
        "object": "chat.completion.chunk",
        "created": 1763900000,
        "model": "gpt-4o-mini-2024-07-18",
        "service_tier": "default",
        "system_fingerprint": "fp_1",
    }
    chunks = [
        {
            **base,
            "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
            ],
            "usage": None,
        }
    ]
    for i in range(n_tokens):
        chunks.append(
            {
                **base,
                "choices": [{"index": 0, "delta": {"content": f"tok{i} "}, "logprobs": None, "finish_reason": None}],
                "usage": None,
            }
        )
    chunks.append(
        {**base, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}], "usage": None}
    )
    if include_usage:
        chunks.append(
            {
                **base,
                "choices": [],
                "usage": {
                    "prompt_tokens": 11,
                    "completion_tokens": n_tokens,
                    "total_tokens": 11 + n_tokens,
                    "prompt_tokens_details": {"cached_tokens": 2, "audio_tokens": 0},
                    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
                },
            }
        )
    return [b"data: " + _j(c) + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]


OPENROUTER_CHAT = _j(
    {
        "id": "gen-1",
        "provider": "OpenAI",
        "model": "openai/gpt-4o-mini",
        "object": "chat.completion",
        "created": 1763900000,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop", "logprobs": None}
        ],
        "usage": {
            "prompt_tokens": 7,
            "completion_tokens": 2,
            "total_tokens": 9,
            "cost": 0.0000123,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }
)

OPENAI_RESPONSES = _j(
    {
        "id": "resp_1",
        "object": "response",
        "created_at": 1763900000,
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": "gpt-4.1-2025-04-14",
        "output": [
            {
                "type": "web_search_call",
                "id": "ws_1",
                "status": "completed",
                "action": {"type": "search", "query": "llm cost"},
            },
            {
                "type": "message",
                "id": "msg_1",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Hi!", "annotations": []}],
            },
        ],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": 36,
            "input_tokens_details": {"cached_tokens": 6},
            "output_tokens": 87,
            "output_tokens_details": {"reasoning_tokens": 40},
            "total_tokens": 123,
        },
        "user": None,
        "metadata": {},
    }
)

OPENAI_EMBEDDINGS = _j(
    {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.0023, -0.0093, 0.0151]}],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 8, "total_tokens": 8},
    }
)

OPENAI_TRANSCRIPTION = _j({"text": "Hello world.", "usage": {"type": "duration", "seconds": 9}})

OPENAI_ERROR_429 = _j(
    {"error": {"message": "Rate limit reached", "type": "requests", "param": None, "code": "rate_limit_exceeded"}}
)
OPENAI_ERROR_500 = _j(
    {"error": {"message": "The server had an error", "type": "server_error", "param": None, "code": None}}
)
OPENAI_ERROR_400 = _j(
    {"error": {"message": "Bad request", "type": "invalid_request_error", "param": None, "code": None}}
)

ANTHROPIC_MESSAGE = _j(
    {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "Hello!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 12,
            "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 50,
            "cache_creation": {"ephemeral_5m_input_tokens": 60, "ephemeral_1h_input_tokens": 40},
            "output_tokens": 7,
            "service_tier": "standard",
            "server_tool_use": {"web_search_requests": 2},
        },
    }
)
ANTHROPIC_USAGE = {
    "input_tokens": 162,
    "cached_input_tokens": 50,
    "cache_write_tokens": 60,
    "cache_write_1h_tokens": 40,
    "output_tokens": 7,
    "web_searches": 2,
}
ANTHROPIC_ERROR_529 = _j({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})


def anthropic_stream(n_tokens: int = 3) -> list[bytes]:
    def ev(name: str, data: dict) -> bytes:
        return f"event: {name}\ndata: ".encode() + _j(data) + b"\n\n"

    out = [
        ev(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_01",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4-5-20250929",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": 25,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 10,
                        "output_tokens": 1,
                        "service_tier": "standard",
                    },
                },
            },
        ),
        ev(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        b'event: ping\ndata: {"type": "ping"}\n\n',
    ]
    for i in range(n_tokens):
        out.append(
            ev(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f"tok{i} "}},
            )
        )
    out.append(ev("content_block_stop", {"type": "content_block_stop", "index": 0}))
    out.append(
        ev(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 15},
            },
        )
    )
    out.append(ev("message_stop", {"type": "message_stop"}))
    return out


ANTHROPIC_STREAM_USAGE = {"input_tokens": 35, "cached_input_tokens": 10, "output_tokens": 15}

GEMINI_GENERATE = _j(
    {
        "candidates": [
            {"content": {"parts": [{"text": "Hello!"}], "role": "model"}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {
            "promptTokenCount": 10,
            "candidatesTokenCount": 5,
            "totalTokenCount": 35,
            "cachedContentTokenCount": 4,
            "thoughtsTokenCount": 20,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 10}],
        },
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-abc",
    }
)
GEMINI_USAGE = {"input_tokens": 10, "cached_input_tokens": 4, "output_tokens": 25, "reasoning_tokens": 20}


def gemini_stream(n_tokens: int = 3) -> list[bytes]:
    out = []
    for i in range(n_tokens):
        last = i == n_tokens - 1
        cand: dict = {"content": {"parts": [{"text": f"tok{i} "}], "role": "model"}, "index": 0}
        if last:
            cand["finishReason"] = "STOP"
        out.append(
            b"data: "
            + _j(
                {
                    "candidates": [cand],
                    "usageMetadata": {
                        "promptTokenCount": 8,
                        "candidatesTokenCount": i + 1,
                        "totalTokenCount": 9 + i + 6,
                        "thoughtsTokenCount": 6,
                    },
                    "modelVersion": "gemini-2.5-flash",
                    "responseId": "resp-s",
                }
            )
            + b"\r\n\r\n"
        )
    return out


COHERE_CHAT = _j(
    {
        "id": "c1",
        "finish_reason": "COMPLETE",
        "message": {"role": "assistant", "content": [{"type": "text", "text": "Hi"}]},
        "usage": {
            "billed_units": {"input_tokens": 5, "output_tokens": 3},
            "tokens": {"input_tokens": 70, "output_tokens": 3},
        },
    }
)
COHERE_RERANK = _j(
    {
        "id": "r1",
        "results": [{"index": 0, "relevance_score": 0.9}],
        "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
    }
)

PINECONE_QUERY = _j(
    {"results": [], "matches": [{"id": "v1", "score": 0.91, "values": []}], "namespace": "", "usage": {"readUnits": 5}}
)
PINECONE_UPSERT = _j({"upsertedCount": 2})
