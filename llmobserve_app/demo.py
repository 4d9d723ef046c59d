"""``make demo``: a demo account with 30 days of realistic usage, ingested through the normal ingest path,
and two spending caps with the alerts they fired (through services/caps, like the app's own checks).

Run it again and it prints a fresh password for the same account (data and caps are seeded only once).
"""

from __future__ import annotations

import random
import secrets
import uuid
from datetime import datetime, timedelta

import bcrypt
import sqlalchemy as sa
from sqlmodel import Session, select

from llmobserve_app.db import get_engine, session_scope
from llmobserve_app.delivery_config import delivery_config
from llmobserve_app.models import Cap, Event, User, utcnow
from llmobserve_app.services import accounts, api_keys, notifications
from llmobserve_app.services.caps import checks, crud
from llmobserve_app.services.caps.periods import period_bounds
from llmobserve_app.services.caps.rules import rule_of
from llmobserve_app.services.caps.spend import customer_spends, scope_spends
from llmobserve_app.services.ingest.store import ingest_events
from llmobserve_app.services.money import usd_plain
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


def _event(provider: str, model: str, endpoint: str, usage: dict, started: datetime, ended: datetime, *,
           run_id: str | None, customer: str | None, section: str | None, status_code: int = 200) -> dict:
    """One SDK event as the demo's calls send it."""
    return {"span_id": uuid.uuid4().hex, "run_id": run_id, "started_at": started.isoformat(),
            "ended_at": ended.isoformat(), "provider": provider, "model": model, "endpoint": endpoint,
            "status_code": status_code, "usage": usage, "customer_id": customer, "section_path": section,
            "sdk_version": "demo"}


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
                status_code = 429 if rng.random() < 0.02 else 200
                usage = {"input_tokens": input_tokens,
                         "cached_input_tokens": input_tokens // 2 if rng.random() < 0.3 else 0,
                         "output_tokens": max(0, int(rng.gauss(tokens_out, tokens_out / 3)))}
                events.append(_event(provider, model, endpoint, usage, started, started + latency, run_id=run_id,
                                     customer=customer, section=section, status_code=status_code))
                started += latency
            events.extend(_infra_events(rng, run_id, customer, section, started))
        events.extend(_infra_events(rng, None, None, "batch:nightly_index", day_start, nightly=True))
    return [event for event in events if event["started_at"] <= now.isoformat()]


def _infra_event(rng: random.Random, call: tuple, run_id: str | None, customer: str | None, section: str | None,
                 started: datetime) -> dict:
    provider, model, endpoint, usage = call
    ended = started + timedelta(milliseconds=rng.randint(40, 900))
    return _event(provider, model, endpoint, usage(rng), started, ended, run_id=run_id, customer=customer,
                  section=section)


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


# The caps' limits are set from today's spend so that they show: one near its limit, one over it.
NEAR_LIMIT_PCT = 85  # a customer cap at 85 % of its daily limit: past its 80 % threshold (warning)
OVER_LIMIT_PCT = 120  # a model cap at 120 %: exceeded (alert only, so the demo's own calls are never blocked)


def _limit_usd(spend_nanos: int, percent_of_limit: int) -> str:
    """The limit at which ``spend_nanos`` is ``percent_of_limit`` % of it."""
    return usd_plain(spend_nanos * 100 // percent_of_limit)


def _spend_today(engine: sa.Engine, tenant_id: int, now: datetime) -> tuple[tuple[str, int], tuple[str, int]]:
    """(customer, spend) and (model, spend) that spent the most so far in today's UTC day."""
    today = {"day": period_bounds("day", now)}
    with session_scope(engine) as session:
        customers = customer_spends(session, tenant_id, today, customers=CUSTOMERS)["day"]
        models = scope_spends(session, tenant_id, today, models=True)["day"].models
    top_customer = max(((name, spend.cost_nanos) for name, spend in customers.items()), key=lambda item: item[1],
                       default=(CUSTOMERS[0], 0))
    top_model = max(((name, spend.cost_nanos) for name, spend in models.items()), key=lambda item: item[1],
                    default=(CALL_MIX[0][1], 0))
    return top_customer, top_model


def _call_just_now(now: datetime) -> dict:
    """One priced call in today's UTC day, for a demo run in its first minutes (no spend today yet)."""
    started = max(now - timedelta(seconds=2), period_bounds("day", now)[0])
    return _event("openai", "gpt-4o", "chat", {"input_tokens": 4_000, "output_tokens": 800}, started, started,
                  run_id=uuid.uuid4().hex, customer=CUSTOMERS[0], section="agent:support")


def seed_caps(engine: sa.Engine, tenant_id: int, now: datetime) -> list[Cap]:
    """A daily cap on today's top customer at ~85 % (its threshold alert fired) and a daily alert cap on today's
    top model, exceeded (both levels fired); each alert's email goes through the outbox and is delivered as the
    app's job would (without SendGrid configured, the usual demo set-up, it is recorded as skipped). Does nothing
    when the account already has caps."""
    with session_scope(engine) as session:
        if crud.list_caps(session, tenant_id):
            return []
    (customer, customer_spend), (model, model_spend) = _spend_today(engine, tenant_id, now)
    if not customer_spend or not model_spend:
        with session_scope(engine) as session:
            ingest_events(session, tenant_id, [_call_just_now(now)])
        (customer, customer_spend), (model, model_spend) = _spend_today(engine, tenant_id, now)
    with session_scope(engine) as session:
        caps = [
            crud.create_cap(session, tenant_id, scope="customer", value=customer, period="day",
                            limit_usd=_limit_usd(customer_spend, NEAR_LIMIT_PCT), threshold_pct=80, action="block"),
            crud.create_cap(session, tenant_id, scope="model", value=model, period="day",
                            limit_usd=_limit_usd(model_spend, OVER_LIMIT_PCT), threshold_pct=75, action="alert"),
        ]
    checks.check(engine, [rule_of(cap) for cap in caps], now, memo=None)
    notifications.deliver_due(engine, delivery_config(), utcnow())  # the outbox stamps messages with the clock
    return caps


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
    caps = seed_caps(get_engine(), tenant_id, utcnow())
    if caps:
        print("Seeded caps: " + ", ".join(cap.name for cap in caps) + " (with their alerts).")
    print(f"Demo account ready. Log in at {api_url().rstrip('/')}/login")
    print(f"  email:    {DEMO_EMAIL}\n  password: {password}")


if __name__ == "__main__":
    main()
