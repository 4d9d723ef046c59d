"""The notification services' configuration, taken from the settings (services never read the settings)."""

from __future__ import annotations

from llmobserve_app.services.notifications import DeliveryConfig
from llmobserve_app.settings import Settings, get_settings


def delivery_config(settings: Settings | None = None) -> DeliveryConfig:
    settings = settings or get_settings()
    return DeliveryConfig(sendgrid_api_key=settings.sendgrid_api_key, sendgrid_from=settings.sendgrid_from,
                          sendgrid_api_url=settings.sendgrid_api_url)
