"""The whole user journey in a real browser against the real app, over real HTTP."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from llmobserve_app.services.money import format_usd, usd_to_nanos
from pricing import compute_cost
from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e
PASSWORD = "correct horse battery"
TIMEOUT_MS = 20_000


def signup(page: Page, base: str, name: str) -> tuple[str, str]:
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com"
    page.goto(f"{base}/signup")
    page.wait_for_load_state("networkidle")
    page.fill("#name", name)
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/onboarding/?$"), timeout=TIMEOUT_MS)
    key_element = page.locator("#new-api-key")
    expect(key_element).to_have_value(re.compile(r"^llmo_sk_[A-Za-z0-9_-]{43,}$"), timeout=TIMEOUT_MS)
    expect(key_element).to_be_visible()
    return email, key_element.input_value()


def _events(prefix: str) -> list[dict]:
    now = datetime.now(UTC).isoformat()
    calls = [
        ("openai", "gpt-4o-mini", {"input_tokens": 12_000, "output_tokens": 800}),
        ("openai", "gpt-4o", {"input_tokens": 3_000, "cached_input_tokens": 1_000, "output_tokens": 500}),
        ("anthropic", "claude-3-5-haiku-20241022", {"input_tokens": 5_000, "output_tokens": 1_000}),
        ("openai", "some-model-nobody-prices", {"input_tokens": 10, "output_tokens": 10}),
    ]
    return [{"span_id": f"{prefix}-{i}", "run_id": f"{prefix}-run", "started_at": now, "ended_at": now,
             "provider": provider, "model": model, "endpoint": "chat", "status_code": 200, "usage": usage,
             "section_path": "agent:support"} for i, (provider, model, usage) in enumerate(calls)]


def _expected_cost(events: list[dict]) -> str:
    total = 0
    for e in events:
        cost = compute_cost(e["provider"], e["model"], e["usage"])
        total += usd_to_nanos(cost.usd) if cost.priced else 0
    return format_usd(total)


def test_signup_to_logout_journey(app_url: str, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()

    # Sign up: the key is shown once, with the guide.
    email, key = signup(page, app_url, "Ada")
    expect(page.locator("#setup-guide")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "01-onboarding.png", full_page=True)
    page.reload()
    expect(page.get_by_text("shown once already")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#new-api-key")).to_be_hidden()
    assert key not in page.content()
    page.click("#go-to-dashboard")
    expect(page.locator("#empty-state")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#nav-user-email")).to_have_text(email)

    # Send events with that key over HTTP, as the SDK does; a retry is not double-counted.
    events = _events(uuid.uuid4().hex[:8])
    for _ in range(2):
        response = httpx.post(f"{app_url}/v1/events", json={"events": events},
                              headers={"Authorization": f"Bearer {key}"}, timeout=60)
        assert response.status_code == 200, response.text
    assert response.json()["duplicates"] == 4

    page.reload()
    expected = _expected_cost(events)
    expect(page.locator("#kpi-cost-24h")).to_have_text(expected, timeout=TIMEOUT_MS)
    expect(page.locator("#kpi-cost-7d")).to_have_text(expected)
    expect(page.locator("#kpi-calls-7d")).to_have_text("4")
    expect(page.locator("#kpi-runs-7d")).to_have_text("1")
    expect(page.locator("#by-model")).to_contain_text("gpt-4o-mini")
    expect(page.locator("#by-model")).to_contain_text("unpriced")
    expect(page.locator("#by-provider")).to_contain_text("anthropic")
    expect(page.locator("#recent-runs")).to_contain_text(events[0]["run_id"])
    page.screenshot(path=ARTIFACTS / "02-dashboard.png", full_page=True)

    # A second account sees none of it, on any page.
    other = browser.new_context()
    other_page = other.new_page()
    signup(other_page, app_url, "Bob")
    other_page.click("#go-to-dashboard")
    expect(other_page.locator("#empty-state")).to_be_visible(timeout=TIMEOUT_MS)
    assert events[0]["run_id"] not in other_page.content()
    other_page.goto(f"{app_url}/settings")
    expect(other_page.locator(".api-key-row")).to_have_count(1, timeout=TIMEOUT_MS)
    assert key[:14] not in other_page.content() and email not in other_page.content()
    other.close()

    # Settings: account info; revoke the key; the next ingest call is refused.
    page.goto(f"{app_url}/settings")
    expect(page.locator("#account-email")).to_have_text(email, timeout=TIMEOUT_MS)
    expect(page.locator("#api-keys")).to_contain_text(key[:14])
    assert key not in page.content()
    page.fill("#new-key-name", "ci")
    page.click("#create-key")
    expect(page.locator("#created-api-key")).to_have_value(re.compile(r"^llmo_sk_"), timeout=TIMEOUT_MS)
    expect(page.locator(".api-key-row")).to_have_count(2)
    page.screenshot(path=ARTIFACTS / "03-settings.png", full_page=True)
    page.locator(".api-key-row", has_text="Default key").locator(".revoke-key").click()
    expect(page.locator(".api-key-row", has_text="Default key")).to_contain_text("revoked", timeout=TIMEOUT_MS)
    refused = httpx.post(f"{app_url}/v1/events", json={"events": events},
                         headers={"Authorization": f"Bearer {key}"}, timeout=60)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_api_key"

    # Log out from the user menu; private pages now redirect to /login.
    page.click("#user-menu")
    page.click("#logout")
    page.wait_for_url(re.compile(r".*/login/?$"), timeout=TIMEOUT_MS)
    assert not [c for c in context.cookies() if c["name"] == "llmo_session"], "logout clears the cookie"
    page.goto(app_url)  # signed out, / is the landing page
    expect(page.locator("#landing-title")).to_be_visible(timeout=TIMEOUT_MS)
    assert email not in page.content()
    for private in ("/settings", "/onboarding"):
        page.goto(f"{app_url}{private}")
        page.wait_for_url(re.compile(r".*/login/?\?next=.*"), timeout=TIMEOUT_MS)
    assert email not in page.content()

    # Logging back in from /login?next=/onboarding lands on that page: the same account, its key not shown again.
    page.wait_for_load_state("networkidle")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/onboarding/?$"), timeout=TIMEOUT_MS)
    expect(page.get_by_text("shown once already")).to_be_visible(timeout=TIMEOUT_MS)
    page.goto(app_url)
    expect(page.locator("#kpi-cost-24h")).to_have_text(expected, timeout=TIMEOUT_MS)
    context.close()


def test_wrong_password_shows_a_message(app_url: str, browser: Browser) -> None:
    page = browser.new_page()
    page.goto(f"{app_url}/login")
    page.wait_for_load_state("networkidle")
    page.fill("#email", "nobody@example.com")
    page.fill("#password", "not the password")
    page.click("#submit")
    expect(page.get_by_role("alert")).to_contain_text("Incorrect email or password", timeout=TIMEOUT_MS)
    page.close()
