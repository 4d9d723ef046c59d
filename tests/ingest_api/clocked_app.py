"""The ingest app whose clock is a file the test writes (an ISO datetime): a test moves the server's "now"
to the next UTC day without patching anything. Served by granian: ``tests.ingest_api.clocked_app:create_app``."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI

from ingest_api import create_ingest_app


def create_app() -> FastAPI:
    clock_file = Path(os.environ["LLMOBSERVE_TEST_CLOCK_FILE"])
    return create_ingest_app(clock=lambda: datetime.fromisoformat(clock_file.read_text().strip()))
