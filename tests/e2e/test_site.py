"""The public site and a newcomer's first run, in Chromium against the real app: the landing page, /docs, the
redirect to /login?next= and back, and the SDK installed in a fresh virtualenv with exactly the command onboarding
shows, whose call then shows up priced."""

from __future__ import annotations

import os
import re
import subprocess
import sysconfig
import time
import venv
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from llmobserve_app.docs_content import PROVIDERS_ID
from llmobserve_app.services.money import format_usd, usd_to_nanos
from llmobserve_app.services.sdk_package import sdk_version
from llmobserve_app.settings import SDK_DIR
from pricing import default_registry
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_journey import PASSWORD, TIMEOUT_MS, signup
from tests.e2e.test_pages import charts_drawn
from tests.sdk.fakes.servers import ProviderServer

pytestmark = pytest.mark.e2e
INSTALL_TIMEOUT_S = 180


def _install_command(app_url: str) -> str:
    """The command every page must show: pip install of the wheel's URL on this server, the version sdk/'s."""
    return f"pip install {app_url}/sdk/files/llmobserve-{sdk_version(SDK_DIR)}-py3-none-any.whl"


def _copy_buttons_match_code_blocks(page: Page) -> None:
    blocks = page.locator("pre").count()
    assert blocks > 0
    assert page.locator('button[aria-label="Copy code"]').count() == blocks


