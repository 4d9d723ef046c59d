"""A customer's app for the crash test (``test_crash_durability.py``), run as its own process.

It observes with the real SDK and makes real ``openai`` and ``pinecone`` calls to local fake providers until a stop file
appears, then flushes and prints one JSON line: the calls it made and the SDK's delivery counters.

    python tests/ingest_api/crash_client.py COLLECTOR_URL API_KEY OPENAI_URL PINECONE_URL NAME STOP_FILE
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import llmobserve
import openai
from pinecone import Pinecone

FLUSH_TIMEOUT_SECONDS = 90.0  # longer than the SDK's whole retry budget (6 tries, at most ~32 s of backoff)
MAX_CALLS = 20_000  # a bound, should the stop file never come


def main(collector_url: str, api_key: str, openai_url: str, pinecone_url: str, name: str, stop_file: str) -> int:
    llmobserve.observe(
        collector_url, api_key=api_key, batch_size=25, flush_interval=0.05, enforce_caps=False,
        provider_hosts={urlsplit(openai_url).netloc: "openai", urlsplit(pinecone_url).netloc: "pinecone"},
    )
    client = openai.OpenAI(base_url=openai_url + "/v1", api_key="sk-test", max_retries=0)
    index = Pinecone(api_key="pc-key").Index(host=pinecone_url)
    stop = Path(stop_file)

    @llmobserve.agent("research")
    def research(question: str) -> None:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
        search(question)

    @llmobserve.tool("vector_search")
    def search(question: str) -> None:
        del question
        index.query(vector=[0.1, 0.2], top_k=1)

    calls = 0
    while calls < MAX_CALLS and not stop.exists():
        # One customer per run (a run belongs to one customer); runs span batches.
        with llmobserve.customer(f"{name}-customer-{calls % 7}"), llmobserve.run(f"{name}-run-{calls // 12}"):
            research(f"question {calls}")
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "summary"}])
        calls += 3
        time.sleep(0.01)
    flushed = llmobserve.flush(FLUSH_TIMEOUT_SECONDS)
    stats = {key: value for key, value in llmobserve.stats().items() if isinstance(value, int)}
    print(json.dumps({"name": name, "calls": calls, "flushed": flushed, "stats": stats}), flush=True)
    llmobserve.shutdown(timeout=1.0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
