"""Reflex configuration. Port comes from the environment (PORT, default 8000); see README."""

import os

import reflex as rx

PORT = int(os.environ.get("PORT", "8000"))

config = rx.Config(
    app_name="llmobserve_app",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    frontend_port=PORT,
    backend_port=PORT,
    api_url=os.environ.get("API_URL", f"http://localhost:{PORT}"),
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="violet", radius="medium"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
