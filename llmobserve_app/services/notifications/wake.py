"""Who to tell that messages were just enqueued, so they go out within seconds rather than at the next poll.

The app registers its sender (``jobs.deliver_notifications_soon``) at start-up; services call ``wake()`` after
committing new messages. Without a registered sender (tests, scripts) ``wake`` does nothing and the messages
wait for ``deliver_due``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)
_sender: Callable[[], None] | None = None


def set_sender(sender: Callable[[], None] | None) -> None:
    global _sender
    _sender = sender


def wake() -> None:
    if _sender is None:
        return
    try:
        _sender()
    except Exception:  # a failed nudge only delays delivery to the next poll
        logger.exception("could not start notification delivery")
