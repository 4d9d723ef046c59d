"""Billing in a real browser: the hosted app (its STRIPE_* pointing at the fake Stripe) from sign-up to Pro and
back to Free, and a self-hosted app showing no billing at all.

The hosted app is built and served for this module only and stopped before the self-hosted test starts the
package's app (both build the frontend in this checkout, so they must not overlap while pages are in use).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ARTIFACTS, REPO, _free_port, app_env, start_app, stop_app
from tests.e2e.test_journey import signup
from tests.fakes.stripe_server import FakeStripe

pytestmark = pytest.mark.e2e
TIMEOUT_MS = 20_000


@dataclass
class HostedApp:
    url: str
    stripe: FakeStripe


@pytest.fixture(scope="module")
def hosted_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostedApp]:
    fake = FakeStripe()
    data_dir = tmp_path_factory.mktemp("e2e-billing")
    port = _free_port()
    env = app_env(port, data_dir, f"sqlite:///{data_dir / 'billing.db'}", REFLEX_STATES_WORKDIR=str(data_dir / "st"),
                  STRIPE_SECRET_KEY=fake.secret_key, STRIPE_WEBHOOK_SECRET=fake.webhook_secret,
                  STRIPE_PRICE_ID=fake.price_id, STRIPE_API_BASE=fake.url, PROMO_CODES="BETA")
    subprocess.run([sys.executable, "-m", "llmobserve_app.db", "upgrade"], cwd=REPO, env=env, check=True)
    process = start_app(env, ARTIFACTS / "e2e-billing-server.log")
    fake.webhook_url = f"http://localhost:{port}/api/stripe/webhook"
    try:
        yield HostedApp(f"http://localhost:{port}", fake)
    finally:
        stop_app(process)
        fake.stop()


def _expect_after_reloads(page: Page, selector: str, text: str, seconds: float = 20) -> None:
    """The page shows stored state only: reload until the webhook that changes it has been handled."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text in (page.locator(selector).text_content(timeout=TIMEOUT_MS) or ""):
            return
        time.sleep(0.5)
        page.reload()
    expect(page.locator(selector)).to_contain_text(text)


