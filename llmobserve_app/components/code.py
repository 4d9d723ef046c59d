"""Code blocks: every snippet on the site gets a copy button."""

from __future__ import annotations

import reflex as rx


def code_snippet(code: str | rx.Var, language: str = "python", **props: object) -> rx.Component:
    """A highlighted code block with a copy button (``aria-label="Copy code"``)."""
    return rx.code_block(code, language=language, can_copy=True, width="100%", wrap_long_lines=True, **props)
