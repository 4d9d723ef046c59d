"""A plain HTML ``<form>`` that the browser itself submits (Reflex's own form always cancels the native submit to
send an event instead). Sign-in and sign-out post to the server this way, so the server alone sets the cookie."""

from __future__ import annotations

import reflex as rx
from reflex_components_core.el.elements.base import BaseHTML


class HtmlForm(BaseHTML):
    tag = "form"

    action: rx.Var[str]
    method: rx.Var[str]


def post_form(action: str, *children: rx.Component, **props: object) -> rx.Component:
    return HtmlForm.create(*children, action=action, method="post", **props)
