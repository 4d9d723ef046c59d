"""The ingest app as a server process of a multi-process installation runs it for spending caps: alerts it
fires are sent at once by this process (``jobs.deliver_notifications_soon``, as the full app's lifespan
registers it), with the SendGrid settings of the environment. Served by granian:
``tests.scale_out.caps_app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from ingest_api import create_ingest_app
from llmobserve_app import jobs
from llmobserve_app.services import notifications


def create_app() -> FastAPI:
    notifications.set_sender(jobs.deliver_notifications_soon)
    return create_ingest_app()
