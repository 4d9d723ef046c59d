"""Reflex configuration. Port comes from the environment (PORT, default 8000); see README."""

import os

import reflex as rx

from llmobserve_app.settings import api_url, cors_origins

PORT = int(os.environ.get("PORT", "8000"))

config = rx.Config(
    app_name="llmobserve_app",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    frontend_port=PORT,
    backend_port=PORT,
    api_url=api_url(),
    # Reflex's CORS middlewares and its websocket (/_event) origin check both read this list: only the app's
    # own origin and CORS_ORIGINS, never "*" (Reflex's default), which would echo any Origin with credentials.
    cors_allowed_origins=list(cors_origins()),
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="violet", radius="medium"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
