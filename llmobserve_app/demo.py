"""``make demo``: a demo account with 30 days of realistic usage, ingested through the normal ingest path.

Run it again and it prints a fresh password for the same account (data is seeded only once).
"""

from __future__ import annotations

import random
import secrets
import uuid
from datetime import datetime, timedelta

import bcrypt
import sqlalchemy as sa
from sqlmodel import Session, select

from llmobserve_app.db import session_scope
from llmobserve_app.models import Event, User, utcnow
from llmobserve_app.services import accounts, api_keys
from llmobserve_app.services.ingest.store import ingest_events
from llmobserve_app.settings import api_url

DEMO_EMAIL = "demo@llmobserve.local"
DAYS = 30
# (provider, model, endpoint, typical input tokens, typical output tokens, share of calls)
CALL_MIX = [
    ("openai", "gpt-4o-mini", "chat", 1_800, 350, 40),
    ("openai", "gpt-4o", "chat", 3_500, 600, 12),
    ("openai", "text-embedding-3-small", "embeddings", 900, 0, 20),
    ("anthropic", "claude-3-5-haiku-20241022", "messages", 2_500, 500, 15),
    ("anthropic", "claude-sonnet-4-20250514", "messages", 6_000, 900, 6),
    ("google", "gemini-2.0-flash", "generate", 2_000, 400, 7),
]
AGENTS = ["agent:support/tool:search_docs", "agent:support", "agent:research/tool:web_search", "agent:summarizer", None]
# Infrastructure the agents' tools call: (section the call sits in, provider, model, endpoint, usage maker).
INFRA_CALLS = [
    ("tool:search_docs", "pinecone", "serverless", "query",
     lambda rng: {"units": {"read_units": rng.randint(5, 25)}}),
    ("tool:web_search", "tavily", "search-basic", "search", lambda rng: {"requests": 1}),
]
NIGHTLY_UPSERT = ("pinecone", "serverless", "upsert", lambda rng: {"units": {"write_units": rng.randint(2_000, 9_000)}})
TRANSCRIBE = ("deepgram", "nova-3", "transcribe", lambda rng: {"audio_seconds": rng.randint(30, 900)})
CUSTOMERS = [f"cust_{name}" for name in ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka")]


def _random_events(rng: random.Random) -> list[dict]:
    now = utcnow()
    events: list[dict] = []
    weights = [mix[5] for mix in CALL_MIX]
    for day in range(DAYS, -1, -1):
        day_start = now - timedelta(days=day)
        runs = int(rng.gauss(60, 12) * (1 + (DAYS - day) / DAYS))  # usage grows over the month
        for _ in range(max(runs, 5)):
            run_id = uuid.uuid4().hex
            customer = rng.choice(CUSTOMERS)
            section = rng.choice(AGENTS)
            started = day_start - timedelta(seconds=rng.randrange(0, 86_400))
            if started > now:
                continue
            for _ in range(rng.randint(1, 6)):
                provider, model, endpoint, tokens_in, tokens_out, _ = rng.choices(CALL_MIX, weights)[0]
                latency = timedelta(milliseconds=rng.randint(150, 4_000))
                input_tokens = max(1, int(rng.gauss(tokens_in, tokens_in / 3)))
                events.append({
                    "span_id": uuid.uuid4().hex, "run_id": run_id, "started_at": started.isoformat(),
                    "ended_at": (started + latency).isoformat(), "provider": provider, "model": model,
                    "endpoint": endpoint, "status_code": 429 if rng.random() < 0.02 else 200,
                    "usage": {"input_tokens": input_tokens,
                              "cached_input_tokens": input_tokens // 2 if rng.random() < 0.3 else 0,
                              "output_tokens": max(0, int(rng.gauss(tokens_out, tokens_out / 3)))},
                    "customer_id": customer, "section_path": section, "sdk_version": "demo",
                })
                started += latency
            events.extend(_infra_events(rng, run_id, customer, section, started))
        events.extend(_infra_events(rng, None, None, "batch:nightly_index", day_start, nightly=True))
    return [event for event in events if event["started_at"] <= now.isoformat()]


def _infra_event(rng: random.Random, call: tuple, run_id: str | None, customer: str | None, section: str | None,
                 started: datetime) -> dict:
    provider, model, endpoint, usage = call
    return {"span_id": uuid.uuid4().hex, "run_id": run_id, "started_at": started.isoformat(),
            "ended_at": (started + timedelta(milliseconds=rng.randint(40, 900))).isoformat(),
            "provider": provider, "model": model, "endpoint": endpoint, "status_code": 200, "usage": usage(rng),
            "customer_id": customer, "section_path": section, "sdk_version": "demo"}


def _infra_events(rng: random.Random, run_id: str | None, customer: str | None, section: str | None,
                  started: datetime, nightly: bool = False) -> list[dict]:
    """The vector-database, web-search and speech calls around a run (or the nightly index upsert)."""
    if nightly:
        return [_infra_event(rng, NIGHTLY_UPSERT, None, None, section, started)]
    calls = [(provider, model, endpoint, usage) for tool, provider, model, endpoint, usage in INFRA_CALLS
             if section and section.endswith(tool)]
    if rng.random() < 0.04:
        calls.append(TRANSCRIBE)
    return [_infra_event(rng, call, run_id, customer, section, started) for call in calls]


def _demo_user(session: Session, password: str) -> User:
    user = session.exec(select(User).where(User.email == DEMO_EMAIL)).first()
    if user is None:
        user = accounts.signup(session, DEMO_EMAIL, password, "Demo User")
        api_keys.create_api_key(session, user.id, "Demo key")
    else:
        user.password_hash = bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()
        session.add(user)
    return user


def main() -> None:
    password = secrets.token_urlsafe(12)
    with session_scope() as session:
        user = _demo_user(session, password)
        has_events = session.execute(sa.select(Event.id).where(Event.tenant_id == user.id).limit(1)).first()
        tenant_id = user.id
    if not has_events:
        events = _random_events(random.Random(42))
        for offset in range(0, len(events), 500):
            with session_scope() as session:
                ingest_events(session, tenant_id, events[offset:offset + 500])
        print(f"Seeded {len(events):,} calls over {DAYS} days.")
    print(f"Demo account ready. Log in at {api_url().rstrip('/')}/login")
    print(f"  email:    {DEMO_EMAIL}\n  password: {password}")


if __name__ == "__main__":
    main()
