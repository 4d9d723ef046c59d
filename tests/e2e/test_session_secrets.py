"""No secret in what Reflex persists: the session cookie is HttpOnly and set by the server, and neither it nor
a shown-once API key ever reaches the pickled State (``REFLEX_STATES_WORKDIR`` of the app under test)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.test_journey import PASSWORD, TIMEOUT_MS, signup

pytestmark = pytest.mark.e2e


def _state_files(app_data_dir: Path) -> list[Path]:
    return [path for path in (app_data_dir / "states").rglob("*") if path.is_file()]


def test_no_secret_in_cookies_scripts_or_state_files(app_url: str, app_data_dir: Path, browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    _, first_key = signup(page, app_url, "Grace")
    cookie = next(c for c in context.cookies() if c["name"] == "llmo_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert "llmo_session" not in page.evaluate("document.cookie")  # no script can read the session
    page.goto(f"{app_url}/settings")
    page.fill("#new-key-name", "second")
    page.click("#create-key")
    second = page.locator("#created-api-key")
    expect(second).to_have_value(re.compile(r"^llmo_sk_"), timeout=TIMEOUT_MS)
    second_key = second.input_value()
    for path in ("/", "/customers", "/runs", "/settings"):  # each page's State is saved after its events
        page.goto(f"{app_url}{path}")
        page.wait_for_load_state("networkidle")
    context.close()  # the disconnect saves the states once more

    files = _state_files(app_data_dir)
    assert files, "the disk state manager wrote no state: the check would prove nothing"
    for path in files:
        data = path.read_bytes()
        for secret in (first_key, second_key, cookie["value"]):
            assert secret.encode() not in data, f"a secret is persisted in {path.name}"
        assert b"llmo_session=" not in data, path.name  # (key prefixes like llmo_sk_AbCdEf… are not secret)
        assert path.stat().st_mode & 0o077 == 0 or (path.parent.stat().st_mode & 0o077) == 0


def test_a_form_posted_from_another_origin_signs_nobody_in(app_url: str) -> None:
    email = f"csrf-{uuid.uuid4().hex[:8]}@example.com"
    response = httpx.post(f"{app_url}/api/auth/signup", data={"name": "x", "email": email, "password": PASSWORD},
                          headers={"Origin": "http://127.0.0.1:1"}, follow_redirects=False)
    assert response.status_code == 403 and response.json()["error"] == "cross_origin_form"
    assert "set-cookie" not in response.headers
