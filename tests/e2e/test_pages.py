"""Every analytics page with data, in a real browser: content, the URL-kept filter, drill-downs, exports."""

from __future__ import annotations

import csv
import io
import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_journey import TIMEOUT_MS, signup

pytestmark = pytest.mark.e2e
CUSTOMERS = ["acme", "globex", "initech"]
MONEY_LABEL = re.compile(r"\$\d[\d,]*\.\d+")  # format_usd's: "$0.00", "$0.000005", "$1,500.00"


def charts_drawn(page: Page, expected: int) -> None:
    """Wait until the page's ``expected`` Plotly charts are drawn; their money axes start at $0.00 and read like
    the tables (format_usd), never with an SI suffix such as "$20µ"."""
    page.wait_for_load_state("networkidle")
    charts = page.locator(".js-plotly-plot")
    expect(charts).to_have_count(expected, timeout=TIMEOUT_MS)
    for index in range(expected):
        ticks = charts.nth(index).locator(".ytick text")
        expect(ticks.first).to_have_text("$0.00", timeout=TIMEOUT_MS)
        labels = ticks.all_text_contents()
        assert len(labels) >= 2 and all(MONEY_LABEL.fullmatch(label) for label in labels), labels


def _seed(app_url: str, key: str) -> str:
    """A month of calls across customers, agents, tools, models and Pinecone; returns one run id."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    events = []
    for index in range(300):
        started = now - timedelta(minutes=rng.randrange(0, 60 * 24 * 20))
        provider, model, usage = rng.choice([
            ("openai", "gpt-4o-mini", {"input_tokens": 2000, "output_tokens": 300}),
            ("anthropic", "claude-3-5-haiku-20241022", {"input_tokens": 3000, "output_tokens": 500}),
            ("pinecone", "serverless", {"units": {"read_units": 5}}),
        ])
        events.append({
            "span_id": f"s{index}-{uuid.uuid4().hex[:6]}", "run_id": f"run-{index // 3}",
            "started_at": started.isoformat(), "ended_at": (started + timedelta(milliseconds=800)).isoformat(),
            "provider": provider, "model": model, "status_code": 200, "usage": usage,
            "customer_id": CUSTOMERS[(index // 3) % 3],
            "section_path": rng.choice(["agent:support/tool:search_docs", "agent:research", None]),
        })
    response = httpx.post(f"{app_url}/v1/events", json={"events": events},
                          headers={"Authorization": f"Bearer {key}"}, timeout=60)
    assert response.status_code == 200 and response.json()["accepted"] == 300, response.text
    newest = max(events, key=lambda e: e["started_at"])
    return newest["run_id"]


def test_every_page_with_data(app_url: str, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True)
    page = context.new_page()
    _, key = signup(page, app_url, "Walker")
    run_id = _seed(app_url, key)

    charts = {"/?range=30d": 1, "/agents?range=30d": 1}
    expectations = {
        "/?range=30d": ["#kpi-cost-7d", "#by-provider", "#top-agents", "#top-customers", "#recent-runs"],
        "/customers?range=30d": ["#customers-table", "#kpi-customers"],
        "/agents?range=30d": ["#agents-table"],
        "/runs?range=30d": ["#runs-table"],
        "/llms?range=30d": ["#llms-table"],
        "/infrastructure?range=30d": ["#infrastructure-table"],
        "/costs?range=30d&group_by=customer": ["#costs-table"],
        "/insights": ["#movers", "#untracked-share"],
    }
    for path, selectors in expectations.items():
        page.goto(f"{app_url}{path}")
        for selector in selectors:
            expect(page.locator(selector)).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.get_by_role("alert")).to_have_count(0)
        charts_drawn(page, charts.get(path, 0))
        name = path.strip("/").split("?")[0] or "dashboard"
        page.screenshot(path=ARTIFACTS / f"page-{name}.png", full_page=True)

    page.goto(f"{app_url}/customers?range=30d")
    expect(page.locator("#kpi-customers")).to_have_text("3", timeout=TIMEOUT_MS)
    for customer in CUSTOMERS:
        expect(page.locator("#customers-table")).to_contain_text(customer)
    page.goto(f"{app_url}/infrastructure?range=30d")
    expect(page.locator("#infrastructure-table")).to_contain_text("pinecone", timeout=TIMEOUT_MS)
    page.goto(f"{app_url}/llms?range=30d")
    expect(page.locator("#llms-table")).not_to_contain_text("pinecone", timeout=TIMEOUT_MS)

    # Drill down into a customer; the filter travels in the URL.
    page.goto(f"{app_url}/customers?range=30d")
    page.locator("#customers-table a", has_text="globex").click()
    page.wait_for_url(re.compile(r".*/customers/globex\?range=30d$"), timeout=TIMEOUT_MS)
    expect(page.locator("#customer-title")).to_have_text("globex")
    expect(page.locator("#customer-runs")).to_be_visible(timeout=TIMEOUT_MS)
    charts_drawn(page, 1)
    page.screenshot(path=ARTIFACTS / "page-customer-detail.png", full_page=True)

    # The global customer filter goes into the URL and scopes every page.
    page.goto(f"{app_url}/customers?range=30d")
    page.fill("#customer-filter", "acme")
    page.press("#customer-filter", "Enter")
    page.wait_for_url(re.compile(r".*customer=acme.*"), timeout=TIMEOUT_MS)
    assert parse_qs(urlparse(page.url).query) == {"range": ["30d"], "customer": ["acme"]}
    expect(page.locator("#kpi-customers")).to_have_text("1", timeout=TIMEOUT_MS)
    page.get_by_role("link", name="Costs", exact=True).click()
    page.wait_for_url(re.compile(r".*/costs\?.*customer=acme.*"), timeout=TIMEOUT_MS)
    shared = page.url
    other = context.new_page()  # the same link reproduces the view
    other.goto(shared)
    expect(other.locator("#customer-filter")).to_have_value("acme", timeout=TIMEOUT_MS)
    other.close()

    # Runs: drill into a run's hierarchy and timeline; export runs as CSV.
    page.goto(f"{app_url}/runs?range=30d")
    expect(page.locator("#runs-table")).to_be_visible(timeout=TIMEOUT_MS)
    with page.expect_download() as download_info:
        page.click("#export-runs-csv")
    download = download_info.value
    assert re.fullmatch(r"llmobserve-runs-\d{4}-\d{2}-\d{2}\.csv", download.suggested_filename)
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    assert len(rows) == 100 and rows[0].keys() >= {"run_id", "cost_usd", "customer_id"}
    page.goto(f"{app_url}/runs/{run_id}")
    expect(page.locator("#run-tree .run-node").first).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#run-timeline .timeline-call")).to_have_count(3)
    page.screenshot(path=ARTIFACTS / "page-run-detail.png", full_page=True)
    context.close()


def test_exports_and_pages_refuse_strangers(app_url: str) -> None:
    response = httpx.get(f"{app_url}/api/export/runs.csv", follow_redirects=False)
    assert response.status_code == 401 and response.json()["error"] == "not_signed_in"
    response = httpx.get(f"{app_url}/v1/usage")
    assert response.status_code == 401
