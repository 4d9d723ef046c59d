"""Scale-out on real engines: two servers of the app on one PostgreSQL database and one Redis.

Each server is what one machine (or one backend worker) runs; the browser goes through a round-robin proxy,
so its page loads and websockets land on both. Bounded: on an idle machine the servers start in about 30 s
(the frontend build dominates; a busy machine may take two minutes) and the tests take about a minute.
"""

from __future__ import annotations

import re
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from llmobserve_app.db import session_scope
from llmobserve_app.jobs import LEASE_NAME
from llmobserve_app.models import ApiKey, Event, TenantUsageHourly, UsageHourly
from llmobserve_app.services import accounts, api_keys, leases
from llmobserve_app.services.api_keys import KEY_CACHE_SECONDS
from tests.scale_out.conftest import LEASE_SECONDS, Cluster

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]
PASSWORD = "correct horse battery"
TIMEOUT_MS = 20_000


def _load(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")  # hydrated, websocket open


def _account(cluster: Cluster) -> tuple[int, str, str]:
    email = f"scale-{uuid.uuid4().hex[:8]}@example.com"
    with session_scope(cluster.engine) as session:
        user = accounts.signup(session, email, PASSWORD, "Scale")
        _, key = api_keys.create_api_key(session, user.id, "k")
    return user.id, email, key


def test_sign_up_and_pages_work_whichever_server_serves_them(cluster: Cluster, browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    first = len(cluster.proxy.websockets)
    _load(page, f"{cluster.url}/signup")
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    page.fill("#name", "Ada")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/onboarding/?$"), timeout=TIMEOUT_MS)
    expect(page.locator("#new-api-key")).to_have_value(re.compile(r"^llmo_sk_"), timeout=TIMEOUT_MS)
    # The page's on_load has run (it fills the nav's email) and its State been saved: the key counts as shown.
    expect(page.locator("#nav-user-email")).to_have_text(email, timeout=TIMEOUT_MS)
    time.sleep(0.5)
    # A reload opens a new websocket, to the other server: it knows the key was shown (State lives in Redis)
    # and who is signed in (the session is in the database).
    page.reload()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_text("shown once already")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#new-api-key")).to_be_hidden()
    page.click("#go-to-dashboard")
    expect(page.locator("#nav-user-email")).to_have_text(email, timeout=TIMEOUT_MS)
    page.reload()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#nav-user-email")).to_have_text(email, timeout=TIMEOUT_MS)
    served = set(cluster.proxy.websockets[first:])
    assert served == {server.port for server in cluster.servers}, cluster.proxy.websockets
    context.close()
    assert cluster.redis.dbsize() > 0  # the State is in Redis…
    for server in cluster.servers:  # …and never on disk
        assert not server.states.exists() or not any(server.states.iterdir()), server.states


def test_logins_work_on_every_server_and_share_one_rate_limit(cluster: Cluster, browser: Browser) -> None:
    """LOGIN_LIMIT_PER_ACCOUNT is 3/minute: attempts alternate between the servers, so neither sees more than
    two of the four; the fourth is refused only because the count is shared (in Redis)."""
    _, email, _ = _account(cluster)
    context = browser.new_context()
    page = context.new_page()
    first = len(cluster.proxy.websockets)

    def attempt(password: str) -> None:
        _load(page, f"{cluster.url}/login")  # a new websocket each time: the other server
        page.fill("#email", email)
        page.fill("#password", password)
        page.click("#submit")

    for _ in range(2):
        attempt("wrong password")
        expect(page.get_by_text("Incorrect email or password.")).to_be_visible(timeout=TIMEOUT_MS)
    attempt(PASSWORD)
    page.wait_for_url(f"{cluster.url}/", timeout=TIMEOUT_MS)  # the dashboard
    expect(page.locator("#nav-user-email")).to_have_text(email, timeout=TIMEOUT_MS)
    context.close()
    context = browser.new_context()
    page = context.new_page()
    attempt(PASSWORD)
    expect(page.get_by_text("Too many login attempts")).to_be_visible(timeout=TIMEOUT_MS)
    context.close()
    assert set(cluster.proxy.websockets[first:]) == {server.port for server in cluster.servers}


def _batch(prefix: str, count: int, started: datetime) -> list[dict]:
    return [{"span_id": f"{prefix}-{n}", "run_id": f"{prefix}-run-{n % 7}", "started_at": started.isoformat(),
             "provider": "openai", "model": "gpt-4o-mini", "endpoint": "chat", "status_code": 200,
             "customer_id": f"c{n % 5}", "usage": {"input_tokens": 1000 + n, "output_tokens": 10}}
            for n in range(count)]


def test_concurrent_ingest_on_both_servers_stores_exact_totals(cluster: Cluster) -> None:
    tenant, _, key = _account(cluster)
    started = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    batches = [_batch(f"b{n}-{uuid.uuid4().hex[:6]}", 200, started + timedelta(minutes=n)) for n in range(24)]
    headers = {"Authorization": f"Bearer {key}"}

    def post(job: tuple[int, list[dict]]) -> tuple[int, int]:
        number, events = job
        accepted = duplicates = 0
        # each batch to one server, then again (an SDK retry) to the other
        for server in (cluster.servers[number % 2], cluster.servers[(number + 1) % 2]):
            reply = httpx.post(f"{server.url}/v1/events", json={"events": events}, headers=headers, timeout=60)
            assert reply.status_code == 200, reply.text
            accepted += reply.json()["accepted"]  # new events only
            duplicates += reply.json()["duplicates"]
        return accepted, duplicates

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(post, enumerate(batches)))
    expected = sum(len(b) for b in batches)
    assert sum(a for a, _ in results) == expected and sum(d for _, d in results) == expected
    tokens = sum(e["usage"]["input_tokens"] for b in batches for e in b)
    with cluster.engine.connect() as connection:
        def one(query: sa.Select) -> int:
            return connection.execute(query).scalar_one()
        assert one(sa.select(sa.func.count()).select_from(Event).where(Event.tenant_id == tenant)) == expected
        assert one(sa.select(sa.func.sum(UsageHourly.calls)).where(UsageHourly.tenant_id == tenant)) == expected
        assert one(sa.select(sa.func.sum(UsageHourly.input_tokens)).where(UsageHourly.tenant_id == tenant)) == tokens
        assert one(sa.select(sa.func.sum(TenantUsageHourly.calls))
                   .where(TenantUsageHourly.tenant_id == tenant)) == expected


def test_a_revoked_key_is_refused_by_every_server_within_the_cache_time(cluster: Cluster) -> None:
    tenant, _, key = _account(cluster)
    headers = {"Authorization": f"Bearer {key}"}
    body = {"events": _batch(uuid.uuid4().hex[:8], 1, datetime.now(UTC))}
    for server in cluster.servers:  # both servers now trust the key for KEY_CACHE_SECONDS
        assert httpx.post(f"{server.url}/v1/events", json=body, headers=headers).status_code == 200
    with session_scope(cluster.engine) as session:  # revoked elsewhere (a third process)
        key_id = session.execute(sa.select(ApiKey.id).where(ApiKey.user_id == tenant)).scalar_one()
        api_keys.revoke_api_key(session, tenant, key_id)
    revoked = time.monotonic()
    refused_after: dict[str, float] = {}
    last_accepted = {server.name: 0.0 for server in cluster.servers}
    while len(refused_after) < len(cluster.servers) and time.monotonic() - revoked < KEY_CACHE_SECONDS + 5:
        for server in cluster.servers:
            if server.name not in refused_after:
                sent = time.monotonic()
                status = httpx.post(f"{server.url}/v1/events", json=body, headers=headers).status_code
                if status == 401:
                    refused_after[server.name] = sent - revoked
                elif status == 200:
                    last_accepted[server.name] = sent - revoked
        time.sleep(0.1)
    assert set(refused_after) == {"a", "b"}, refused_after
    # Within the cache time: no request sent later than that after the revoke was accepted (the first refusal
    # itself may come a poll interval later).
    assert max(last_accepted.values()) <= KEY_CACHE_SECONDS, (last_accepted, refused_after)


def _holder_server(cluster: Cluster, holder: str) -> str:
    """Which server's process tree holds the lease (the holder names its process id)."""
    pid = int(holder.split(":")[1])
    stat = Path(f"/proc/{pid}/stat").read_text()
    session = int(stat[stat.rindex(")") + 2:].split()[3])
    return next(server.name for server in cluster.servers if server.process.pid == session)  # type: ignore[attr-defined]


def test_the_jobs_run_once_and_another_server_takes_over_when_their_holder_dies(cluster: Cluster) -> None:
    """Runs last: it kills one server."""
    holder = leases.current_holder(cluster.engine, LEASE_NAME)
    assert holder is not None
    holding = _holder_server(cluster, holder)
    # Both servers fired the start-up run of the job (and any hourly one since); only the holder ran them.
    logs = {server.name: server.log.read_text() for server in cluster.servers}
    assert "running job warm_range_bases" in logs[holding]
    assert all("running job" not in text for name, text in logs.items() if name != holding), logs
    server = next(server for server in cluster.servers if server.name == holding)
    server.stop(signal.SIGKILL)  # no goodbye: the lease must expire
    deadline = time.monotonic() + LEASE_SECONDS * 3
    while time.monotonic() < deadline:
        successor = leases.current_holder(cluster.engine, LEASE_NAME)
        if successor not in (None, holder):
            break
        time.sleep(0.2)
    assert successor not in (None, holder)
    assert _holder_server(cluster, successor) != holding
