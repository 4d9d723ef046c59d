"""Provider response -> canonical usage (see shared DESIGN.md "One usage schema").

Each extractor takes a decoded JSON object and returns a ``Extracted``; provider quirks are
normalised here and nowhere else: Anthropic's cache fields are added into ``input_tokens``,
Gemini's ``thoughtsTokenCount`` into ``output_tokens``, DeepSeek's cache hits become cached input.
"""

from __future__ import annotations

import math
from typing import Any

Usage = dict[str, Any]


def empty_usage(requests: int = 1) -> Usage:
    return {
        "input_tokens": 0,
        "cached_input_tokens": 0,
        "cache_write_tokens": 0,
        "cache_write_1h_tokens": 0,
        "output_tokens": 0,
        "reasoning_tokens": 0,
        "audio_seconds": 0,
        "web_searches": 0,
        "requests": requests,
        "units": {},
    }


class Extracted:
    __slots__ = ("usage", "model", "service_tier", "reported_cost", "found")

    def __init__(self) -> None:
        self.usage: Usage = empty_usage()
        self.model: str | None = None
        self.service_tier: str | None = None
        self.reported_cost: Any = None
        self.found = False  # did the response carry usage at all?


def _int(v: Any) -> int:
    if isinstance(v, bool):
        return 0
    if isinstance(v, int):
        return v
    if isinstance(v, float) and math.isfinite(v):  # json.loads takes NaN and Infinity; int() of them raises
        return int(v)
    return 0


def _num(v: Any) -> int | float:
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else 0


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


# ---- OpenAI format (OpenAI, Azure, Groq, Together, Fireworks, DeepSeek, xAI, OpenRouter, ...) ----


def openai_usage(u: dict[str, Any], out: Extracted) -> None:
    usage = out.usage
    out.found = True
    if "input_tokens" in u or "output_tokens" in u:  # Responses API / audio token usage
        usage["input_tokens"] = _int(u.get("input_tokens"))
        usage["output_tokens"] = _int(u.get("output_tokens"))
        in_details = _dict(u.get("input_tokens_details")) or _dict(u.get("input_token_details"))
        out_details = _dict(u.get("output_tokens_details"))
    else:  # chat / completions / embeddings
        usage["input_tokens"] = _int(u.get("prompt_tokens"))
        usage["output_tokens"] = _int(u.get("completion_tokens"))
        in_details = _dict(u.get("prompt_tokens_details"))
        out_details = _dict(u.get("completion_tokens_details"))
    usage["cached_input_tokens"] = _int(in_details.get("cached_tokens"))
    usage["reasoning_tokens"] = _int(out_details.get("reasoning_tokens"))
    if "prompt_cache_hit_tokens" in u:  # DeepSeek
        usage["cached_input_tokens"] = _int(u.get("prompt_cache_hit_tokens"))
    if u.get("type") == "duration":  # whisper-style transcription usage
        usage["audio_seconds"] = _num(u.get("seconds"))
    searches = _int(u.get("num_search_queries")) or _int(u.get("num_sources_used"))
    if searches:  # Perplexity / xAI live search
        usage["web_searches"] = searches
    for key in ("citation_tokens",):
        if key in u:
            usage["units"][key] = _int(u.get(key))
    if u.get("cost") is not None:  # OpenRouter reports what it charged
        out.reported_cost = u.get("cost")


def extract_openai(obj: Any, out: Extracted) -> None:
    if not isinstance(obj, dict):
        return
    if obj.get("type") in ("response.completed", "response.incomplete", "response.failed", "response.created"):
        obj = _dict(obj.get("response"))  # Responses API stream event
    out.model = _str(obj.get("model")) or out.model
    out.service_tier = _str(obj.get("service_tier")) or out.service_tier
    u = obj.get("usage")
    if isinstance(u, dict):
        openai_usage(u, out)
    elif obj.get("duration") is not None and obj.get("text") is not None:  # verbose_json transcription
        out.usage["audio_seconds"] = _num(obj.get("duration"))
        out.found = True
    output = obj.get("output")
    if isinstance(output, list):  # Responses API built-in web search
        n = sum(1 for item in output if isinstance(item, dict) and item.get("type") == "web_search_call")
        if n:
            out.usage["web_searches"] = n


# ---- Anthropic ----------------------------------------------------------------------------------


def anthropic_usage(u: dict[str, Any], out: Extracted, *, partial: bool = False) -> None:
    usage = out.usage
    out.found = True
    cache_read = _int(u.get("cache_read_input_tokens"))
    cache_write = _int(u.get("cache_creation_input_tokens"))
    split = _dict(u.get("cache_creation"))
    write_1h = _int(split.get("ephemeral_1h_input_tokens"))
    write_5m = _int(split.get("ephemeral_5m_input_tokens")) if split else cache_write
    if not partial or "input_tokens" in u:
        usage["input_tokens"] = _int(u.get("input_tokens")) + cache_read + cache_write
        usage["cached_input_tokens"] = cache_read
        usage["cache_write_tokens"] = write_5m if split else cache_write - write_1h
        usage["cache_write_1h_tokens"] = write_1h
    if "output_tokens" in u:
        usage["output_tokens"] = _int(u.get("output_tokens"))
    stu = _dict(u.get("server_tool_use"))
    if stu.get("web_search_requests") is not None:
        usage["web_searches"] = _int(stu.get("web_search_requests"))
    out.service_tier = _str(u.get("service_tier")) or out.service_tier