def test_sign_up_skip_upgrade_manage_cancel(hosted_app: HostedApp, browser: Browser) -> None:
    base, stripe = hosted_app.url, hosted_app.stripe
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()

    # After onboarding: the prompt to subscribe; "Skip for now" goes to the dashboard.
    signup(page, base, "Payer")
    page.click("#go-to-dashboard")
    page.wait_for_url(re.compile(r".*/onboarding/subscribe/?$"), timeout=TIMEOUT_MS)
    expect(page.locator("#plan-pro")).to_contain_text("$8")
    page.screenshot(path=ARTIFACTS / "billing-01-prompt.png", full_page=True)
    page.click("#skip-subscribe")
    page.wait_for_url(re.compile(rf"^{re.escape(base)}/?$"), timeout=TIMEOUT_MS)

    # Free: a 30-day range is explained, with an upgrade button, and the last 7 days are shown.
    page.goto(f"{base}/?range=30d")
    notice = page.locator("#range-upgrade-notice")
    expect(notice).to_contain_text("needs Pro", timeout=TIMEOUT_MS)
    expect(notice.locator("#range-upgrade")).to_be_visible()
    expect(page.locator("#range-filter")).to_contain_text("Last 7 days")

    # Upgrade → the fake Checkout → back; Pro appears once Stripe's webhooks have been handled.
    page.goto(f"{base}/settings/subscription")
    expect(page.locator("#subscription-plan")).to_have_text("Free", timeout=TIMEOUT_MS)
    page.click("#upgrade")
    page.wait_for_url(re.compile(rf"^{re.escape(stripe.url)}/checkout/cs_test_\w+$"), timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Pay and subscribe").click()
    page.wait_for_url(re.compile(r".*/settings/subscription/?\?checkout=success$"), timeout=TIMEOUT_MS)
    expect(page.locator("#subscription-plan")).to_have_text("Pro", timeout=TIMEOUT_MS)
    expect(page.locator("#subscription-status")).to_have_text("Active")
    expect(page.locator("#subscription-period")).to_contain_text("Renews on")
    # Whether the webhooks came before the page or while it waited, it no longer says "confirming".
    expect(page.locator("#subscription-notice")).to_contain_text("welcome to Pro", timeout=TIMEOUT_MS)
    deadline = time.monotonic() + 20  # Pro shows after the first of the three webhooks: wait for the others
    while len(stripe.deliveries) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sorted(status for _, status in stripe.deliveries) == [200, 200, 200]
    page.screenshot(path=ARTIFACTS / "billing-02-pro.png", full_page=True)
    page.goto(f"{base}/?range=30d")
    expect(page.locator("#range-filter")).to_contain_text("Last 30 days", timeout=TIMEOUT_MS)
    expect(page.locator("#range-upgrade-notice")).to_have_count(0)

    # Manage billing → the portal of this account's customer → cancel: Pro until the period ends.
    page.goto(f"{base}/settings/subscription")
    page.click("#manage-billing", timeout=TIMEOUT_MS)
    page.wait_for_url(re.compile(rf"^{re.escape(stripe.url)}/portal/bps_\w+$"), timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Cancel subscription").click()
    page.wait_for_url(re.compile(r".*/settings/subscription/?$"), timeout=TIMEOUT_MS)
    _expect_after_reloads(page, "#subscription-period", "Ends on")
    expect(page.locator("#subscription-plan")).to_have_text("Pro")

    # The period ends: Stripe deletes the subscription, and the account is Free again.
    (subscription_id,) = stripe.subscriptions
    stripe.end_period(subscription_id)
    _expect_after_reloads(page, "#subscription-plan", "Free")
    expect(page.locator("#subscription-status")).to_have_text("Canceled")
    expect(page.locator("#upgrade")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "billing-03-canceled.png", full_page=True)
    context.close()


def test_promo_code_and_the_success_redirect_alone(hosted_app: HostedApp, browser: Browser) -> None:
    base = hosted_app.url
    context = browser.new_context()
    page = context.new_page()
    signup(page, base, "Promo")
    # Coming back from Checkout without paying grants nothing.
    page.goto(f"{base}/settings/subscription?checkout=success")
    expect(page.locator("#waiting-for-stripe")).to_be_visible(timeout=TIMEOUT_MS)
    page.wait_for_timeout(3000)
    expect(page.locator("#subscription-plan")).to_have_text("Free")
    page.goto(f"{base}/settings/subscription")
    page.fill("#promo-code", "nope")
    page.click("#apply-promo")
    expect(page.get_by_role("alert")).to_contain_text("not valid", timeout=TIMEOUT_MS)
    page.fill("#promo-code", "beta")
    page.click("#apply-promo")
    expect(page.locator("#subscription-notice")).to_contain_text("Promo code applied", timeout=TIMEOUT_MS)
    expect(page.locator("#subscription-plan")).to_have_text("Pro")
    page.fill("#promo-code", "BETA")
    page.click("#apply-promo")
    expect(page.get_by_role("alert")).to_contain_text("already redeemed", timeout=TIMEOUT_MS)
    context.close()


def test_pricing_is_public(hosted_app: HostedApp, browser: Browser) -> None:
    page = browser.new_page()
    page.goto(f"{hosted_app.url}/pricing")
    expect(page.locator("#plan-free")).to_contain_text("$0", timeout=TIMEOUT_MS)
    expect(page.locator("#plan-pro")).to_contain_text("$8")
    expect(page.locator("#self-hosting-free")).to_be_visible()
    expect(page.locator("#pricing-faq")).to_contain_text("Is self-hosting really free?")
    page.close()


def test_self_hosted_shows_no_billing(app_url: str, browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    signup(page, app_url, "Selfhost")
    page.click("#go-to-dashboard")
    page.wait_for_url(re.compile(rf"^{re.escape(app_url)}/?$"), timeout=TIMEOUT_MS)  # no subscribe prompt
    page.goto(f"{app_url}/?range=30d")
    expect(page.locator("#range-filter")).to_contain_text("Last 30 days", timeout=TIMEOUT_MS)
    expect(page.locator("#range-upgrade-notice")).to_have_count(0)
    page.goto(f"{app_url}/settings")
    expect(page.locator("#account-tier")).to_have_text("Self-hosted", timeout=TIMEOUT_MS)
    expect(page.locator("#subscription-link")).to_have_count(0)
    page.click("#user-menu")
    expect(page.locator("#menu-subscription")).to_have_count(0)
    page.goto(f"{app_url}/settings/subscription")
    expect(page.locator("#self-hosted-notice")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#upgrade")).to_have_count(0)
    page.goto(f"{app_url}/onboarding/subscribe")
    page.wait_for_url(re.compile(rf"^{re.escape(app_url)}/?$"), timeout=TIMEOUT_MS)
    assert httpx.post(f"{app_url}/api/stripe/webhook", content=b"{}", timeout=30).status_code == 404
    context.close()
