"""The SDK served by this server: a PEP 503 simple index (``/sdk/simple/llmobserve/``) and its wheel.

``pip install --index-url <API_URL>/sdk/simple/ llmobserve`` installs the SDK of exactly this server's version.
The wheel is built from ``sdk/`` on the first request (about a second) and cached in the data folder.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from ingest_api.deps import ApiProblem
from llmobserve_app.services import sdk_package
from llmobserve_app.settings import REPO_ROOT, get_settings

SDK_SOURCE = REPO_ROOT / "sdk"
router = APIRouter(include_in_schema=False)
logger = logging.getLogger(__name__)


def _cache_dir() -> Path:
    return get_settings().data_dir / "sdk-wheels"


def _build_logging_failures() -> None:
    try:
        sdk_package.sdk_wheel(SDK_SOURCE, _cache_dir())
    except (sdk_package.SdkBuildError, OSError):
        logger.exception("building the SDK wheel failed; /sdk/simple/ will try again on its next request")


def build_in_background() -> None:
    """Build (or find in the cache) the SDK's wheel as the server starts, so the first `pip install` does not wait
    for it and a broken build shows in the log at once."""
    threading.Thread(target=_build_logging_failures, name="sdk-wheel", daemon=True).start()


async def _wheel() -> sdk_package.SdkWheel:
    return await run_in_threadpool(sdk_package.sdk_wheel, SDK_SOURCE, _cache_dir())


@router.get(sdk_package.INDEX_PATH)
async def index_root() -> HTMLResponse:
    return HTMLResponse(sdk_package.root_page())


@router.get(sdk_package.INDEX_PATH.rstrip("/"))
async def index_root_without_slash() -> RedirectResponse:
    return RedirectResponse(sdk_package.INDEX_PATH, status_code=301)


@router.get(sdk_package.INDEX_PATH + "{project}/")
async def project(project: str) -> HTMLResponse:
    # PEP 503 normalised name; pip asks for /llmobserve/ — any other project is not served here.
    if project.lower().replace("_", "-").replace(".", "-") != sdk_package.DIST_NAME:
        raise ApiProblem(404, "not_found", f"this index serves only {sdk_package.DIST_NAME}")
    return HTMLResponse(sdk_package.project_page(await _wheel()))


@router.get(sdk_package.FILES_PATH + "{filename}")
async def wheel_file(filename: str) -> FileResponse:
    wheel = await _wheel()
    if filename != wheel.filename:
        raise ApiProblem(404, "not_found", f"no such file; the SDK's wheel is {wheel.filename}")
    return FileResponse(wheel.path, media_type="application/octet-stream", filename=wheel.filename)
