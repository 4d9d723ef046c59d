"""Browser-facing protections of the running app, probed as an attacker would: another origin on the same host,
hostile names in chart legends, an absurd date range, and the CSP every page must run under."""

from __future__ import annotations

import functools
import http.server
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_journey import TIMEOUT_MS, signup

pytestmark = pytest.mark.e2e
HOSTILE_AGENTS = ['<a href="https:evil.example">x', "<b>bold<i>it"]
SECURITY_HEADERS = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "same-origin"}
CSP_DIRECTIVES = ("default-src 'self'", "object-src 'none'", "base-uri 'self'", "form-action 'self'",
                  "frame-ancestors 'none'")


@pytest.fixture
def other_origin(tmp_path: Path) -> Iterator[str]:
    """A page on another port of the same host, as a hostile local app or a sibling service would be."""
    (tmp_path / "index.html").write_text("<!doctype html><title>elsewhere</title><p>elsewhere</p>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


FETCH = """async (url) => {
    try { const r = await fetch(url, {credentials: 'include'}); return 'read ' + r.status; }
    catch (e) { return 'blocked'; } }"""
OPEN_SOCKET = """(url) => new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.onopen = () => { ws.close(); resolve('open'); };
    ws.onerror = () => resolve('refused');
    setTimeout(() => resolve('timeout'), 10000); })"""


def test_another_origin_cannot_read_exports_or_open_the_event_socket(app_url: str, browser: Browser,
                                                                     other_origin: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    signup(page, app_url, "Cors")
    export = f"{app_url}/api/export/runs.json?range=30d"
    socket = re.sub(r"^http", "ws", app_url) + "/_event/?EIO=4&transport=websocket"
    assert page.evaluate(FETCH, export) == "read 200"  # the app itself, signed in
    assert page.evaluate(OPEN_SOCKET, socket) == "open"

    elsewhere = context.new_page()  # same browser, same cookies, another port
    elsewhere.goto(f"{other_origin}/index.html")
    assert elsewhere.evaluate(FETCH, export) == "blocked"
    assert elsewhere.evaluate(OPEN_SOCKET, socket) == "refused"
    context.close()


def test_cors_answers(app_url: str) -> None:
    stranger = {"Origin": "http://localhost:1"}
    own = {"Origin": app_url}
    refused = httpx.get(f"{app_url}/api/export/runs.csv", headers=stranger)
    assert "access-control-allow-origin" not in refused.headers
    preflight = httpx.options(f"{app_url}/api/export/runs.csv",
                              headers={**stranger, "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in preflight.headers
    allowed = httpx.get(f"{app_url}/api/export/runs.csv", headers=own)
    assert allowed.headers["access-control-allow-origin"] == app_url
    assert allowed.headers["access-control-allow-credentials"] == "true"
    # API-key routes: never with credentials, not even for an allowed origin.
    preflight = {**own, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    for response in (httpx.get(f"{app_url}/v1/healthz", headers=own),
                     httpx.options(f"{app_url}/v1/events", headers=preflight)):
        assert response.headers["access-control-allow-origin"] == app_url
        assert "access-control-allow-credentials" not in response.headers
    assert "access-control-allow-origin" not in httpx.get(f"{app_url}/v1/healthz", headers=stranger).headers


def test_security_headers_on_pages_static_files_and_api(app_url: str) -> None:
    login = httpx.get(f"{app_url}/login/")
    script = re.search(r'src="(/assets/[^"]+\.js)"', login.text) or re.search(r'href="(/assets/[^"]+\.js)"',
                                                                               login.text)
    assert script, login.text[:500]
    responses = [login, httpx.get(f"{app_url}{script.group(1)}"), httpx.get(f"{app_url}/v1/healthz"),
                 httpx.get(f"{app_url}/api/export/runs.csv"), httpx.get(f"{app_url}/no-such-page/"),
                 httpx.get(f"{app_url}/runs/some-run")]
    assert [r.status_code for r in responses] == [200, 200, 200, 401, 404, 200]
    for response in responses:
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (response.url, name)
        csp = response.headers["content-security-policy"]
        assert all(directive in csp for directive in CSP_DIRECTIVES), (response.url, csp)
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        assert "strict-transport-security" not in response.headers  # plain http
    behind_tls_proxy = httpx.get(f"{app_url}/login/", headers={"X-Forwarded-Proto": "https"})  # from loopback
    assert behind_tls_proxy.headers["strict-transport-security"].startswith("max-age=")


def _watch_csp(page: Page) -> list[str]:
    """Every CSP violation the page reports, from the console and from securitypolicyviolation events."""
    seen: list[str] = []
    page.add_init_script("""window.__csp = [];
        document.addEventListener('securitypolicyviolation',
            (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));""")
    page.on("console", lambda message: seen.append(message.text)
            if "Content Security Policy" in message.text else None)
    return seen


def _seed_hostile(app_url: str, key: str) -> None:
    now = datetime.now(UTC)
    events = [{
        "span_id": f"h{index}-{uuid.uuid4().hex[:6]}", "run_id": f"hostile-{index}",
        "started_at": (now - timedelta(days=index % 3)).isoformat(), "ended_at": now.isoformat(),
        "provider": "openai", "model": "gpt-4o-mini", "status_code": 200,
        "usage": {"input_tokens": 1000, "output_tokens": 100}, "customer_id": "<b>cust",
        "section_path": f"agent:{HOSTILE_AGENTS[index % 2]}/tool:<i>t",
    } for index in range(12)]
    response = httpx.post(f"{app_url}/v1/events", json={"events": events}, headers={"Authorization": f"Bearer {key}"},
                          timeout=60)  # the first batch starts the SQLite writer process
    assert response.status_code == 200 and response.json()["accepted"] == 12, response.text


def test_pages_run_under_the_csp_and_show_hostile_names_as_text(app_url: str, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    console = _watch_csp(page)
    _, key = signup(page, app_url, "Csp")
    _seed_hostile(app_url, key)
    paths = ["/", "/customers?range=30d", "/customers/%3Cb%3Ecust?range=30d", "/agents?range=30d",
             "/runs?range=30d", "/runs/hostile-0", "/llms?range=30d", "/infrastructure?range=30d",
             "/costs?range=30d&group_by=customer", "/insights", "/settings", "/onboarding"]
    for path in paths:
        page.goto(f"{app_url}{path}")
        page.wait_for_load_state("networkidle")
        expect(page.locator("#user-menu")).to_be_visible(timeout=TIMEOUT_MS)  # rendered by React: scripts ran
        assert page.evaluate("window.__csp") == [], path
    assert console == []

    page.goto(f"{app_url}/agents?range=30d")
    legend = page.locator(".js-plotly-plot .legend")
    expect(legend).to_contain_text(HOSTILE_AGENTS[0], timeout=TIMEOUT_MS)  # shown as typed...
    expect(legend).to_contain_text(HOSTILE_AGENTS[1])
    assert legend.locator("a").count() == 0  # ...and not as a link
    assert legend.locator("[style*='font-weight:bold'], [style*='font-style:italic']").count() == 0
    point = page.locator(".js-plotly-plot .scatterlayer .trace").first.locator(".point").first
    point.hover(force=True)  # Plotly listens on its drag layer, which covers the points
    hover = page.locator(".js-plotly-plot .hoverlayer")
    expect(hover).to_contain_text(re.compile(r"(<a href=\"https:evil\.example\">x|<b>bold<i>it) \w{3} \d{2}: \$"))
    assert hover.locator("a").count() == 0
    context.close()


def test_a_custom_range_in_year_9999_shows_a_message(app_url: str, browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    signup(page, app_url, "Future")
    for path in ("/runs", "/agents", "/customers", "/"):
        page.goto(f"{app_url}{path}?range=custom&from=9999-12-01&to=9999-12-31")
        expect(page.locator("#filter-error")).to_contain_text("Custom range must lie between", timeout=TIMEOUT_MS)
        expect(page.get_by_role("alert")).to_have_count(0)
    # The export API does not fall back: it names the parameter (tests/ingest_api/test_api_hardening.py has the cases).
    response = context.request.get(f"{app_url}/api/export/runs.csv?range=custom&from=9999-12-01&to=9999-12-31")
    assert response.status == 422 and response.json()["error"] == "invalid_range"
    assert "Custom range must lie between" in response.json()["detail"]
    context.close()
