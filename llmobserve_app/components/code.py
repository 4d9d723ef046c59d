"""Code blocks: every snippet on the site gets a copy button."""

from __future__ import annotations

import reflex as rx


def code_snippet(code: str | rx.Var, language: str = "python") -> rx.Component:
    """A highlighted code block, full width, with a copy button (``aria-label="Copy code"``) in its corner.

    Built here rather than with ``code_block(can_copy=True)``, whose wrapper box shrinks to the code's width and
    lets the button cover the end of a long line."""
    return rx.box(
        rx.code_block(code, language=language, width="100%", wrap_long_lines=True,
                      custom_style={"padding": "1em 3.5em 1em 1em", "margin": "0"}),
        # The button sits in a positioned div: Radix's own button class may override a position set on it.
        rx.box(rx.icon_button(rx.icon("copy", size=14), on_click=rx.set_clipboard(code), aria_label="Copy code",
                              title="Copy", size="1", variant="soft", type="button", class_name="copy-code"),
               position="absolute", top="0.5em", right="0.5em"),
        position="relative", width="100%",
    )
