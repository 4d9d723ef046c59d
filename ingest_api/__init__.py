"""The HTTP API the SDK talks to (FastAPI), mounted into the Reflex backend on the same port.

``create_ingest_app`` and ``background_work`` are loaded on first use: the SQLite writer process imports
``ingest_api.writer_process`` and should not pay for FastAPI and the routes (seconds of a fresh server's start).
"""

from __future__ import annotations

from typing import Any

__all__ = ["background_work", "create_ingest_app"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from ingest_api import app

        return getattr(app, name)
    raise AttributeError(f"module 'ingest_api' has no attribute {name!r}")
