"""A panel for a secret shown once (a new API key, a webhook signing secret): its value is written into the input
by the server's reply (``rx.set_value``) and never held in State, so the panel stays mounted and is only hidden
when not in use."""

from __future__ import annotations

import reflex as rx


def shown_once_panel(input_id: str, visible: rx.Var, message: str, *extra: rx.Component,
                     label: str = "API key") -> rx.Component:
    copy = rx.set_clipboard(rx.Var(f"document.getElementById({input_id!r}).value"))
    panel = rx.callout.root(
        rx.callout.text(rx.text(message, weight="bold")),
        rx.hstack(
            rx.el.input(id=input_id, read_only=True, default_value="", aria_label=label, size=60,
                        spell_check=False, auto_complete="off",
                        style={"font_family": "var(--code-font-family)", "font_weight": "bold", "border": "none",
                               "background": "transparent", "min_width": "min(32em, 100%)"}),
            rx.button(rx.icon("copy", size=14), "Copy", on_click=[copy, rx.toast.success("Copied")],
                      variant="soft", id=f"copy-{input_id}"),
            *extra,
            align="center", wrap="wrap", width="100%",
        ),
        color_scheme="green", width="100%",
    )
    # A plain div: Radix's own box class would outrank a display style.
    return rx.el.div(panel, style={"display": rx.cond(visible, "block", "none"), "width": "100%"})
