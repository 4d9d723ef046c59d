"""Notifications: an outbox of e-mails (SendGrid), Slack messages and signed webhooks, and their delivery.

Callers ``enqueue`` in their own transaction; ``deliver_due`` (the scheduled job, or any process right after it
enqueued) sends what is due. Configuration comes in as a ``DeliveryConfig``: services never read the settings.
"""

from llmobserve_app.services.notifications.config import DeliveryConfig, email_configured
from llmobserve_app.services.notifications.delivery import DeliveryReport, deliver_due
from llmobserve_app.services.notifications.outbox import CHANNELS, Delivery, deliveries_for, enqueue
from llmobserve_app.services.notifications.wake import set_sender, wake

__all__ = ["CHANNELS", "Delivery", "DeliveryConfig", "DeliveryReport", "deliver_due", "deliveries_for",
           "email_configured", "enqueue", "set_sender", "wake"]
