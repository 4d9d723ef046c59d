"""What /docs says: sections, the FAQ and the supported providers (generated from the pricing registry).

Every statement here is checked against the code it describes (sdk/, ingest_api/, pricing/); code samples carry
this server's own address. Plain data, so the page renders it and the search matches it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

from llmobserve_app import routes
from llmobserve_app.services.billing.plans import FREE, PRO
from llmobserve_app.services.sdk_package import install_command, requirement_line
from llmobserve_app.settings import SDK_DIR
from pricing import PRICE_DATA_VERSION, default_registry


@dataclass(frozen=True)
class Code:
    code: str
    language: str = "python"


Block = str | Code  # a str is Markdown


@dataclass(frozen=True)
class DocSection:
    id: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Faq:
    id: str
    question: str
    answer: str  # Markdown


@dataclass(frozen=True)
class Provider:
    id: str
    name: str
    models: int
    pricing_url: str


PROVIDERS_ID = "providers"
# Where the page lists the providers the registry prices (generated: no blocks of its own).
PROVIDERS_SECTION = DocSection(PROVIDERS_ID, "Supported providers", ())
FAQ_ID = "faq"


@dataclass(frozen=True)
class Docs:
    sections: tuple[DocSection, ...]  # in page order: the contents list and the body both follow it
    faq: tuple[Faq, ...]
    providers: tuple[Provider, ...]

    def contents(self) -> list[tuple[str, str]]:
        """(element id, title) of every part of the page, in order, the FAQ last."""
        return [(section.id, section.title) for section in self.sections] + [(FAQ_ID, "FAQ")]

    @cached_property
    def search_texts(self) -> dict[str, str]:
        """Lower-case text of every searchable entry (sections, the providers list, each FAQ), by element id;
        built once per ``Docs`` (``docs`` keeps one per address), not per search."""
        texts = {section.id: " ".join([section.title, *(block.code if isinstance(block, Code) else block
                                                         for block in section.blocks)]).lower()
                 for section in self.sections}
        texts[PROVIDERS_ID] = ("supported providers priced " + " ".join(
            f"{provider.id} {provider.name}" for provider in self.providers)).lower()
        texts.update({faq.id: f"{faq.question} {faq.answer}".lower() for faq in self.faq})
        return texts

    def matching(self, query: str) -> list[str]:
        """Ids of the entries containing every word of ``query`` (all of them for an empty query)."""
        words = query.lower().split()
        return [entry for entry, text in self.search_texts.items() if all(word in text for word in words)]


def registry_providers() -> tuple[Provider, ...]:
    """Every provider the pricing registry prices, by name."""
    providers = default_registry().providers.values()
    return tuple(sorted((Provider(data.id, data.name or data.id, len(data.entries),
                                  data.pricing_urls[0] if data.pricing_urls else "") for data in providers),
                        key=lambda provider: provider.name.lower()))


def _caps_section(public_url: str) -> DocSection:
    """Spending caps as services/caps, services/notifications and ingest_api/caps.py implement them."""
    create_caps = (
        f'import requests\n\nLLMOBSERVE_URL = "{public_url}"\nAPI_KEY = "llmo_sk_..."\n\n\n'
        'def cap_customer(customer_id: str, daily_limit_usd: str) -> dict:\n'
        '    """Hold one of your customers to a daily budget: warn at 80 %, block once exceeded."""\n'
        '    reply = requests.post(\n        f"{LLMOBSERVE_URL}/v1/caps",\n'
        '        headers={"Authorization": f"Bearer {API_KEY}"},\n'
        '        json={"scope": "customer", "value": customer_id, "period": "day",\n'
        '              "limit_usd": daily_limit_usd, "threshold_pct": 80, "action": "block",\n'
        '              "notify": {"email": True}},\n'
        '        timeout=10,\n    )\n'
        '    reply.raise_for_status()  # 422 names the bad field, e.g. "limit_usd: must be a positive amount"\n'
        '    return reply.json()  # the cap: id, status ("ok"), spend_usd, period_end, ...\n\n\n'
        'cap = cap_customer("acme", "5.00")')
    verify = (
        'import hashlib\nimport hmac\nimport time\n\n\n'
        'def signed_by_llmobserve(secret: str, header: str, raw_body: bytes, max_age_s: int = 300) -> bool:\n'
        '    """Check X-LLMObserve-Signature on the raw body, before parsing it."""\n'
        '    parts = dict(part.strip().split("=", 1) for part in header.split(",") if "=" in part)\n'
        '    if not parts.get("t", "").isdigit() or abs(time.time() - int(parts["t"])) > max_age_s:\n'
        '        return False  # missing, or an old delivery replayed\n'
        '    mac = hmac.new(secret.encode(), parts["t"].encode() + b"." + raw_body, hashlib.sha256)\n'
        '    return hmac.compare_digest(mac.hexdigest(), parts.get("v1", ""))')
    return DocSection("caps", "Spending caps and alerts", (
        "A cap limits the **priced** cost of one scope per UTC period, warns you before the limit and can stop "
        "spend at it. Each cap has:",
        "- a **scope**: `global`, `provider`, `model`, `agent` or `customer`, with its value (`openai`, "
        "`gpt-4o`, `research`, `acme`). A `customer` cap with the value `*` holds **every customer to the limit "
        "separately**; an `agent` cap counts every call made inside that agent, nested or not.\n"
        "- a **period**: `day`, `week` (ISO, from Monday 00:00 UTC) or `month` (calendar, UTC), and a limit in "
        "US dollars (more than 0).\n"
        "- a **threshold**: an early warning at `threshold_pct` of the limit (1 to 99, default 80).\n"
        "- an **action**: `alert` only warns; `block` also stops calls in the scope once the limit is reached, "
        "until the period ends.",
        f"Signed in, create and edit caps in **Settings → Caps** ([{routes.CAPS}]({routes.CAPS})): each cap "
        "shows a spend/limit bar, its status, when its period ends, when the run-rate is projected to reach the "
        "limit, and its unpriced calls; below them, the alert history with each channel's delivery status. The "
        "dashboard lists the caps at warning or beyond. From code, use the API (below).",
        "Spend is **derived** from your stored calls each time a cap is evaluated, never kept in a counter: "
        "nothing is reset, a changed limit applies at once, and a new period starts from zero by itself. Calls "
        "whose price is unknown are not spend; each cap reports how many there were (`unpriced_calls`). Caps "
        "are evaluated right after each batch of calls is stored and by a job every minute. A cap's status is "
        "`ok`, `warning` (past the threshold), `exceeded`, `blocked` (exceeded, with `block`) or `disabled`.",
        "**Alerts.** Each level — `threshold`, then `exceeded` — fires **at most once per cap and period** (per "
        "customer for `customer:*`), however many server processes evaluate it. An alert goes by **email** to "
        "your account's address (when the server has SendGrid configured: `SENDGRID_API_KEY` and "
        "`SENDGRID_FROM`; otherwise it is recorded as skipped and still shows in the app), to a **Slack** "
        "incoming webhook, and to your own **webhook**: a signed JSON POST of `{\"id\", \"type\", "
        "\"source_id\", \"subject\", \"created_at\", \"data\"}` where `data` is the alert (cap, scope, "
        "level, spend, limit, period). Failed deliveries (429, 5xx, timeouts) are retried for up to 24 hours; "
        "delivery is at least once, and the `X-LLMObserve-Delivery` header is the same on every attempt, so "
        "you can drop repeats.",
        "**Checking a webhook's signature.** Create the signing secret in [Settings](/settings) under *Alert "
        "delivery* (it is shown once). Each webhook carries `X-LLMObserve-Signature: t=<unix seconds>,v1=<hex>`, "
        "where `<hex>` is the HMAC-SHA256 of `<t>.<raw body>` keyed with the secret:",
        Code(verify),
        "**Blocking in the SDK.** With a `block` cap exceeded, every reply to the SDK's uploads (and its "
        "`GET /v1/caps/status` poll, every 30 s) carries the blocked scopes, each with `until` = the end of the "
        "period. A call in a blocked scope raises `llmobserve.BudgetExceededError` **before any network I/O** — "
        "the provider is never called, so it costs nothing:",
        Code('try:\n    with llmobserve.customer("acme"):\n        client.chat.completions.create(model="gpt-4o-mini"'
             ', messages=messages)\nexcept llmobserve.BudgetExceededError as error:\n    '
             'print(error.scope, error.value, error.until)  # customer acme 2026-12-02T00:00:00Z'),
        "It is the SDK's one deliberate exception, and also an `openai.OpenAIError` / `anthropic.AnthropicError` "
        "when those libraries are loaded, so their clients do not retry it. Overshoot is **bounded, not zero**: "
        "a call that starts after the SDK received the reply to the batch that crossed the limit is blocked; "
        "calls already in flight (or started before that reply) complete and count — a lower `flush_interval` "
        "narrows that window. If the server cannot be reached, calls go through (blocks already received still "
        "apply until their `until`); `observe(..., caps_fail_open=False)` blocks instead, and "
        "`enforce_caps=False` turns blocking off.",
        "**Caps from code.** Create a cap per customer when you sign one up, with your API key:",
        Code(create_caps),
        "`GET /v1/caps` lists your caps with `spend_usd`, `percent`, `status`, `period_end`, `unpriced_calls` and "
        "`projected_at` (when the period's run-rate reaches the limit, if before the period ends). "
        "`PATCH /v1/caps/{id}` changes only the fields given (`{\"enabled\": false}` disables), "
        "`DELETE /v1/caps/{id}` deletes a cap with its alert history, and `GET /v1/caps/alerts` is the history, "
        "newest first. All of it is described at [/api/docs](/api/docs).",
    ))


def _sections(public_url: str) -> tuple[DocSection, ...]:
    snippet = (f'import llmobserve\n\nllmobserve.observe(collector_url="{public_url}", api_key="llmo_sk_...")')
    install = install_command(public_url, SDK_DIR)
    return (
        DocSection("quick-start", "Quick start", (
            "Three steps, about two minutes: create an account on this server ([sign up](/signup)); copy the API key "
            "shown once on the next page; install the SDK from this server and add two lines where your app starts.",
            Code(install, "bash"),
            Code(snippet),
            "Then use `openai`, `anthropic`, `google-genai`, `cohere`, `pinecone` or plain `requests`/`httpx` as "
            "usual: every call to a priced provider shows up on the [dashboard](/) within a couple of seconds, "
            "with its cost.",
        )),
        DocSection("install", "Install", (
            "The SDK (`llmobserve`) is served by this server, so it always matches the server's version. It needs "
            "Python 3.9 or newer and one small dependency, `msgspec`, which pip takes from your usual package "
            "index:",
            Code(install, "bash"),
            "pip installs exactly the wheel at that address, so no other package named `llmobserve` can be "
            "installed instead. To pin it in a `requirements.txt`, add this line:",
            Code(requirement_line(public_url, SDK_DIR), "bash"),
            "The SDK hooks the HTTP libraries "
            "your process already has (`httpx`, `requests`, `urllib3`, and `httpx2` used by recent `openai`, "
            "`anthropic` and `google-genai`); a library imported later is hooked when it is imported.",
            "`observe()` options (all optional): `batch_size` (500), `flush_interval` (1 s), `queue_size` "
            "(10,000 calls), `provider_hosts` (map extra hosts to a provider), `tags` (small key/value pairs on "
            "every event), `debug`. `llmobserve.flush()` sends what is queued, `llmobserve.stats()` returns the "
            "counters (captured, sent, dropped...).",
        )),
        DocSection("customers", "Customers", (
            "Attribute calls to your own customers to see what each one costs you (the Customers page, the "
            "customer filter on every page, and the read API's `group_by=customer`).",
            Code('import llmobserve\n\nllmobserve.set_customer_id("acme")  # this thread / task and what it '
                 'starts\n\nwith llmobserve.customer("globex"):  # or just for a block\n    client.chat.completions'
                 '.create(model="gpt-4o-mini", messages=messages)'),
            "The customer follows `asyncio` tasks and work submitted to a `ThreadPoolExecutor`; it does not follow "
            "a bare `threading.Thread`: call `set_customer_id` in that thread.",
        )),
        DocSection("agents", "Agents, tools and runs", (
            "An agent groups the calls made for one job; a run is one execution of it; tools are the steps an "
            "agent calls. Three ways to attribute calls — the decorator and the block are the same agent:",
            Code('@llmobserve.agent("research")  # 1. a decorator (plain, async and generator functions)\n'
                 'def research(question):\n    ...\n\n'
                 'with llmobserve.section("agent:research"):  # 2. a block\n    ...\n\n'
                 'tools = llmobserve.wrap_all_tools([search_docs, web_search])  # 3. tools: tool:<name> each'),
            "Each top-level agent call or `section(\"agent:...\")` block starts a run of its own; calls inside are "
            "tagged `agent:research`, and a tool called inside it `agent:research/tool:web_search`. To group "
            "several agents into one run, wrap them in `run()`:",
            Code('with llmobserve.run():  # one run id for everything inside\n    research("a")\n    '
                 'summarise("b")\n\n@llmobserve.tool("web_search")  # a tool by decorator\n'
                 'def web_search(query): ...'),
            "`wrap_all_tools` patches LangChain tools (`@tool`, `StructuredTool`, `BaseTool` subclasses) in place, "
            "so they stay LangChain tools. Runs are listed on /runs; each run shows agents, tools and calls with "
            "cost and latency, and a timeline.",
        )),
        DocSection("streaming", "Streaming", (
            "Streamed responses are read as your code reads them (nothing is buffered) and recorded once, when "
            "the stream ends, is closed or fails. A stream abandoned half-way is recorded as incomplete with the "
            "usage seen so far.",
            "OpenAI-format streams carry usage only when you ask for it; the SDK never changes your requests:",
            Code('stream = client.chat.completions.create(\n    model="gpt-4o-mini", messages=messages, '
                 'stream=True,\n    stream_options={"include_usage": True},  # without it: no token counts\n)'),
            "Anthropic and Google streams always report usage.",
        )),
        DocSection("exports", "Exports and the read API", (
            "Signed in, download the runs (/runs) or the costs by any dimension (/costs) as CSV or JSON: the "
            "file follows the page's filter. To bill your own customers from code, use the read API with the "
            "same API key:",
            Code(f'curl -H "Authorization: Bearer llmo_sk_..." \\\n  "{public_url}/v1/usage?group_by=customer&'
                 'from=2026-11-01&to=2026-11-30"', "bash"),
            "`group_by` is `customer`, `model`, `provider`, `agent` or `day`; `from`/`to` take dates (whole UTC "
            "days) or ISO datetimes with a timezone (default: the last 30 days); `customer_id` narrows to one "
            "customer. Costs are decimal strings in US dollars. The whole API is described at "
            "[/api/docs](/api/docs).",
            f"On the hosted Free plan the read API and the exports cover the last {FREE.max_range_days} days, as "
            "the pages do: without `from` the window starts there, and an earlier start is refused (403 "
            "`plan_range_limit`, naming the earliest allowed start). Pro and self-hosted installations read any "
            "range.",
        )),
        _caps_section(public_url),
        DocSection("self-hosting", "Self-hosting and configuration", (
            "Requirements: Python 3.11+ and Node.js 20+ with npm. From a clone of the repository:",
            Code("make run            # installs, migrates, serves UI + API on http://localhost:8000\n"
                 "PORT=9000 make run  # another port\nmake demo           # a demo account with 30 days of data",
                 "bash"),
            "Everything is configured by environment variables: `API_URL` (the public address of the server: "
            "the install command and snippets on this site use it), `DATABASE_URL` (SQLite in `data/` by default, "
            "or `postgresql://...`), `LLMOBSERVE_ENV=production` (then `JWT_SECRET` and an `https://` `API_URL` "
            "are required), `REDIS_URL` with `WORKERS` > 1 for several processes, `PRICING_OVERRIDES` (a JSON file "
            "of your own prices over the bundled ones), `CORS_ORIGINS`, `TRUSTED_PROXIES`, `SESSION_TTL_HOURS`. "
            "The README in the repository lists every variable.",
        )),
        PROVIDERS_SECTION,
        DocSection("frameworks", "Frameworks", (
            "The SDK works below the frameworks, at the HTTP client, so a framework's calls are captured like your "
            "own. Tested with the real packages against a local fake provider: **LangChain** (`langchain-openai`: "
            "a chain and a tool inside `@agent`, with `wrap_all_tools`) and **AutoGen** (`autogen-agentchat` with "
            "`autogen-ext`'s OpenAI client: an `AssistantAgent` inside `section(\"agent:...\")`).",
            Code('from langchain_openai import ChatOpenAI\n\nllm = ChatOpenAI(model="gpt-4o-mini")\n\n'
                 '@llmobserve.agent("research")\ndef research(q):\n    return llm.invoke(q).content  # tagged '
                 'agent:research'),
            Code('from autogen_agentchat.agents import AssistantAgent\nfrom autogen_ext.models.openai import '
                 'OpenAIChatCompletionClient\n\nplanner = AssistantAgent("planner", model_client='
                 'OpenAIChatCompletionClient(model="gpt-4o-mini"))\n\nwith llmobserve.section("agent:planner"):  '
                 '# a run of its own\n    result = await planner.run(task="Plan my day")'),
        )),
        DocSection("troubleshooting", "Troubleshooting", (
            "**No data on the dashboard.** `observe()` must run before the calls (at start-up). A short script "
            "should end normally or call `llmobserve.flush()`: queued events are sent at exit for at most 2 s. "
            "`llmobserve.stats()` tells you whether calls were `captured` and `sent`. A host the SDK does not "
            "know (a proxy, a gateway) is mapped with `observe(..., provider_hosts={\"llm-proxy.internal:8080\": "
            "\"openai\"})`. Calls to models without a known price are counted and shown as *unpriced*, not $0.",
            f"**Wrong URL.** `collector_url` is this server's address, `{public_url}` (`API_URL`), without a "
            "path. A malformed URL logs an error and leaves capture off; an unreachable one makes each batch be "
            "retried for 15 to 30 seconds and then dropped (`stats()[\"dropped_send_failed\"]`). Check with "
            f"`curl {public_url}/v1/healthz`.",
            "**Revoked key.** The server answers 401 and the SDK logs *collector refused the API key (HTTP 401); "
            "events dropped* on the `llmobserve` logger and counts them as `dropped_send_failed`. Create a new key "
            "in [Settings](/settings) and restart your app with it; the revoked key is refused by every server "
            "process within 5 seconds.",
            "**The customer filter shows nothing.** The filter matches the exact id you passed to "
            "`set_customer_id` (case included) within the date range shown. Calls made in a bare "
            "`threading.Thread` do not inherit the customer: call `set_customer_id` in that thread. Try a longer "
            "range (Last 30 days).",
        )),
    )


def _faq(public_url: str) -> tuple[Faq, ...]:
    return (
        Faq("faq-accuracy", "How accurate are the costs?",
            "Each call is priced from the usage the provider returned (input, cached input, cache writes, "
            "output and reasoning tokens, searches, units) with the bundled price list (version "
            f"{PRICE_DATA_VERSION}, based on pydantic/genai-prices plus our additions), in exact decimal "
            "arithmetic, stored as whole nano-dollars. When a provider reports its own cost (OpenRouter), that "
            "cost is used. Your negotiated prices go in `PRICING_OVERRIDES`."),
        Faq("faq-providers", "Which providers are supported?",
            "Every provider in the list above is priced. The SDK recognises OpenAI, Azure OpenAI, Anthropic, "
            "Google (AI Studio and Vertex), Cohere, Mistral, Groq, Together, Fireworks, DeepSeek, xAI, "
            "OpenRouter, Perplexity and Pinecone by their hosts, and self-hosted OpenAI-compatible servers "
            "(vLLM, Ollama, LM Studio) by their paths. Map any other OpenAI-format host with `provider_hosts`."),
        Faq("faq-frameworks", "Does it work with my framework?",
            "The SDK hooks the HTTP clients (`httpx`, `requests`, `urllib3`), not the framework, so code built "
            "on the official provider clients is captured. LangChain and AutoGen are tested; see Frameworks."),
        Faq("faq-customers", "How do I track cost per customer?",
            "Call `llmobserve.set_customer_id(\"acme\")` when you know who a request is for (or wrap the work in "
            "`with llmobserve.customer(\"acme\"):`). Each customer then has a page, and the customer filter and "
            "the read API's `group_by=customer` give you what to bill."),
        Faq("faq-caps", "Can I cap what an LLM costs me?",
            "Yes. A spending cap limits the priced cost of everything, a provider, a model, an agent, one "
            "customer or every customer separately (`customer` `*`) per UTC day, week or month. It alerts at a "
            "threshold (80 % by default) and when exceeded, once per period each, by email, Slack or a signed "
            "webhook; with `action: block` the SDK then raises `llmobserve.BudgetExceededError` before calling "
            f"the provider, until the period ends. Create caps in Settings → Caps ({routes.CAPS}), or from code "
            "with `POST /v1/caps` and your API key; see Spending caps and alerts above."),
        Faq("faq-export", "Can I export my data?",
            "Yes: CSV or JSON from /runs and /costs (the file follows the page's filter), and the read API "
            "`GET /v1/usage` with your API key. CSV cells that a spreadsheet would run as a formula are escaped."),
        Faq("faq-streaming", "Are streamed responses counted?",
            "Yes, as your code reads them. For OpenAI-format streams pass `stream_options={\"include_usage\": "
            "True}`: without it the provider sends no token counts and the call is recorded without usage."),
        Faq("faq-untracked", "What are untracked costs?",
            "Calls made outside any agent. /insights shows their share of your spend; put the code that makes "
            "them inside `@agent` or `with section(\"agent:...\")` to attribute them."),
        Faq("faq-api-keys", "How are API keys stored?",
            "Only as a SHA-256 hash: a key is shown once, when it is created, and never again. A revoked key is "
            "refused at once and by every server process within 5 seconds."),
        Faq("faq-prompts", "Are my prompts or responses sent to the server?",
            "No. An event carries the provider, model, endpoint, status, token and unit counts, timings, and the "
            "customer, agent path and tags you set; never the prompt or the response text."),
        Faq("faq-self-hosting", "Can I host it myself?",
            "Yes, for free: `make run` serves everything on one port with SQLite; use PostgreSQL (`DATABASE_URL`) "
            "and Redis (`REDIS_URL`) to run several processes. "
            f"The hosted service is ${PRO.monthly_price_usd} a month."),
        Faq("faq-server-down", "What happens when the server is down?",
            "Your app is not affected: the SDK never raises into your code and never waits on the network. Calls "
            "are queued in memory (up to 10,000 calls and 16 MiB) and each batch is retried 6 times over 15 to 30 "
            "seconds; after that it is dropped and counted (`llmobserve.stats()`). Nothing is written to "
            "disk, so what could not be delivered in that time is lost."),
        Faq("faq-overhead", "Does it slow my app down?",
            "A hooked call costs a few microseconds on your thread (detect, enqueue); reading the usage and "
            "uploading happen on the SDK's background thread, in batches, compressed."),
        Faq("faq-python", "Which Python versions does the SDK support?",
            "Python 3.9 and newer; its one dependency is `msgspec`. Install it with "
            f"`{install_command(public_url, SDK_DIR)}`."),
    )


@lru_cache(maxsize=4)
def docs(public_url: str) -> Docs:
    """The docs for the server at ``public_url`` (its address appears in the commands and samples)."""
    public_url = public_url.rstrip("/")
    return Docs(_sections(public_url), _faq(public_url), registry_providers())
