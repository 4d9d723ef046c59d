"""/settings/prices in a real browser: from the unpriced model on /insights to a pre-filled form, a field error
shown and cleared, a $0 price saved (and used by ingest), the earlier call re-priced, then the price deleted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_journey import TIMEOUT_MS, signup

pytestmark = pytest.mark.e2e
MODEL = "llama3.1:8b"


def _send(app_url: str, key: str) -> None:
    now = datetime.now(UTC).isoformat()
    call = {"span_id": uuid.uuid4().hex, "started_at": now, "ended_at": now, "provider": "ollama", "model": MODEL,
            "endpoint": "chat", "status_code": 200, "usage": {"input_tokens": 900, "output_tokens": 100}}
    reply = httpx.post(f"{app_url}/v1/events", json={"events": [call]}, headers={"Authorization": f"Bearer {key}"},
                       timeout=30)
    assert reply.status_code == 200 and reply.json()["accepted"] == 1, reply.text


def _usage(app_url: str, key: str) -> dict:
    reply = httpx.get(f"{app_url}/v1/usage", params={"group_by": "model"}, headers={"Authorization": f"Bearer {key}"},
                      timeout=30)
    assert reply.status_code == 200, reply.text
    (row,) = [r for r in reply.json()["rows"] if r["key"] == MODEL]
    return row


def test_add_a_price_from_insights_then_delete_it(app_url: str, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    _, key = signup(page, app_url, "Pricer")
    _send(app_url, key)

    page.goto(f"{app_url}/insights")
    link = page.locator("#unpriced-models").get_by_role("link", name=MODEL)
    expect(link).to_be_visible(timeout=TIMEOUT_MS)
    link.click()
    page.wait_for_url("**/settings/prices?provider=ollama&model=llama3.1%3A8b", timeout=TIMEOUT_MS)
    expect(page.locator("#price-provider")).to_have_value("ollama", timeout=TIMEOUT_MS)
    expect(page.locator("#price-model")).to_have_value(MODEL)
    expect(page.locator("#no-custom-prices")).to_be_visible()

    page.fill("#price-input_per_mtok", "free")
    page.fill("#price-output_per_mtok", "0")
    page.click("#save-price")
    error = page.locator("#price-input_per_mtok-error")
    expect(error).to_contain_text("input_per_mtok must be a decimal number", timeout=TIMEOUT_MS)
    page.fill("#price-input_per_mtok", "0")
    expect(error).to_have_count(0, timeout=TIMEOUT_MS)  # editing the field clears its error
    page.click("#save-price")
    row = page.locator(".custom-price-row")
    expect(row).to_have_count(1, timeout=TIMEOUT_MS)
    expect(row).to_contain_text(MODEL)
    expect(row).to_contain_text("ollama")
    expect(page.locator("#price-model")).to_have_value("")  # the form is cleared once saved
    page.screenshot(path=ARTIFACTS / "page-settings-prices.png", full_page=True)

    (saved,) = httpx.get(f"{app_url}/v1/prices", headers={"Authorization": f"Bearer {key}"}).json()["prices"]
    assert (saved["provider"], saved["model"], saved["input_per_mtok"], saved["output_per_mtok"]) == (
        "ollama", MODEL, "0", "0")
    _send(app_url, key)  # priced at $0 now; the first call stays unpriced until re-priced
    assert (_usage(app_url, key)["calls"], _usage(app_url, key)["unpriced_calls"]) == (2, 1)

    page.click("#recalculate")  # offered after the save: calls of the last 30 days
    status = page.locator("#recalc-status")
    expect(status).not_to_have_text("", timeout=TIMEOUT_MS)
    for _ in range(40):
        if "Re-priced" in status.inner_text():
            break
        page.click("#refresh-recalculation")
        page.wait_for_timeout(250)
    expect(status).to_contain_text("2 calls checked, 1 changed", timeout=TIMEOUT_MS)
    expect(status).to_contain_text("unpriced calls 1 → 0")
    assert _usage(app_url, key)["unpriced_calls"] == 0

    page.locator(".delete-price").click()
    expect(page.locator("#no-custom-prices")).to_be_visible(timeout=TIMEOUT_MS)
    assert httpx.get(f"{app_url}/v1/prices", headers={"Authorization": f"Bearer {key}"}).json() == {"prices": []}
    context.close()
