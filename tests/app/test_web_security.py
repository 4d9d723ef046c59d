"""Browser-facing protections, in process: allowed origins, the headers middleware, Plotly text, date bounds.

The same protections are checked against the running app in tests/e2e/test_web_security.py.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import plotly.graph_objects as go
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

import llmobserve_app
from llmobserve_app.db import session_scope
from llmobserve_app.services import analytics
from llmobserve_app.services.ingest.store import ingest_events
from llmobserve_app.services.time_range import resolve_range
from llmobserve_app.settings import ConfigError, cors_origins
from llmobserve_app.state.formatting import cost_lines, plotly_text
from llmobserve_app.web_security import SecurityHeadersMiddleware, content_security_policy, inline_script_hashes
from tests.factories import event

APP = "http://localhost:8000"
OTHER = "https://dash.example.com"


@pytest.mark.parametrize(("api_url", "configured", "expected"), [
    (None, None, ("http://localhost:8000",)),
    ("https://obs.example.com/", None, ("https://obs.example.com",)),
    ("https://obs.example.com:443", " https://A.example.com:8443/ ,http://b.example.com:80,",
     ("https://obs.example.com", "https://a.example.com:8443", "http://b.example.com")),
])
def test_allowed_origins_are_the_app_plus_cors_origins(monkeypatch, api_url, configured, expected) -> None:
    monkeypatch.delenv("PORT", raising=False)
    for name, value in (("API_URL", api_url), ("CORS_ORIGINS", configured)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert cors_origins() == expected


@pytest.mark.parametrize("configured", ["*", "https://a.example.com/path", "ftp://a.example.com", "localhost"])
def test_wildcards_and_non_origins_are_refused(monkeypatch, configured) -> None:
    monkeypatch.setenv("CORS_ORIGINS", configured)
    with pytest.raises(ConfigError, match="CORS_ORIGINS"):
        cors_origins()


def _app(**options) -> SecurityHeadersMiddleware:
    """Starlette routes under Reflex's CORS middleware (as rxconfig configures it), wrapped as the app does."""
    async def export(request: Request) -> PlainTextResponse:
        return PlainTextResponse("secret rows")

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    inner = Starlette(routes=[Route("/api/export/runs.csv", export), Route("/v1/healthz", health)])
    inner.add_middleware(CORSMiddleware, allow_credentials=True, allow_methods=["*"], allow_headers=["*"],
                         allow_origins=[APP, OTHER])
    return SecurityHeadersMiddleware(inner, api_url=options.pop("api_url", APP), **options)


async def _aget(app, path, **kwargs) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=kwargs.pop("client", ("127.0.0.1", 5000)))
    async with httpx.AsyncClient(transport=transport, base_url=kwargs.pop("base", "http://testserver")) as client:
        return await client.request(kwargs.pop("method", "GET"), path, **kwargs)


def _get(app: SecurityHeadersMiddleware, path: str, **kwargs) -> httpx.Response:
    return asyncio.run(_aget(app, path, **kwargs))


def test_every_response_carries_the_security_headers() -> None:
    app = _app()
    for path in ("/api/export/runs.csv", "/v1/healthz", "/nowhere"):
        response = _get(app, path)
        csp = response.headers["content-security-policy"]
        for directive in ("default-src 'self'", "object-src 'none'", "base-uri 'self'", "form-action 'self'",
                          "frame-ancestors 'none'", "connect-src 'self' http://localhost:8000 ws://localhost:8000"):
            assert directive in csp, (path, csp)
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert "strict-transport-security" not in response.headers  # plain http, no trusted proxy
    # FastAPI's Swagger page alone may load its CDN bundle; it still cannot be framed.
    docs = _get(app, "/api/docs").headers["content-security-policy"]
    assert "https://cdn.jsdelivr.net" in docs and "frame-ancestors 'none'" in docs


def test_hsts_over_https_only() -> None:
    forwarded = {"X-Forwarded-Proto": "https"}
    trusted = [ipaddress.ip_network("127.0.0.1")]
    assert "strict-transport-security" in (_get(_app(), "/v1/healthz", base="https://t")).headers
    assert "strict-transport-security" in (_get(_app(api_url="https://o.example.com"), "/v1/healthz")).headers
    behind_proxy = _app(trusted_proxies=trusted)
    assert (_get(behind_proxy, "/v1/healthz", headers=forwarded)).headers["strict-transport-security"]
    # The header is believed from a trusted proxy only.
    stranger = _get(behind_proxy, "/v1/healthz", headers=forwarded, client=("203.0.113.9", 5000))
    assert "strict-transport-security" not in stranger.headers


def test_api_key_routes_never_allow_credentials() -> None:
    app = _app()
    preflight = {"Origin": OTHER, "Access-Control-Request-Method": "POST"}
    export = _get(app, "/api/export/runs.csv", headers={"Origin": OTHER})
    assert export.headers["access-control-allow-origin"] == OTHER
    assert export.headers["access-control-allow-credentials"] == "true"
    for response in (_get(app, "/v1/healthz", headers={"Origin": OTHER}),
                     _get(app, "/v1/events", method="OPTIONS", headers=preflight)):
        assert response.headers["access-control-allow-origin"] == OTHER
        assert "access-control-allow-credentials" not in response.headers
        assert "content-security-policy" in response.headers


