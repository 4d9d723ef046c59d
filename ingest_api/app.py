"""The one entry point: ``create_ingest_app`` assembles the API's routers, error handlers and docs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from ingest_api import billing_forms, caps, events, exports, prices, sdk_files, stripe_webhook, usage
from ingest_api.batches import BatchWriter, freeze_startup_heap
from ingest_api.browser_auth import router as browser_auth_router
from ingest_api.deps import install_error_handlers, no_nul_in_query
from ingest_api.writer_process import IngestWriteError
from llmobserve_app import routes
from llmobserve_app.db import get_engine
from llmobserve_app.models import utcnow
from llmobserve_app.services import price_updates

DOCS_ASSETS = routes.API_DOCS + "/assets"
logger = logging.getLogger(__name__)


def start_writer(api: FastAPI) -> None:
    """Start the SQLite writer process as the server starts (a database file only): a fresh server's first
    batches then do not wait seconds for it. A failure is logged; the first batch tries again and says why."""
    try:
        api.state.batch_writer.start_writer()
    except IngestWriteError:
        logger.exception("the SQLite writer process did not start; the first batch will try again")


@asynccontextmanager
async def background_work(api: FastAPI) -> AsyncIterator[None]:
    """What runs beside the API in each server process while it serves: the SQLite writer process, and the
    thread that applies newly accepted PRICING_URL data (``price_updates.refreshing``), off the request path.
    The app's own lifespan when it is served on its own (granian, TestClient); mounted in Reflex, whose top app
    runs only its own lifespan, ``llmobserve_app.py`` registers it as a Reflex lifespan task."""
    start_writer(api)
    with price_updates.refreshing(get_engine(api.state.database_url)):
        yield


def create_ingest_app(database_url: str | None = None, clock: Callable[[], datetime] = utcnow) -> FastAPI:
    """Build the API. ``database_url`` defaults to the settings' (tests pass their own); routes reach it
    through ``app.state`` (``deps.db_engine``). ``clock`` is what "now" is for spending caps (their periods):
    tests pass one they can move to the next day."""
    # Swagger UI's script and stylesheet are served from the installed fastapi-offline package, not a CDN.
    api = FastAPIOffline(
        title="LLM Observe ingest API",
        version="1",
        docs_url=routes.API_DOCS,
        redoc_url=None,
        openapi_url=routes.API_OPENAPI,
        static_url=DOCS_ASSETS,
        dependencies=[Depends(no_nul_in_query)],
        lifespan=background_work,
    )
    api.state.database_url = database_url
    api.state.clock = clock
    api.state.batch_writer = BatchWriter(lambda: get_engine(api.state.database_url))
    install_error_handlers(api)
    api.include_router(events.router)
    api.include_router(caps.router)
    api.include_router(usage.router)
    api.include_router(prices.router)
    api.include_router(exports.router)
    api.include_router(browser_auth_router)
    api.include_router(sdk_files.router)
    api.include_router(stripe_webhook.router)
    api.include_router(billing_forms.router)
    freeze_startup_heap()
    return api
