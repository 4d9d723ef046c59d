"""/onboarding: the new account's API key, shown once, and the set-up guide."""

from __future__ import annotations

import reflex as rx

from llmobserve_app import routes
from llmobserve_app.components.layout import app_frame
from llmobserve_app.components.setup_guide import setup_guide
from llmobserve_app.components.shown_once import shown_once_panel
from llmobserve_app.state.auth import ONBOARDING_KEY_ID, OnboardingState


def _key_panel() -> rx.Component:
    return rx.fragment(
        shown_once_panel(ONBOARDING_KEY_ID, OnboardingState.key_shown,
                         "Your API key. Copy it now: it is shown only once and cannot be shown again."),
        rx.cond(
            OnboardingState.key_shown | ~OnboardingState.checked,
            rx.fragment(),
            rx.callout(
                rx.text("Your first API key was shown once already. Create another one in ",
                        rx.link("Settings", href=routes.SETTINGS), "."),
                icon="key-round", width="100%",
            ),
        ),
    )


def onboarding_page() -> rx.Component:
    return app_frame(
        rx.vstack(
            rx.heading("Welcome to LLM Observe", size="7"),
            rx.text("Three steps and every LLM call your app makes shows up here with its cost."),
            _key_panel(),
            setup_guide(),
            rx.button("Go to dashboard", rx.icon("arrow-right", size=16), size="3", on_click=OnboardingState.finish,
                      id="go-to-dashboard"),
            spacing="5", width="100%", max_width="800px",
        )
    )