def test_inline_scripts_of_the_build_are_hashed(tmp_path) -> None:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "index.html").write_text(
        '<script>window.a=1</script><script type="module" async="">import "/x.js";</script>'
        '<script src="/assets/app.js"></script>')
    (tmp_path / "login.html").write_text("<script>window.a=1</script>")
    hashes = inline_script_hashes(tmp_path)
    bodies = (b"window.a=1", b'import "/x.js";')
    expected = [base64.b64encode(hashlib.sha256(body).digest()).decode() for body in bodies]
    assert hashes == sorted(f"'sha256-{digest}'" for digest in expected)  # one per distinct inline script
    policy = content_security_policy("https://o.example.com", hashes)
    assert f"script-src 'self' {' '.join(hashes)};" in policy and "'unsafe-inline'" not in policy.split("style")[0]
    assert "connect-src 'self' https://o.example.com wss://o.example.com" in policy


HOSTILE = ['<a href="https:evil.example">x', "<b>bold</b>", "<i>it</i>", "a & b", "$x^2$", "%{y}", "plain"]


def test_plotly_text_shows_text_as_typed_without_markup() -> None:
    for name in HOSTILE:
        escaped = plotly_text(name)
        assert "<" not in escaped and ">" not in escaped and "$" not in escaped
    assert plotly_text("<b>bold</b> & $5") == "&lt;b&gt;bold&lt;/b&gt; &amp; &#36;5"


def test_chart_figures_carry_no_user_markup() -> None:
    day = datetime(2026, 11, 30, tzinfo=UTC)
    figure: go.Figure = cost_lines({name: [(day, 1_000_000)] for name in HOSTILE})
    for trace in figure.data:
        assert "<" not in trace.name and "$" not in trace.name
        assert trace.hovertemplate == "%{fullData.name} %{x}: %{customdata}<extra></extra>"
        assert list(trace.customdata) == ["$0.001"]  # the hover's money: format_usd's text, no user data
    assert [trace.name for trace in figure.data][:2] == ['&lt;a href="https:evil.example"&gt;x',
                                                         "&lt;b&gt;bold&lt;/b&gt;"]


@pytest.mark.parametrize(("first", "last"), [
    ("9999-12-01", "9999-12-31"), ("9999-01-01", "9999-01-31"), ("0001-01-01", "0001-01-02"),
    ("1969-12-31", "1970-01-05"),
])
def test_custom_ranges_out_of_bounds_fall_back_with_a_message(first, last) -> None:
    window = resolve_range("custom", first, last, now=datetime(2026, 12, 1, 12, tzinfo=UTC))
    assert window.key == "7d"
    assert window.error == "Custom range must lie between 1970-01-01 and 2027-12-02: showing the last 7 days."


def test_agents_trend_from_the_database_is_inert(engine, make_account) -> None:
    """What AgentsState._fetch does: hostile agent names stored by ingest come back escaped in the figure."""
    tenant, _, _ = make_account()
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        ingest_events(session, tenant, [event(section_path=f"agent:{name}", started_at=now.isoformat())
                                        for name in ('<a href="https:evil.example">x', "<b>bold")])
    with session_scope(engine) as session:
        scope = analytics.Scope(tenant, now - timedelta(days=2), now + timedelta(hours=1))
        _, trend = analytics.agents_with_trend(session, scope)
    names = sorted(trace.name for trace in cost_lines(trend).data)
    assert names == ['&lt;a href="https:evil.example"&gt;x', "&lt;b&gt;bold"]


def test_figures_are_built_in_one_place() -> None:
    """Every trace goes through state/formatting.py, where user text passes plotly_text: a figure built elsewhere
    would bypass it."""
    package = Path(llmobserve_app.__file__).parent
    builders = re.compile(r"\bgo\.(Bar|Scatter|Pie|Histogram|Heatmap|Table|Sunburst|Treemap)\b|\bpx\.|add_trace|"
                          r"update_layout|add_annotation")
    offenders = [str(path.relative_to(package)) for path in package.rglob("*.py")
                 if path.name != "formatting.py" and builders.search(path.read_text())]
    assert offenders == []


@st.composite
def _url_dates(draw: st.DrawFn) -> tuple[str | None, str | None]:
    """Two dates a short span apart (anywhere in 1..9999), or any text at all."""
    if draw(st.booleans()):
        return draw(st.one_of(st.none(), st.text(max_size=12))), draw(st.one_of(st.none(), st.text(max_size=12)))
    first = draw(st.dates())
    ordinal = min(max(first.toordinal() + draw(st.integers(-3, 400)), 1), date.max.toordinal())
    return first.isoformat(), date.fromordinal(ordinal).isoformat()


@settings(max_examples=300, deadline=None)
@given(key=st.one_of(st.none(), st.just("custom"), st.text(max_size=8)), dates=_url_dates())
@example(key="custom", dates=("9999-12-01", "9999-12-31"))
def test_any_url_range_resolves_without_raising(key: str | None, dates: tuple[str | None, str | None]) -> None:
    """The filter comes from the URL: whatever it says, the page gets a window (and a message), never an error."""
    window = resolve_range(key, *dates, now=datetime(2026, 12, 1, 12, tzinfo=UTC))
    assert window.start < window.end and window.key in ("custom", "24h", "7d", "30d")
    assert window.end - window.start <= timedelta(days=366)
