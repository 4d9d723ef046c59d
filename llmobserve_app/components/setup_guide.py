"""The three-step SDK set-up guide (onboarding, settings, docs and the empty dashboard), with this server's URL."""

from __future__ import annotations

import reflex as rx

from llmobserve_app.components.code import code_snippet
from llmobserve_app.services.sdk_package import install_command
from llmobserve_app.settings import SDK_DIR, api_url

PUBLIC_URL = api_url().rstrip("/")  # API_URL: where SDKs reach this server (pages are compiled at start-up)
INSTALL = install_command(PUBLIC_URL, SDK_DIR)
KEY_PLACEHOLDER = "llmo_sk_..."


def observe_snippet(api_key: str | rx.Var = KEY_PLACEHOLDER) -> rx.Var | str:
    """The two lines to paste, with the user's key filled in when it is known."""
    head = f'import llmobserve\n\nllmobserve.observe(\n    collector_url="{PUBLIC_URL}",\n    api_key="'
    if isinstance(api_key, str):
        return head + api_key + '",\n)'
    return rx.Var.create(head) + api_key + '",\n)'


CUSTOMER_SNIPPET = (
    "from llmobserve import set_customer_id, agent\n\n"
    "set_customer_id(\"customer_123\")  # calls that follow belong to this customer\n\n"
    "@agent(\"research\")\ndef research(question):\n    ...  # every LLM call in here is tagged agent:research"
)


def _step(number: str, title: str, body: rx.Component) -> rx.Component:
    return rx.hstack(
        rx.badge(number, size="3", radius="full", variant="solid"),
        rx.vstack(rx.text(title, weight="bold"), body, width="100%", spacing="2"),
        align="start", width="100%", spacing="3",
    )


def setup_guide(api_key: str | rx.Var = KEY_PLACEHOLDER) -> rx.Component:
    return rx.vstack(
        _step("1", "Install the SDK from this server",
              rx.box(code_snippet(INSTALL, language="bash"), id="install-command", width="100%")),
        _step("2", "Start observing: two lines at start-up, with your API key in place of llmo_sk_...",
              code_snippet(observe_snippet(api_key))),
        _step("3", "Tag your customers and agents (optional)", code_snippet(CUSTOMER_SNIPPET)),
        spacing="4", width="100%", id="setup-guide",
    )
