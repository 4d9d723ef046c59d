"""The webhook signing secret in a real browser against the real app: created and rotated in Settings, shown
once through the page (never in the pickled State), and used by the app's own delivery job to sign a webhook
that a receiver on loopback verifies. The same page says e-mail is not configured (no SENDGRID_API_KEY)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, expect

from llmobserve_app.db import get_engine, session_scope
from llmobserve_app.models import User
from llmobserve_app.services.notifications import enqueue
from llmobserve_app.services.notifications.webhook import verify_signature
from tests.e2e.test_journey import TIMEOUT_MS, signup
from tests.services.notifications.fakes import FakeReceiver

pytestmark = pytest.mark.e2e
DELIVERY_WAIT_S = 30  # the app's delivery job runs every 5 s


def _wait_for_requests(receiver: FakeReceiver, count: int) -> None:
    deadline = time.monotonic() + DELIVERY_WAIT_S
    while len(receiver.requests) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(receiver.requests) >= count, "the app's delivery job did not send the webhook"


def test_signing_secret_shown_once_signs_the_apps_webhooks(app_url: str, app_data_dir: Path,
                                                           browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    email, _ = signup(page, app_url, "Hook")
    page.goto(f"{app_url}/settings")
    expect(page.locator("#email-status")).to_contain_text("Email is not configured", timeout=TIMEOUT_MS)
    expect(page.locator("#signing-secret-status")).to_contain_text("No secret yet")
    secret_input = page.locator("#webhook-signing-secret")
    expect(secret_input).to_be_hidden()

    page.click("#rotate-signing-secret")
    expect(secret_input).to_have_value(re.compile(r"^whsec_[A-Za-z0-9_-]{43}$"), timeout=TIMEOUT_MS)
    expect(secret_input).to_be_visible()
    first = secret_input.input_value()
    expect(page.locator("#signing-secret-status")).to_contain_text("Current secret created")
    expect(page.locator("#rotate-signing-secret")).to_have_text("Rotate secret")
    page.screenshot(path=Path("test-artifacts") / "settings-webhook-secret.png", full_page=True)

    page.click("#rotate-signing-secret")
    expect(secret_input).not_to_have_value(first, timeout=TIMEOUT_MS)
    second = secret_input.input_value()
    assert second.startswith("whsec_")

    engine = get_engine(f"sqlite:///{app_data_dir / 'e2e.db'}")
    with session_scope(engine) as session:
        tenant = session.execute(sa.select(User.id).where(User.email == email)).scalar_one()
    with FakeReceiver() as receiver:
        with session_scope(engine) as session:
            enqueue(session, tenant_id=tenant, source_kind="e2e_check", source_id=tenant, channel="webhook",
                    target=f"{receiver.url}/hook", subject="Cap exceeded", payload={"level": "exceeded"})
        _wait_for_requests(receiver, 1)
    [request] = receiver.requests
    header = request.headers["x-llmobserve-signature"]
    stamp = int(header.split(",")[0].removeprefix("t="))
    assert verify_signature(second, header, request.body, now=stamp)
    assert not verify_signature(first, header, request.body, now=stamp)

    page.click("#dismiss-signing-secret")
    expect(secret_input).to_be_hidden()
    for path in ("/", "/settings"):  # each page's State is saved after its events
        page.goto(f"{app_url}{path}")
        page.wait_for_load_state("networkidle")
    context.close()  # the disconnect saves the states once more
    files = [path for path in (app_data_dir / "states").rglob("*") if path.is_file()]
    assert files, "the disk state manager wrote no state: the check would prove nothing"
    for path in files:
        data = path.read_bytes()
        assert first.encode() not in data and second.encode() not in data, f"a secret is persisted in {path.name}"
