"""A cap's status as a coloured badge: the caps page and the dashboard's caps callout."""

from __future__ import annotations

import reflex as rx

STATUS_COLORS = {"ok": "green", "warning": "amber", "exceeded": "orange", "blocked": "red", "disabled": "gray"}


def status_badge(status: rx.Var) -> rx.Component:
    return rx.match(status, *[(name, rx.badge(name, color_scheme=color, class_name="cap-status"))
                              for name, color in STATUS_COLORS.items()],
                    rx.badge(status, class_name="cap-status"))
