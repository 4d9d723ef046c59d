"""The landing page: what a signed-out visitor sees at / (a signed-in user gets the dashboard there)."""

from __future__ import annotations

import reflex as rx

from llmobserve_app import routes
from llmobserve_app.components.code import code_snippet
from llmobserve_app.components.public_frame import public_frame
from llmobserve_app.components.setup_guide import INSTALL, observe_snippet
from llmobserve_app.docs_content import registry_providers
from llmobserve_app.services.billing.plans import PRO

HOSTED_PRICE = f"${PRO.monthly_price_usd} a month"
SCREENSHOT = "/dashboard-demo.png"  # assets/: the real dashboard with `make demo` data (tests/e2e/test_site.py)


def _feature(icon: str, title: str, text: str) -> rx.Component:
    return rx.card(
        rx.vstack(rx.icon(icon, size=22, color=rx.color("accent", 10)), rx.text(title, weight="bold"),
                  rx.text(text, size="2", color_scheme="gray"), spacing="2"),
        class_name="landing-feature",
    )


def _plan(name: str, price: str, note: str, points: list[str], cta: rx.Component) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(name, weight="bold", size="4"),
            rx.heading(price, size="7"),
            rx.text(note, size="2", color_scheme="gray"),
            *[rx.hstack(rx.icon("check", size=14), rx.text(point, size="2"), align="center") for point in points],
            cta,
            spacing="2",
        ),
        width="100%",
    )


def _hero() -> rx.Component:
    return rx.vstack(
        rx.badge("Open source · self-hostable", size="2", variant="soft"),
        rx.heading("Know what every LLM call costs you", size="9", id="landing-title"),
        rx.text("Add two lines to your Python app. LLM Observe captures every call to OpenAI, Anthropic, Google, "
                "Mistral, Pinecone and more, prices it exactly and shows the cost per provider, model, customer "
                "and agent, with caps that stop spend at your limit.",
                size="5", color_scheme="gray", max_width="720px"),
        rx.hstack(
            rx.link(rx.button("Sign up free", rx.icon("arrow-right", size=16), size="3"), href=routes.SIGNUP,
                    id="cta-signup"),
            rx.link(rx.button("Log in", size="3", variant="outline"), href=routes.LOGIN, id="cta-login"),
            rx.link(rx.button("Read the docs", size="3", variant="soft"), href=routes.DOCS, id="cta-docs"),
            spacing="3", wrap="wrap",
        ),
        spacing="4", align="start", padding_y="2em", width="100%",
    )


def _snippet() -> rx.Component:
    return rx.vstack(
        rx.heading("Two lines", size="6"),
        rx.text("Install the SDK from this server, then call observe() when your app starts:", color_scheme="gray"),
        code_snippet(INSTALL, language="bash"),
        code_snippet(observe_snippet()),
        spacing="3", width="100%", id="landing-snippet",
    )


def _screenshot() -> rx.Component:
    return rx.box(
        rx.image(src=SCREENSHOT, alt="The LLM Observe dashboard with 30 days of demo data: cost over time, cost "
                 "by provider and model, top agents and customers", width="100%", id="landing-screenshot"),
        border=f"1px solid {rx.color('gray', 5)}", border_radius="12px", overflow="hidden", width="100%",
        box_shadow="0 12px 40px rgba(0,0,0,0.12)",
    )


def landing() -> rx.Component:
    features = rx.grid(
        _feature("server", "Per provider and model",
                 f"{len(registry_providers())} providers priced from a bundled, dated price list: cached input, "
                 "reasoning tokens, searches and vector-DB units included. Unknown models are flagged, never $0."),
        _feature("users", "Per customer", "set_customer_id(\"acme\") and each of your customers has a cost page; "
                 "the read API gives you what to bill them."),
        _feature("bot", "Per agent and run", "@agent, tools and runs: see which agent, tool and step spends, "
                 "with a timeline of every run."),
        _feature("octagon-x", "Caps that stop spend", "A daily, weekly or monthly limit per provider, model, agent "
                 "or customer: alerts by email, Slack or webhook, and a block that makes the SDK refuse the call "
                 "before it reaches the provider."),
        _feature("download", "Exports and API", "CSV and JSON exports of runs and costs, and GET /v1/usage with "
                 "your API key."),
        _feature("shield-check", "Never in your way", "The SDK never raises into your app, never blocks a call on "
                 "the network and never sends prompts or responses."),
        _feature("lightbulb", "Insights", "Week-over-week movers, the most expensive customers and agents, and "
                 "the share of spend no agent accounts for."),
        columns=rx.breakpoints(initial="1", sm="2", lg="3"), spacing="4", width="100%",
    )
    pricing = rx.grid(
        _plan("Self-host", "Free", "Open source, on your own server.",
              ["Every feature", "SQLite or PostgreSQL", "make run and it is up"],
              rx.link(rx.button("Read the self-hosting guide", variant="outline", width="100%"),
                      href=routes.DOCS + "#self-hosting", width="100%")),
        _plan("Hosted", HOSTED_PRICE, "We run it for you.",
              ["Every feature", "Nothing to operate", "Your data stays yours: export any time"],
              rx.link(rx.button("Sign up", width="100%"), href=routes.SIGNUP, width="100%")),
        columns=rx.breakpoints(initial="1", sm="2"), spacing="4", width="100%", id="landing-pricing",
    )
    return public_frame(
        rx.vstack(
            _hero(),
            _screenshot(),
            rx.heading("See where the money goes", size="6", padding_top="1em"),
            features,
            _snippet(),
            rx.heading(f"Self-host free, or hosted for {HOSTED_PRICE}", size="6", padding_top="1em"),
            pricing,
            spacing="5", width="100%", padding_bottom="2em",
        ),
        max_width="1100px",
    )
