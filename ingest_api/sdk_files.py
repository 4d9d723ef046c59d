"""The SDK's wheel served by this server at ``/sdk/files/<wheel>``: ``pip install <that URL>`` installs it.

The wheel is built from ``sdk/`` on the first request (about a second) and cached in the data folder; its name
carries the version in ``sdk/pyproject.toml``, which is what the install command on every page shows.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from ingest_api.deps import ApiProblem
from llmobserve_app.services import sdk_package
from llmobserve_app.settings import SDK_DIR, get_settings

router = APIRouter(include_in_schema=False)
logger = logging.getLogger(__name__)


def _cache_dir() -> Path:
    return get_settings().data_dir / "sdk-wheels"


def _build_logging_failures() -> None:
    try:
        sdk_package.sdk_wheel(SDK_DIR, _cache_dir())
    except (sdk_package.SdkBuildError, OSError):
        logger.exception("building the SDK wheel failed; /sdk/files/ will try again on its next request")


def build_in_background() -> None:
    """Build (or find in the cache) the SDK's wheel as the server starts, so the first `pip install` does not wait
    for it and a broken build shows in the log at once."""
    threading.Thread(target=_build_logging_failures, name="sdk-wheel", daemon=True).start()


@router.get(sdk_package.FILES_PATH + "{filename}")
async def wheel_file(filename: str) -> FileResponse:
    expected = sdk_package.wheel_filename(sdk_package.sdk_version(SDK_DIR))
    if filename != expected:  # before any build: a wrong name costs nothing
        raise ApiProblem(404, "not_found", f"no such file; the SDK's wheel is {expected}")
    try:
        wheel = await run_in_threadpool(sdk_package.sdk_wheel, SDK_DIR, _cache_dir())
    except sdk_package.SdkBuildError:
        logger.exception("building the SDK wheel failed")
        raise ApiProblem(503, "sdk_unavailable", "the SDK's wheel could not be built; see the server log") from None
    return FileResponse(wheel.path, media_type="application/octet-stream", filename=wheel.filename)
