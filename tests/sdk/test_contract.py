"""The events the SDK sends are accepted and priced by the server's own validation (wire contract).

Skipped if the app's ingest service cannot be imported (the SDK itself never imports the app).
"""

from __future__ import annotations

import llmobserve
import openai
import pytest
import requests

from .helpers import drain

pytestmark = pytest.mark.timeout(30)
MSG = [{"role": "user", "content": "hi"}]


def test_captured_events_pass_server_validation_and_pricing(sdk, providers):
    schema = pytest.importorskip("llmobserve_app.services.ingest.schema")
    import anthropic
    from google import genai

    from llmobserve_app.services.ingest.batch import prepare_events

    oa = openai.OpenAI(base_url=providers["openai"].url + "/v1", api_key="k", max_retries=0)
    oa.chat.completions.create(model="gpt-4o-mini", messages=MSG)
    with llmobserve.customer("acme"), llmobserve.section("agent:research/tool:web"):
        for _ in oa.chat.completions.create(
            model="gpt-4o-mini", messages=MSG, stream=True, stream_options={"include_usage": True}
        ):
            pass
    oa.responses.create(model="gpt-4.1", input="hi")
    oa.embeddings.create(model="text-embedding-3-small", input="x")
    oa.audio.speech.create(model="tts-1", voice="alloy", input="Hello")
    with pytest.raises(openai.RateLimitError):
        oa.chat.completions.create(model="gpt-4o-mini", messages=MSG, extra_headers={"X-Fake-Status": "429"})
    with pytest.raises(openai.APIConnectionError):
        openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="k", max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=MSG
        )
    anthropic.Anthropic(base_url=providers["anthropic"].url, api_key="k").messages.create(
        model="claude-sonnet-4-5", max_tokens=5, messages=MSG
    )
    gclient = genai.Client(api_key="g", http_options={"base_url": providers["google"].url})  # keep a reference:
    gclient.models.generate_content(model="gemini-2.5-flash", contents="hi")  # genai closes it on GC
    openai.OpenAI(base_url=providers["openrouter"].url + "/api/v1", api_key="k").chat.completions.create(
        model="openai/gpt-4o-mini", messages=MSG
    )
    requests.post(providers["cohere"].url + "/v2/rerank", json={"model": "rerank-v3.5"})
    events = drain(sdk, 10)
    assert len(events) >= 10
    validated, rejected = schema.validate_events(events)
    assert rejected == []
    batch = prepare_events(1, validated, rejected)
    assert batch.rejected == []
