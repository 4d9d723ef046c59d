"""The HTTP API the SDK talks to (FastAPI), mounted into the Reflex backend on the same port."""

from ingest_api.app import create_ingest_app, start_writer

__all__ = ["create_ingest_app", "start_writer"]