def extract_anthropic(obj: Any, out: Extracted) -> None:
    if not isinstance(obj, dict):
        return
    kind = obj.get("type")
    if kind == "message_start":
        obj = _dict(obj.get("message"))
    elif kind == "message_delta":
        u = obj.get("usage")
        if isinstance(u, dict):
            anthropic_usage(u, out, partial=True)
        return
    out.model = _str(obj.get("model")) or out.model
    u = obj.get("usage")
    if isinstance(u, dict):
        anthropic_usage(u, out)


# ---- Google Gemini / Vertex ---------------------------------------------------------------------


def extract_google(obj: Any, out: Extracted) -> None:
    if isinstance(obj, list):  # non-SSE streamGenerateContent: a JSON array of chunks
        for item in obj:
            extract_google(item, out)
        return
    if not isinstance(obj, dict):
        return
    out.model = _str(obj.get("modelVersion")) or out.model
    u = obj.get("usageMetadata")
    if not isinstance(u, dict):
        return
    usage = out.usage
    out.found = True
    thoughts = _int(u.get("thoughtsTokenCount"))
    usage["input_tokens"] = _int(u.get("promptTokenCount")) + _int(u.get("toolUsePromptTokenCount"))
    usage["cached_input_tokens"] = _int(u.get("cachedContentTokenCount"))
    usage["output_tokens"] = _int(u.get("candidatesTokenCount")) + thoughts
    usage["reasoning_tokens"] = thoughts
    meta = obj.get("candidates")
    if isinstance(meta, list):
        n = 0
        for cand in meta:
            gm = _dict(cand).get("groundingMetadata") if isinstance(cand, dict) else None
            if isinstance(gm, dict):
                n += len(gm.get("webSearchQueries") or [])
        if n:
            usage["web_searches"] = n


def extract_google_embed(obj: Any, out: Extracted) -> None:
    # embedContent does not report tokens; count the request instead
    out.found = isinstance(obj, dict)


# ---- Cohere v2 ----------------------------------------------------------------------------------


def extract_cohere(obj: Any, out: Extracted) -> None:
    if not isinstance(obj, dict):
        return
    if obj.get("type") == "message-end":  # stream event
        obj = _dict(obj.get("delta"))
    billed = _dict(_dict(obj.get("usage")).get("billed_units")) or _dict(_dict(obj.get("meta")).get("billed_units"))
    if not billed:
        return
    out.found = True
    usage = out.usage
    usage["input_tokens"] = _int(billed.get("input_tokens"))
    usage["output_tokens"] = _int(billed.get("output_tokens"))
    if billed.get("search_units") is not None:
        usage["units"]["search_units"] = _int(billed.get("search_units"))
    if billed.get("images") is not None:
        usage["units"]["images"] = _int(billed.get("images"))


# ---- Pinecone -----------------------------------------------------------------------------------


def extract_pinecone(obj: Any, out: Extracted) -> None:
    if not isinstance(obj, dict):
        return
    u = _dict(obj.get("usage"))
    units = out.usage["units"]
    names = (("readUnits", "read_units"), ("writeUnits", "write_units"), ("rerankUnits", "rerank_units"))
    for camel, snake in names:
        v = u.get(camel, u.get(snake))
        if v is not None:
            units[snake] = _int(v)
            out.found = True
    if obj.get("upsertedCount") is not None:
        units["upserted_records"] = _int(obj.get("upsertedCount"))
        out.found = True
    if u.get("total_tokens") is not None:  # inference embed
        out.usage["input_tokens"] = _int(u.get("total_tokens"))
        out.found = True
    out.model = _str(obj.get("model")) or out.model


# ---- Ollama native API --------------------------------------------------------------------------


def extract_ollama(obj: Any, out: Extracted) -> None:
    if not isinstance(obj, dict):
        return
    out.model = _str(obj.get("model")) or out.model
    if "prompt_eval_count" in obj or "eval_count" in obj:
        out.found = True
        out.usage["input_tokens"] = _int(obj.get("prompt_eval_count"))
        out.usage["output_tokens"] = _int(obj.get("eval_count"))


EXTRACTORS = {
    "openai": extract_openai,
    "anthropic": extract_anthropic,
    "google": extract_google,
    "cohere": extract_cohere,
    "pinecone": extract_pinecone,
    "ollama": extract_ollama,
}
