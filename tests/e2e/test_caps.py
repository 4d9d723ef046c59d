"""Spending caps in a real browser against the real app: a $0.10 daily ``block`` cap for customer ``acme`` made
on /settings/caps; the real ``openai`` client with the SDK (against a loopback fake provider) calls until it
crosses; the threshold and the exceeded e-mail each reach a loopback fake SendGrid once through the real
``sendgrid`` client, and a Slack fake gets both; the next ``acme`` call raises BudgetExceededError before any
network I/O, another customer passes; the page shows the cap blocked and each alert's deliveries; the app's
clock moved to the next UTC day lifts the block.

The app is served for this module with SENDGRID_* pointing at the fake and a test-only clock offset file
(``llmobserve_app/clock.py``). It builds its own frontend, so it runs before the package's app starts
(``own_app``: see tests/e2e/conftest.py).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import llmobserve
import openai
import pytest
from playwright.sync_api import Browser, Page, expect

from pricing import compute_cost
from tests.e2e.conftest import ARTIFACTS, REPO, _free_port, app_env, start_app, stop_app
from tests.e2e.test_journey import TIMEOUT_MS, signup
from tests.sdk.fakes import wire
from tests.sdk.fakes.servers import ProviderServer
from tests.services.notifications.fakes import FakeReceiver, FakeSendGrid

pytestmark = [pytest.mark.e2e, pytest.mark.own_app, pytest.mark.timeout(600)]
MESSAGES = [{"role": "user", "content": "hi"}]
PROMPT_TOKENS = 200_000  # gpt-4o-mini input at $0.15 per million: $0.03 a call, so the 4th call crosses $0.10
MODEL = "gpt-4o-mini-2024-07-18"


def _costly_chat_reply() -> bytes:
    reply = json.loads(wire.OPENAI_CHAT)
    reply["usage"] = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": 0, "total_tokens": PROMPT_TOKENS}
    return json.dumps(reply).encode()


@dataclass
class CapsApp:
    url: str
    sendgrid: FakeSendGrid
    slack: FakeReceiver
    clock_offset_file: Path


@pytest.fixture(scope="module")
def caps_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CapsApp]:
    """The app with e-mail through the fake SendGrid, on its own database."""
    data_dir = tmp_path_factory.mktemp("e2e-caps")
    clock_offset_file = data_dir / "clock-offset"
    port = _free_port()
    with FakeSendGrid() as sendgrid, FakeReceiver() as slack:
        env = app_env(port, data_dir, f"sqlite:///{data_dir / 'caps.db'}", REFLEX_STATES_WORKDIR=str(data_dir / "st"),
                      SENDGRID_API_KEY="SG.fake-key", SENDGRID_FROM="alerts@example.com",
                      SENDGRID_API_URL=sendgrid.url, LLMOBSERVE_TEST_CLOCK_OFFSET_FILE=str(clock_offset_file),
                      API_URL=f"http://localhost:{port}")
        subprocess.run([sys.executable, "-m", "llmobserve_app.db", "upgrade"], cwd=REPO, env=env, check=True)
        process = start_app(env, ARTIFACTS / "e2e-caps-server.log")
        try:
            yield CapsApp(f"http://localhost:{port}", sendgrid, slack, clock_offset_file)
        finally:
            stop_app(process)


def _choose(page: Page, trigger: str, option: str) -> None:
    page.click(trigger)
    page.get_by_role("option", name=option).click()


def _create_cap_in_the_ui(page: Page, slack_url: str) -> None:
    page.click("#new-cap")
    expect(page.locator("#cap-form")).to_be_visible(timeout=TIMEOUT_MS)
    page.fill("#cap-name", "acme daily")
    _choose(page, "#cap-scope", "One customer, or * for each customer")
    _choose(page, "#cap-period", "Day (UTC)")
    _choose(page, "#cap-action", "Alert and block calls in the SDK")
    page.fill("#cap-slack_webhook_url", slack_url)
    # Bad input: each refused field is named under its input, and nothing is saved.
    page.fill("#cap-limit", "-1")
    page.click("#save-cap")
    expect(page.locator("#error-value")).to_contain_text("is required for a customer cap", timeout=TIMEOUT_MS)
    page.fill("#cap-value", "acme")
    page.click("#save-cap")
    expect(page.locator("#error-limit_usd")).to_contain_text("must be a positive amount", timeout=TIMEOUT_MS)
    page.fill("#cap-limit", "0.10")
    page.fill("#cap-threshold", "80")
    page.screenshot(path=ARTIFACTS / "caps-01-form.png")
    page.click("#save-cap")
    expect(page.locator("#cap-form")).to_have_count(0, timeout=TIMEOUT_MS)
    card = page.locator(".cap-card")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("acme daily")
    expect(card.locator(".cap-status")).to_have_text("ok")
    expect(card.locator(".cap-spend")).to_contain_text("$0.00 of $0.10")
    expect(card).to_contain_text("customer acme")


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def _not_near_midnight() -> None:
    """A real UTC day boundary mid-test would lift the block early: start after it instead."""
    now = datetime.now(UTC)
    if now.hour == 23 and now.minute >= 58:
        time.sleep((60 - now.minute) * 60 - now.second + 1)


def test_block_cap_made_in_the_ui_alerts_once_and_blocks_in_the_sdk(caps_app: CapsApp, browser: Browser) -> None:
    _not_near_midnight()
    base = caps_app.url
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    email, key = signup(page, base, "Capper")

    page.goto(f"{base}/settings/caps")
    expect(page.locator("#caps-empty")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#caps-email-status")).to_have_count(0)  # e-mail is configured on this app
    page.screenshot(path=ARTIFACTS / "caps-00-empty.png")
    _create_cap_in_the_ui(page, caps_app.slack.url + "/slack-hook")

    cost = compute_cost("openai", MODEL, {"input_tokens": PROMPT_TOKENS}).usd
    assert cost == Decimal("0.03")
    provider = ProviderServer("openai", chat_body=_costly_chat_reply())
    llmobserve.observe(base, api_key=key, flush_interval=0.05, caps_poll_interval=0.2,
                       provider_hosts={provider.netloc: "openai"})
    client = openai.OpenAI(base_url=provider.url + "/v1", api_key="sk-fake", max_retries=0)
    try:
        # acme calls until the cap blocks it: $0.03 each, so the 3rd reaches 80 % and the 4th exceeds $0.10.
        passed, raised = 0, None
        with llmobserve.customer("acme"):
            while raised is None and passed < 10:
                try:
                    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
                    passed += 1
                    llmobserve.flush()  # the reply to this batch carries the block once it is exceeded
                except llmobserve.BudgetExceededError as error:
                    raised = error
        assert passed == 4 and raised is not None, (passed, llmobserve.stats())
        assert (raised.scope, raised.value) == ("customer", "acme")
        assert len(provider.requests) == 4  # the blocked call made no network I/O

        # Another customer passes; acme stays blocked, still before any network I/O.
        with llmobserve.customer("beta"):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        llmobserve.flush()
        with llmobserve.customer("acme"), pytest.raises(llmobserve.BudgetExceededError):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert len(provider.requests) == 5

        # Each level reached the fake SendGrid once (through the real sendgrid client) and the Slack fake once.
        _wait_for(lambda: len(caps_app.sendgrid.requests) >= 2 and len(caps_app.slack.requests) >= 2, 20,
                  "two e-mails and two Slack messages")
        time.sleep(1.5)  # more batches were checked meanwhile (beta's): nothing is sent twice
        mails = [request.json() for request in caps_app.sendgrid.requests]
        assert len(mails) == 2, mails
        assert all(request.headers["authorization"] == "Bearer SG.fake-key" for request in caps_app.sendgrid.requests)
        assert [mail["personalizations"][0]["to"][0]["email"] for mail in mails] == [email, email]
        subjects = sorted(mail["subject"] for mail in mails)
        assert "exceeded its limit" in subjects[0] and "calls are blocked" in subjects[0], subjects
        assert "reached 80% of its limit" in subjects[1], subjects
        assert len(caps_app.slack.requests) == 2
        assert {request.path for request in caps_app.slack.requests} == {"/slack-hook"}

        # The page: blocked, spend over the limit, and the alert history with each channel delivered.
        page.goto(f"{base}/settings/caps")
        card = page.locator(".cap-card")
        expect(card.locator(".cap-status")).to_have_text("blocked", timeout=TIMEOUT_MS)
        expect(card.locator(".cap-spend")).to_contain_text("$0.12 of $0.10 (120%)")
        page.screenshot(path=ARTIFACTS / "caps-02-blocked.png", full_page=True)
        page.click("#open-alerts")
        rows = page.locator(".alert-row")
        expect(rows).to_have_count(2, timeout=TIMEOUT_MS)
        expect(rows.nth(0)).to_contain_text("exceeded")
        expect(rows.nth(1)).to_contain_text("threshold")
        for index in range(2):
            expect(rows.nth(index)).to_contain_text("email: sent · slack: sent", timeout=TIMEOUT_MS)
            expect(rows.nth(index)).to_contain_text("acme daily")
            expect(rows.nth(index)).to_contain_text("customer acme")
        page.screenshot(path=ARTIFACTS / "caps-03-alerts.png")
        page.click("#close-alerts")

        # The dashboard lists the cap at warning or beyond, with a link to the caps page.
        page.goto(f"{base}/")
        expect(page.locator("#dashboard-caps")).to_contain_text("acme daily", timeout=TIMEOUT_MS)
        expect(page.locator("#dashboard-caps .cap-status")).to_have_text("blocked")
        page.screenshot(path=ARTIFACTS / "caps-04-dashboard.png")

        # The next UTC day (the app's test-only clock moved): the SDK's next poll lifts the block.
        now = datetime.now(UTC)
        next_day = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1, minutes=1)
        caps_app.clock_offset_file.write_text(str((next_day - now).total_seconds()))
        _wait_for(lambda: not llmobserve.stats().get("blocked"), 10, "the block to lift")
        with llmobserve.customer("acme"):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert len(provider.requests) == 6
        page.goto(f"{base}/settings/caps")
        expect(card.locator(".cap-status")).to_have_text("ok", timeout=TIMEOUT_MS)
        expect(card.locator(".cap-period-end")).to_contain_text((next_day + timedelta(days=1)).strftime("%Y-%m-%d"))
        page.screenshot(path=ARTIFACTS / "caps-05-next-day.png", full_page=True)
    finally:
        llmobserve.shutdown(2.0)
        provider.stop()
        caps_app.clock_offset_file.unlink(missing_ok=True)

    # Edit: the stored Slack URL is not sent back to the page, and an empty input keeps it; disable, enable.
    page.locator(".edit-cap").click()
    slack_input = page.locator("#cap-slack_webhook_url")
    expect(slack_input).to_have_value("", timeout=TIMEOUT_MS)
    expect(slack_input).to_have_attribute("placeholder", "(set — leave empty to keep it)")
    page.fill("#cap-limit", "0.20")
    page.click("#save-cap")
    expect(card.locator(".cap-spend")).to_contain_text("of $0.20", timeout=TIMEOUT_MS)
    expect(card.locator(".cap-scope")).to_contain_text("alerts: email, Slack")
    page.locator(".disable-cap").click()
    expect(card.locator(".cap-status")).to_have_text("disabled", timeout=TIMEOUT_MS)
    page.locator(".enable-cap").click()
    expect(card.locator(".cap-status")).to_have_text("ok", timeout=TIMEOUT_MS)

    # Delete, confirmed: the empty state again.
    page.locator(".delete-cap").click()
    page.click("#confirm-delete")
    expect(page.locator("#caps-empty")).to_be_visible(timeout=TIMEOUT_MS)
    assert re.search(r"/settings/caps/?$", page.url)
    context.close()
