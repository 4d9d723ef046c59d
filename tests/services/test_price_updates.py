"""PRICING_URL: the document served by a local server is validated entry by entry, its valid entries priced with
(and traceable), a bad fetch rejected with the reason while the last accepted data stays in force."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import pytest
import sqlalchemy as sa

import pricing
from llmobserve_app.db import session_scope
from llmobserve_app.models import Event
from llmobserve_app.services import price_updates
from llmobserve_app.services.ingest.store import ingest_events
from tests.factories import event

GOOD = {"format": 1, "version": "2026-12-01.1", "providers": [{"id": "openai", "models": [
    {"id": "gpt-4o", "prices": {"input_mtok": "2", "output_mtok": "8"}},
    {"id": "broken-model", "prices": {"input_mtok": "-1"}},
    {"id": "another-broken", "prices": {"unknown_key": "1"}},
]}]}
MILLION_IN = {"input_tokens": 1_000_000}


class _Files(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.status, self.body = 200, b""
        Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/prices.json"


class _Handler(BaseHTTPRequestHandler):
    server: _Files

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(self.server.status)
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)


@pytest.fixture
def files(fetched_prices) -> Iterator[_Files]:
    """A local PRICING_URL server; ``fetched_prices`` deletes what the test accepted afterwards."""
    server = _Files()
    yield server
    server.shutdown()
    server.server_close()


def _serve(files: _Files, body: Any, status: int = 200) -> None:
    files.status, files.body = status, body if isinstance(body, bytes) else json.dumps(body).encode()


def test_valid_entries_are_priced_with_and_bad_ones_named(engine, files, make_account) -> None:
    _serve(files, GOOD)
    update = price_updates.update_from_url(engine, files.url)
    assert (update.status, update.version, update.accepted_entries) == ("accepted", "2026-12-01.1", 1)
    assert "model 'broken-model': periods[0].prices.input_mtok: expected a finite number >= 0" in update.problems
    assert "model 'another-broken'" in update.problems and "unknown price key" in update.problems
    cost = pricing.compute_cost("openai", "gpt-4o-2024-08-06", MILLION_IN)  # the bundled match rule is kept
    assert (cost.usd, cost.price_id) == (D("2"), "remote:openai/gpt-4o@base#2026-12-01.1")
    assert pricing.compute_cost("openai", "gpt-4o-mini", MILLION_IN).usd == D("0.15")  # the rest: bundled

    tenant, _, _ = make_account()
    with session_scope(engine) as session:
        ingest_events(session, tenant, [event("remote-1", provider="openai", model="gpt-4o", usage=MILLION_IN)])
        stored = session.execute(sa.select(Event.cost_nanos, Event.price_id).where(Event.tenant_id == tenant)).one()
    assert tuple(stored) == (2_000_000_000, "remote:openai/gpt-4o@base#2026-12-01.1")


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (200, b"<html>not json</html>", "invalid JSON"),
        (404, b"gone", "HTTP 404"),
        (200, {"format": 2, "providers": []}, "format: unsupported 2"),
        (200, {"providers": [{"id": "openai", "models": [{"id": "x", "prices": {"input_mtok": "-3"}}]}]},
         "no valid price entry"),
    ],
)
def test_bad_data_is_rejected_with_the_reason_and_the_last_good_kept(engine, files, status, body, reason) -> None:
    _serve(files, GOOD)
    good = price_updates.update_from_url(engine, files.url)
    _serve(files, body, status)
    bad = price_updates.update_from_url(engine, files.url)
    assert bad.status == "rejected" and reason in bad.problems and bad.document is None
    assert pricing.compute_cost("openai", "gpt-4o", MILLION_IN).price_id.startswith("remote:")
    with session_scope(engine) as session:
        shown = price_updates.status(session)
    assert (shown.source, shown.version, shown.as_of) == (files.url, "2026-12-01.1", good.fetched_at)
    assert reason in shown.last_problem


def _gpt_4o_input_usd() -> D | None:
    return pricing.compute_cost("openai", "gpt-4o", MILLION_IN).usd


def _eventually(expected: D, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while _gpt_4o_input_usd() != expected:
        assert time.monotonic() < deadline, f"still {_gpt_4o_input_usd()}, not {expected}"
        time.sleep(0.01)


def test_every_process_applies_the_newest_accepted_data(engine, files, fetched_prices) -> None:
    _serve(files, GOOD)
    price_updates.update_from_url(engine, files.url)
    price_updates.forget_applied_for_tests()  # another server process: started with the bundled data
    assert _gpt_4o_input_usd() == D("2.5")
    with price_updates.refreshing(engine, interval=0.05) as thread:
        assert _gpt_4o_input_usd() == D("2")  # applied at start-up, before the server takes a request
        fetched_prices("2026-12-02.1", "3")  # accepted later by the process holding the job lease
        _eventually(D("3"))
    assert not thread.is_alive()
    assert pricing.compute_cost("openai", "gpt-4o", MILLION_IN).price_id == "remote:openai/gpt-4o@base#2026-12-02.1"
    assert not price_updates.apply_latest(engine)  # already in force: the registry is not rebuilt again


def test_the_refresh_thread_outlives_database_errors(tmp_path, fetched_prices) -> None:
    broken = sa.create_engine(f"sqlite:///{tmp_path / 'no-tables.db'}")  # no price_data_updates table
    with price_updates.refreshing(broken, interval=0.01) as thread:
        time.sleep(0.2)
        assert thread.is_alive()  # each failed check was logged, and the next one came
    assert _gpt_4o_input_usd() == D("2.5")
