"""A provider's JSON reply -> just the members its extractor reads, as plain dicts and lists.

Runs on the worker thread, which shares the host's GIL, so it must be cheap: ``msgspec`` decodes each
family's reply into a small typed ``Struct`` naming only what ``extractors`` reads, and skips every
other member (the choices, the message text, embedding vectors) without building Python objects for
them: a short chat reply decodes in about a quarter of ``json.loads``'s time, an embeddings reply in a
small fraction of it (docs/BENCHMARKS.md).

The extractor then sees a dict holding the members that were present (absent ones stay absent, so
``"key" in obj`` still works). Whenever the typed decode fails (a member of an unexpected type, JSON
that msgspec rejects but ``json.loads`` takes, such as ``NaN`` or UTF-16) the body is decoded whole
with ``json.loads``, as it always was: the extractor reads the same values either way. One deliberate
difference: invalid UTF-8 inside a member that is not read no longer costs the call its usage
(``json.loads`` refuses the whole body).

No ``from __future__ import annotations`` and ``Optional``, not ``X | None``: msgspec evaluates these
annotations at run time, and the SDK runs on Python 3.9.
"""

import json
from typing import Any, Optional, Union

import msgspec

UNSET: Any = msgspec.UNSET


class _Typed(msgspec.Struct):
    """An item of which only ``type`` is read (OpenAI Responses API output items)."""

    type: Any = UNSET


class OpenAIReply(msgspec.Struct):
    """Chat, completions, embeddings, Responses API (and its stream events), audio."""

    type: Any = UNSET
    response: Optional["OpenAIReply"] = UNSET  # Responses API stream event: the response so far
    model: Any = UNSET
    service_tier: Any = UNSET
    usage: Any = UNSET
    duration: Any = UNSET  # verbose_json transcription without a usage object
    text: Any = UNSET
    output: Optional[list[_Typed]] = UNSET  # Responses API: counts web_search_call items


class AnthropicReply(msgspec.Struct):
    type: Any = UNSET
    message: Optional["AnthropicReply"] = UNSET  # message_start stream event
    model: Any = UNSET
    usage: Any = UNSET


class _Candidate(msgspec.Struct):
    groundingMetadata: Any = UNSET  # Gemini's own spelling


class GoogleReply(msgspec.Struct):
    modelVersion: Any = UNSET
    usageMetadata: Any = UNSET
    candidates: Optional[list[_Candidate]] = UNSET  # read only for groundingMetadata


class CohereReply(msgspec.Struct):
    type: Any = UNSET
    delta: Optional["CohereReply"] = UNSET  # message-end stream event
    usage: Any = UNSET
    meta: Any = UNSET


class PineconeReply(msgspec.Struct):
    usage: Any = UNSET
    upsertedCount: Any = UNSET
    model: Any = UNSET


class OllamaReply(msgspec.Struct):
    model: Any = UNSET
    prompt_eval_count: Any = UNSET
    eval_count: Any = UNSET


_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    "openai": msgspec.json.Decoder(OpenAIReply),
    "anthropic": msgspec.json.Decoder(AnthropicReply),
    # streamGenerateContent without SSE answers a JSON array of chunks
    "google": msgspec.json.Decoder(Union[GoogleReply, list[GoogleReply]]),
    "cohere": msgspec.json.Decoder(CohereReply),
    "pinecone": msgspec.json.Decoder(PineconeReply),
    "ollama": msgspec.json.Decoder(OllamaReply),
}


def decode_reply(body: bytes, family: str) -> Any:
    """What ``EXTRACTORS[family]`` needs of the JSON text ``body``; None when it is not JSON."""
    decoder = _DECODERS.get(family)
    if decoder is not None:
        try:
            return msgspec.to_builtins(decoder.decode(body))  # drops the members left UNSET (absent)
        except (msgspec.DecodeError, ValueError):  # ValidationError is a DecodeError; bad UTF-8 a ValueError
            pass
    try:
        return json.loads(body)
    except ValueError:
        return None
