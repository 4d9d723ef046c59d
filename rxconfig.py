"""Reflex configuration. Port comes from the environment (PORT, default 8000); see README.

With ``REDIS_URL`` set, Reflex keeps every client's State in Redis instead of pickling it to ``.states/`` on
disk, so several backend workers (``WORKERS`` in the Makefile) or machines can serve the same clients.
"""

import reflex as rx

from llmobserve_app.settings import web_settings

WEB = web_settings()  # PORT, API_URL, CORS_ORIGINS, REDIS_URL (validated; no secret needed to build)

config = rx.Config(
    app_name="llmobserve_app",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    frontend_port=WEB.port,
    backend_port=WEB.port,
    api_url=WEB.public_url,
    # Reflex's CORS middlewares and its websocket (/_event) origin check both read this list: only the app's
    # own origin and CORS_ORIGINS, never "*" (Reflex's default), which would echo any Origin with credentials.
    cors_allowed_origins=list(WEB.allowed_origins),
    redis_url=WEB.redis_url,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="violet", radius="medium"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
