"""The three-step SDK set-up guide (onboarding page and empty dashboard)."""

from __future__ import annotations

import reflex as rx

INSTALL = "pip install ./sdk   # from a clone of LLM Observe"


def observe_snippet(api_key: str | rx.Var) -> rx.Var | str:
    """The two lines to paste, with the user's key filled in when it is known."""
    head = 'import llmobserve\n\nllmobserve.observe(\n    collector_url="http://localhost:8000",\n    api_key="'
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


def setup_guide(api_key: str | rx.Var = "llmo_sk_...") -> rx.Component:
    return rx.vstack(
        _step("1", "Install the SDK", rx.code_block(INSTALL, language="bash", width="100%")),
        _step("2", "Start observing (two lines at start-up)",
              rx.code_block(observe_snippet(api_key), language="python", width="100%")),
        _step("3", "Tag your customers and agents (optional)",
              rx.code_block(CUSTOMER_SNIPPET, language="python", width="100%")),
        spacing="4", width="100%", id="setup-guide",
    )
