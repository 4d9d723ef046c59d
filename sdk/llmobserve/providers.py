"""Which provider and endpoint a request goes to: host first, then path / header shape.

Only priced endpoints are recognised; anything else returns ``None`` and is not captured.
Host decisions are cached, so non-LLM traffic costs one dict lookup and a few ``endswith``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_EXACT_HOSTS = {
    "api.openai.com": "openai",
    "api.anthropic.com": "anthropic",
    "generativelanguage.googleapis.com": "google",
    "aiplatform.googleapis.com": "vertex",
    "api.cohere.com": "cohere",
    "api.cohere.ai": "cohere",
    "api.mistral.ai": "mistral",
    "api.groq.com": "groq",
    "api.together.xyz": "together",
    "api.together.ai": "together",
    "api.fireworks.ai": "fireworks",
    "api.deepseek.com": "deepseek",
    "api.x.ai": "xai",
    "openrouter.ai": "openrouter",
    "api.perplexity.ai": "perplexity",
}
_SUFFIX_HOSTS = (
    (".openai.azure.com", "azure"),
    (".cognitiveservices.azure.com", "azure"),
    (".services.ai.azure.com", "azure"),
    ("-aiplatform.googleapis.com", "vertex"),
    (".pinecone.io", "pinecone"),
)

# provider families share a wire format (and an extractor)
FAMILY = {
    "anthropic": "anthropic",
    "google": "google",
    "vertex": "google",
    "cohere": "cohere",
    "pinecone": "pinecone",
    "ollama": "ollama",
}  # everything else speaks the OpenAI format

_OPENAI_ENDPOINTS = (
    ("/chat/completions", "chat"),
    ("/responses", "responses"),
    ("/embeddings", "embeddings"),
    ("/completions", "completions"),
    ("/audio/transcriptions", "audio"),
    ("/audio/translations", "audio"),
    ("/audio/speech", "audio"),
    ("/images/generations", "images"),
    ("/images/edits", "images"),
    ("/moderations", "moderations"),
)
_GOOGLE_RE = re.compile(r"models/([^/:]+):(generateContent|streamGenerateContent|embedContent|batchEmbedContents)$")
_GOOGLE_ENDPOINT = {
    "generateContent": "generate",
    "streamGenerateContent": "generate",
    "embedContent": "embeddings",
    "batchEmbedContents": "embeddings",
}
_PINECONE_ENDPOINTS = (
    ("/query", "vector"),
    ("/vectors/upsert", "vector"),
    ("/vectors/fetch", "vector"),
    ("/vectors/update", "vector"),
    ("/vectors/delete", "vector"),
    ("/vectors/list", "vector"),
    ("/records/upsert", "vector"),
    ("/search", "vector"),
    ("/embed", "embeddings"),
    ("/rerank", "rerank"),
)


class Target:
    """What we learned about a request before sending it."""

    __slots__ = ("provider", "endpoint", "family", "model")

    def __init__(self, provider: str, endpoint: str, model: str | None = None) -> None:
        self.provider = provider
        self.endpoint = endpoint
        self.family = FAMILY.get(provider, "openai")
        self.model = model  # from the URL when the URL names it (Gemini, Azure deployments)


_host_cache: dict[str, str | None] = {}


def provider_for_host(host: str, overrides: Mapping[str, str]) -> str | None:
    """Provider for ``host`` or ``host:port`` (lower-case), ``None`` if not a known provider."""
    try:
        return _host_cache[host]
    except KeyError:
        pass
    name = overrides.get(host)
    if name is None:
        bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        name = overrides.get(bare) or _EXACT_HOSTS.get(bare)
        if name is None:
            for suffix, prov in _SUFFIX_HOSTS:
                if bare.endswith(suffix):
                    name = prov
                    break
    if len(_host_cache) < 4096:
        _host_cache[host] = name
    return name


def clear_cache() -> None:
    _host_cache.clear()


def _openai_endpoint(path: str) -> str | None:
    for suffix, endpoint in _OPENAI_ENDPOINTS:
        if path.endswith(suffix):
            return endpoint
    return None


def detect(
    host: str,
    path: str,
    headers: Mapping[str, str] | None,
    overrides: Mapping[str, str],
    fallback: bool = True,
    body: bytes | None = None,
) -> Target | None:
    """Classify one request. ``headers`` and ``body`` are only consulted for unknown hosts."""
    provider = provider_for_host(host, overrides)
    if provider is None:
        if not fallback:
            return None
        return _detect_by_shape(path, headers, body)
    family = FAMILY.get(provider, "openai")
    if family == "openai":
        endpoint = _openai_endpoint(path)
        if endpoint is None:
            if provider == "azure" or provider == "openai":
                return None
            # Anthropic-compatible endpoints offered by some OpenAI-format providers
            if path.endswith("/messages"):
                return Target(provider, "messages")
            return None
        model = None
        if provider == "azure" and "/deployments/" in path:
            model = path.split("/deployments/", 1)[1].split("/", 1)[0]
        return Target(provider, endpoint, model)
    if family == "anthropic":
        if path.endswith("/messages"):
            return Target(provider, "messages")
        if path.endswith("/complete"):
            return Target(provider, "completions")
        return None
    if family == "google":
        m = _GOOGLE_RE.search(path)
        if m is None:
            return None
        return Target(provider, _GOOGLE_ENDPOINT[m.group(2)], m.group(1))
    if family == "cohere":
        for suffix, endpoint in (("/chat", "chat"), ("/embed", "embeddings"), ("/rerank", "rerank")):
            if path.endswith(suffix):
                return Target(provider, endpoint)
        return None
    if family == "pinecone":
        for suffix, endpoint in _PINECONE_ENDPOINTS:
            if path.endswith(suffix) or f"{suffix}/" in path:
                return Target(provider, endpoint)
        return None
    return None


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if headers is None:
        return None
    try:
        return headers.get(name)
    except Exception:  # a header lookup must not break detection
        return None


def _detect_by_shape(path: str, headers: Mapping[str, str] | None, body: bytes | None = None) -> Target | None:
    """Unknown host (self-hosted, proxies, loopback): recognise the wire format by path/headers."""
    if "/openai/deployments/" in path:
        endpoint = _openai_endpoint(path)
        if endpoint:
            return Target("azure", endpoint, path.split("/deployments/", 1)[1].split("/", 1)[0])
        return None
    if path.endswith("/v1/messages") and _header(headers, "anthropic-version"):
        return Target("anthropic", "messages")
    m = _GOOGLE_RE.search(path)
    if m is not None:
        provider = "vertex" if "/projects/" in path and "/locations/" in path else "google"
        return Target(provider, _GOOGLE_ENDPOINT[m.group(2)], m.group(1))
    if _header(headers, "x-pinecone-api-version"):
        for suffix, endpoint in _PINECONE_ENDPOINTS:
            if path.endswith(suffix):
                return Target("pinecone", endpoint)
        return None
    if path.startswith("/v2/") and path in ("/v2/chat", "/v2/embed", "/v2/rerank"):
        return Target("cohere", {"/v2/chat": "chat", "/v2/embed": "embeddings"}.get(path, "rerank"))
    if path in ("/api/chat", "/api/generate", "/api/embed", "/api/embeddings"):
        return Target("ollama", {"/api/chat": "chat", "/api/generate": "generate"}.get(path, "embeddings"))
    endpoint = _openai_endpoint(path)
    if endpoint is not None:
        return Target("openai-compatible", endpoint)
    # body shape: a chat request to a gateway/proxy on a custom path
    if body and body[:1] == b"{" and b'"messages"' in body and b'"model"' in body[:4096]:
        return Target("openai-compatible", "chat")
    return None