def test_landing_page_for_a_visitor(app_url: str, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(app_url)
    expect(page.locator("#landing-title")).to_be_visible(timeout=TIMEOUT_MS)
    assert re.fullmatch(rf"{re.escape(app_url)}/?", page.url)  # a visitor stays on /, not sent to /login
    expect(page.locator("#landing-snippet")).to_contain_text(_install_command(app_url))
    expect(page.locator("#landing-snippet")).to_contain_text(f'collector_url="{app_url}"')
    expect(page.locator("#landing-pricing")).to_contain_text("$8 a month")
    expect(page.locator("#landing-pricing")).to_contain_text("Free")
    screenshot = page.locator("#landing-screenshot")
    expect(screenshot).to_be_visible()
    page.wait_for_function("document.querySelector('#landing-screenshot').naturalWidth > 0", timeout=TIMEOUT_MS)
    assert page.locator(".landing-feature").count() >= 4
    _copy_buttons_match_code_blocks(page)
    page.screenshot(path=ARTIFACTS / "site-landing.png", full_page=True)
    page.click("#cta-signup")
    page.wait_for_url(re.compile(r".*/signup/?$"), timeout=TIMEOUT_MS)
    page.screenshot(path=ARTIFACTS / "site-signup.png", full_page=True)
    page.goto(f"{app_url}/login")
    expect(page.locator("#submit")).to_be_visible(timeout=TIMEOUT_MS)
    page.screenshot(path=ARTIFACTS / "site-login.png", full_page=True)
    page.close()


def test_docs_are_public_searchable_and_generated(app_url: str, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{app_url}/docs")
    providers = len(default_registry().providers)
    expect(page.locator("#provider-count")).to_have_text(f"{providers} providers", timeout=TIMEOUT_MS)
    expect(page.locator(".provider-item")).to_have_count(providers)
    faq_count = page.locator(".faq-item").count()
    assert faq_count >= 11
    for section in ("quick-start", "install", "customers", "agents", "streaming", "exports", "caps", "self-hosting",
                    "frameworks", "troubleshooting"):
        expect(page.locator(f"#{section}")).to_be_visible()
    expect(page.locator("#install")).to_contain_text(_install_command(app_url))
    expect(page.locator("#caps")).to_contain_text(f'LLMOBSERVE_URL = "{app_url}"')  # the example: this server
    expect(page.locator("#caps")).to_contain_text("BudgetExceededError")
    contents = [href.partition("#")[2] for href in page.locator(".docs-contents-link").evaluate_all(
        "links => links.map(link => link.getAttribute('href'))")]
    body = page.locator(".docs-section, #faq").evaluate_all("parts => parts.map(part => part.id)")
    assert contents == body and body[-1] == "faq" and PROVIDERS_ID in body  # one order for both
    _copy_buttons_match_code_blocks(page)
    page.screenshot(path=ARTIFACTS / "site-docs.png", full_page=True)

    page.fill("#docs-search", "revoked")
    expect(page.locator("#troubleshooting")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#streaming")).to_have_count(0)
    expect(page.locator(".provider-item")).to_have_count(0)
    assert 1 <= page.locator(".faq-item").count() < faq_count
    page.screenshot(path=ARTIFACTS / "site-docs-search.png", full_page=True)
    page.fill("#docs-search", "zzz-nothing-matches")
    expect(page.locator("#docs-no-match")).to_be_visible(timeout=TIMEOUT_MS)
    page.fill("#docs-search", "")  # everything back
    expect(page.locator(".faq-item")).to_have_count(faq_count, timeout=TIMEOUT_MS)
    expect(page.locator("#streaming")).to_be_visible()
    page.close()


def test_private_page_redirects_to_login_and_back(app_url: str, browser: Browser) -> None:
    newcomer = browser.new_context()
    email, _ = signup(newcomer.new_page(), app_url, "Grace")
    newcomer.close()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{app_url}/costs?range=30d&group_by=model")
    wanted = "/costs/?range=30d&group_by=model"  # the static server adds the page's trailing slash first
    page.wait_for_url(f"{app_url}/login?next={quote(wanted, safe='')}", timeout=TIMEOUT_MS)
    page.wait_for_load_state("networkidle")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(re.compile(rf".*{re.escape(wanted)}$"), timeout=TIMEOUT_MS)
    expect(page.locator("#nav-user-email")).to_have_text(email, timeout=TIMEOUT_MS)
    page.goto(app_url)  # signed in, / is the dashboard
    expect(page.locator("#empty-state")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#landing-title")).to_have_count(0)
    page.screenshot(path=ARTIFACTS / "site-dashboard-empty.png", full_page=True)
    page.goto(f"{app_url}/settings")
    expect(page.locator("#sdk-setup")).to_contain_text(_install_command(app_url),
                                                       timeout=TIMEOUT_MS)
    expect(page.locator("#pro-tips li")).to_have_count(5)
    page.screenshot(path=ARTIFACTS / "site-settings.png", full_page=True)
    context.close()


def _fresh_venv(path: Path) -> Path:
    """A virtualenv without the system's or this environment's packages (pip included, as `python -m venv`)."""
    venv.EnvBuilder(with_pip=True, system_site_packages=False, clear=True).create(path)
    return path / "bin"


def _venv_env(bin_dir: Path) -> dict[str, str]:
    """The shell a newcomer has: the venv first on PATH, and this machine's usual pip configuration (its index
    resolves the SDK's dependency, msgspec; the SDK itself can come only from the wheel URL the command names)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return {**env, "PATH": f"{bin_dir}:{env.get('PATH', '')}", "VIRTUAL_ENV": str(bin_dir.parent)}


FIRST_CALL = """
import sys
import llmobserve, msgspec, openai
assert llmobserve.__file__.startswith(sys.prefix), llmobserve.__file__  # the SDK pip installed from the server
assert msgspec.__file__.startswith(sys.prefix), msgspec.__file__  # and its dependency, from the usual index
{snippet}
llmobserve.set_customer_id("first-customer")
with llmobserve.section("agent:first-run"):
    reply = openai.OpenAI(base_url=sys.argv[1] + "/v1", api_key="sk-fake").chat.completions.create(
        model="gpt-4o-mini", messages=[{{"role": "user", "content": "hi"}}])
assert reply.choices[0].message.content == "Hello there!"
assert llmobserve.flush(10), llmobserve.stats()
print(llmobserve.stats())
"""


def test_onboarding_install_command_works_in_a_fresh_venv(app_url: str, browser: Browser,
                                                         tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _, key = signup(page, app_url, "Newcomer")
    command = page.locator("#install-command pre").inner_text().strip()
    snippet = page.locator("#setup-guide pre").nth(1).inner_text().strip()
    assert command == _install_command(app_url)
    assert f'collector_url="{app_url}"' in snippet and 'api_key="llmo_sk_..."' in snippet

    bin_dir = _fresh_venv(tmp_path / "venv")
    started = time.monotonic()
    installed = subprocess.run(command, shell=True, env=_venv_env(bin_dir), capture_output=True, text=True,
                               timeout=INSTALL_TIMEOUT_S, cwd=tmp_path)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert time.monotonic() - started < 60
    assert "Successfully installed" in installed.stdout and "llmobserve-" in installed.stdout
    assert "msgspec" in installed.stdout
    # The real openai client for the call: taken from this test environment, after the venv's own packages.
    (next((bin_dir.parent / "lib").glob("python3*/site-packages")) / "test-client.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n")

    provider = ProviderServer(flavour="openai")
    try:
        script = tmp_path / "first_call.py"
        # The snippet as the guide says (the key pasted in), plus the one option that makes the loopback fake count
        # as api.openai.com, which the SDK recognises by its host.
        assert snippet.endswith('",\n)')
        observe = snippet.replace("llmo_sk_...", key)[:-1] + f'    provider_hosts={{"{provider.netloc}": "openai"}},\n)'
        script.write_text(FIRST_CALL.format(snippet=observe))
        ran = subprocess.run([str(bin_dir / "python"), str(script), provider.url], env=_venv_env(bin_dir),
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert ran.returncode == 0, ran.stdout + ran.stderr
    finally:
        provider.stop()

    model = "gpt-4o-mini-2024-07-18"  # as the (fake) provider's reply names it
    deadline = time.monotonic() + 20
    rows: dict[str, dict] = {}
    while time.monotonic() < deadline and model not in rows:
        usage = httpx.get(f"{app_url}/v1/usage", params={"group_by": "model"},
                          headers={"Authorization": f"Bearer {key}"}, timeout=30)
        rows = {row["key"]: row for row in usage.json()["rows"]}
        time.sleep(0.5)
    assert model in rows, (rows, ran.stdout)
    row = rows[model]
    assert row["calls"] == 1 and row["unpriced_calls"] == 0 and row["input_tokens"] == 19
    assert Decimal(row["cost_usd"]) > 0
    page.goto(f"{app_url}/?range=24h")
    expect(page.locator("#by-model")).to_contain_text(model, timeout=TIMEOUT_MS)
    expect(page.locator("#kpi-cost-24h")).to_have_text(format_usd(usd_to_nanos(Decimal(row["cost_usd"]))))
    expect(page.locator("#top-agents")).to_contain_text("first-run")
    expect(page.locator("#top-customers")).to_contain_text("first-customer")
    expect(page.locator("#kpi-runs-7d")).to_have_text("1")  # the agent section started a run
    charts_drawn(page, 1)  # a cost this small read "$20µ" on Plotly's own axis
    page.screenshot(path=ARTIFACTS / "site-first-call.png", full_page=True)
    context.close()
