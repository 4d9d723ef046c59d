"""Provider ids as the SDK sends them -> provider ids of the price data.

Only exact ids and the aliases below are recognised. A provider we do not know ("openai-compatible",
"litellm", "ollama", "vllm", a gateway's own name) has no prices of its own: its calls are priced only when
the model name identifies one vendor model (``pricing.infer``), else they stay unpriced. Users give such
endpoints a price with custom prices, register_price() or PRICING_OVERRIDES.
"""

from __future__ import annotations

PROVIDER_ALIASES: dict[str, str] = {
    "xai": "x-ai",
    "x.ai": "x-ai",
    "grok": "x-ai",
    "bedrock": "aws",
    "aws-bedrock": "aws",
    "aws_bedrock": "aws",
    "amazon": "aws",
    "amazon-bedrock": "aws",
    "vertex": "google",
    "vertexai": "google",
    "vertex_ai": "google",
    "vertex-ai": "google",
    "google-vertex": "google",
    "gemini": "google",
    "google-genai": "google",
    "google_genai": "google",
    "google-gla": "google",
    "azure-openai": "azure",
    "azure_openai": "azure",
    "azure-ai": "azure",
    "together-ai": "together",
    "together_ai": "together",
    "togetherai": "together",
    "fireworks-ai": "fireworks",
    "fireworks_ai": "fireworks",
    "mistralai": "mistral",
    "moonshot": "moonshotai",
    "kimi": "moonshotai",
    "voyage": "voyageai",
    "zhipu": "zhipuai",
    "z.ai": "zai",
    "z-ai": "zai",  # OpenRouter's prefix
    "workers-ai": "cloudflare",
    "cloudflare-workers-ai": "cloudflare",
    "you": "you.com",
    "youcom": "you.com",
}


def canonical_provider(provider: str) -> str:
    name = provider.strip().lower()
    return PROVIDER_ALIASES.get(name, name)
