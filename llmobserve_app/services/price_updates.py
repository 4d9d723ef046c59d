"""Price data updates without a release: the daily fetch of ``PRICING_URL`` (JSON in our bundled format).

``update_from_url`` (the daily job, in the one process holding the job lease) fetches the document, validates
it entry by entry (``pricing.remote``) and records the fetch in ``price_data_updates``: accepted (the valid
entries kept, the others named) or rejected whole with the reason — then the last accepted data stays in
force. Every server process applies the newest accepted document to its own registry with a background thread
(``refreshing``, started with the server, never on a request): at start-up and then every ``REFRESH_SECONDS``,
so a document accepted by any process prices this one's calls within ``REFRESH_SECONDS`` (a minute). A check
reads one id; the document is loaded only when it is newer. ``status`` says what settings shows: prices as of
when, from where.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import Session, select

import pricing
from llmobserve_app.models import PriceDataUpdate
from pricing import PRICE_DATA_VERSION, PricingDataError
from pricing.remote import document_version, parse_remote, validate_entries

logger = logging.getLogger(__name__)
MAX_BYTES = 10 * 1024 * 1024
TIMEOUT_SECONDS = 30.0
REFRESH_SECONDS = 60.0
ACCEPTED, REJECTED = "accepted", "rejected"
_applied: dict[str, int | None] = {"id": None}  # the update this process's registry holds
_lock = threading.Lock()  # one apply at a time: an older document never replaces a newer one


@dataclass(frozen=True)
class PriceDataStatus:
    """What priced calls: the bundled data (and its version), or a fetched document as of ``as_of``."""

    source: str
    version: str
    as_of: datetime | None
    last_fetch: datetime | None = None
    last_problem: str = ""  # the reason of the last rejected fetch, or the entries the last accepted one dropped


def _download(url: str, client: httpx.Client | None) -> bytes:
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=True)
    try:
        with http.stream("GET", url) as response:
            if response.status_code != 200:
                raise PricingDataError(f"{url}: HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise PricingDataError(f"{url}: larger than {MAX_BYTES:,} bytes")
            return bytes(body)
    except httpx.HTTPError as error:
        raise PricingDataError(f"{url}: could not fetch: {type(error).__name__}: {error}") from None
    finally:
        if own:
            http.close()


def _json_default(value: Any) -> str:
    return str(value)  # Decimal prices as decimal strings (the format reads them back exactly)


def update_from_url(engine: sa.Engine, url: str, client: httpx.Client | None = None) -> PriceDataUpdate:
    """Fetch, validate and record ``url``; apply it here when accepted. Never raises for bad data."""
    try:
        raw = _download(url, client)
        doc = parse_remote(raw, url)
        kept, problems = validate_entries(doc, url)
        update = PriceDataUpdate(source=url[:500], status=ACCEPTED, version=document_version(doc, raw),
                                 accepted_entries=sum(len(p["models"]) for p in kept["providers"]),
                                 problems="\n".join(problems), document=json.dumps(kept, default=_json_default))
    except PricingDataError as error:
        update = PriceDataUpdate(source=url[:500], status=REJECTED, problems=str(error))
        logger.warning("PRICING_URL rejected, the last accepted prices stay in force: %s", error)
    with Session(engine) as session, session.begin():
        session.add(update)
        session.flush()
        session.expunge(update)
    if update.status == ACCEPTED:
        apply_latest(engine)
    return update


_NEWEST_FIRST = PriceDataUpdate.id.desc()  # type: ignore[union-attr]


def _latest_accepted(session: Session) -> PriceDataUpdate | None:
    query = select(PriceDataUpdate).where(PriceDataUpdate.status == ACCEPTED)
    return session.exec(query.order_by(_NEWEST_FIRST).limit(1)).first()


def _latest_accepted_id(session: Session) -> int | None:
    query = select(PriceDataUpdate.id).where(PriceDataUpdate.status == ACCEPTED)
    return session.exec(query.order_by(_NEWEST_FIRST).limit(1)).first()


def apply_latest(engine: sa.Engine) -> bool:
    """Make this process price with the newest accepted document (if not already); True when it changed."""
    with _lock, Session(engine) as session:
        latest_id = _latest_accepted_id(session)  # the document (up to 10 MB) is read only when it is new
        if latest_id is None or latest_id == _applied["id"]:
            return False
        latest = session.get(PriceDataUpdate, latest_id)
        assert latest is not None
        origin, version = latest.source, latest.version or "remote"
        pricing.set_remote(json.loads(latest.document or "{}"), origin, version)
        _applied["id"] = latest_id
    logger.info("prices from %s (version %s) in force", origin, version)
    return True


def refresh(engine: sa.Engine) -> None:
    """``apply_latest``; a database or data problem is logged (the current prices stay) and tried again later."""
    try:
        apply_latest(engine)
    except Exception:  # whatever it is, the current prices stay and the refresh thread lives on
        logger.warning("could not apply the fetched price data; the current prices stay in force", exc_info=True)


@contextmanager
def refreshing(engine: sa.Engine, interval: float | None = None) -> Iterator[threading.Thread]:
    """``refresh`` now (before the server takes requests: a fresh process never starts on older prices), then,
    while the block runs, from a daemon thread of this process every ``interval`` seconds (``REFRESH_SECONDS``):
    how each server process follows the documents accepted by whichever process holds the job lease, with no
    query on the ingest path."""
    seconds = REFRESH_SECONDS if interval is None else interval
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(seconds):
            refresh(engine)

    refresh(engine)

    thread = threading.Thread(target=run, name="price-data-refresh", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=10)


def status(session: Session) -> PriceDataStatus:
    latest = _latest_accepted(session)
    last = session.exec(select(PriceDataUpdate).order_by(_NEWEST_FIRST).limit(1)).first()
    last_problem = last.problems.split("\n", 1)[0] if last is not None else ""
    last_fetch = last.fetched_at if last is not None else None
    if latest is None:
        return PriceDataStatus("bundled", PRICE_DATA_VERSION, None, last_fetch, last_problem)
    return PriceDataStatus(latest.source, latest.version or "", latest.fetched_at, last_fetch, last_problem)


def forget_applied_for_tests() -> None:
    """Back to the bundled data in this process (tests that applied a document)."""
    with _lock:
        _applied["id"] = None
        pricing.set_remote(None)

