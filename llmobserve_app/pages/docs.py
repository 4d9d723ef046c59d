"""/docs — public: quick start to troubleshooting, the providers the registry prices, the FAQ; searchable."""

from __future__ import annotations

import reflex as rx

from llmobserve_app.components.code import code_snippet
from llmobserve_app.components.public_frame import public_frame
from llmobserve_app.docs_content import (
    FAQ_ID,
    PROVIDERS_ID,
    PROVIDERS_SECTION,
    Code,
    Docs,
    DocSection,
    Faq,
    Provider,
    docs,
)
from llmobserve_app.settings import api_url
from llmobserve_app.state.docs import DocsState


def _shown_when_matching(entry_id: str, component: rx.Component) -> rx.Component:
    return rx.cond(DocsState.visible.contains(entry_id), component, rx.fragment())


def _block(block: str | Code) -> rx.Component:
    if isinstance(block, Code):
        return code_snippet(block.code, language=block.language)
    return rx.markdown(block, width="100%")


def _section(section: DocSection) -> rx.Component:
    return _shown_when_matching(section.id, rx.vstack(
        rx.heading(section.title, size="6", as_="h2"),
        *[_block(block) for block in section.blocks],
        id=section.id, class_name="docs-section", spacing="3", width="100%", padding_top="1em",
    ))


def _provider(provider: Provider) -> rx.Component:
    name = rx.text(provider.name, weight="medium", size="2")
    return rx.box(
        rx.link(name, href=provider.pricing_url, is_external=True) if provider.pricing_url else name,
        rx.text(f"{provider.id} · {provider.models} price entries", size="1", color_scheme="gray"),
        class_name="provider-item", padding="0.5em", border=f"1px solid {rx.color('gray', 4)}", border_radius="6px",
    )


def _providers(content: Docs) -> rx.Component:
    return _shown_when_matching(PROVIDERS_ID, rx.vstack(
        rx.heading(PROVIDERS_SECTION.title, size="6", as_="h2"),
        rx.text(rx.text.strong(f"{len(content.providers)} providers", id="provider-count"),
                " are priced by the bundled registry (generated from it, so this list is what the server prices). "
                "Calls to any model they list are priced; models they do not list are counted as unpriced."),
        rx.grid(*[_provider(provider) for provider in content.providers],
                columns=rx.breakpoints(initial="2", md="4"), spacing="2", width="100%"),
        id=PROVIDERS_ID, class_name="docs-section", spacing="3", width="100%", padding_top="1em",
    ))


def _faq_item(faq: Faq) -> rx.Component:
    return _shown_when_matching(faq.id, rx.box(
        rx.heading(faq.question, size="3", as_="h3"),
        rx.markdown(faq.answer),
        id=faq.id, class_name="faq-item", width="100%", padding_y="0.5em",
    ))


def _faq(content: Docs) -> rx.Component:
    return rx.vstack(
        rx.heading(f"FAQ ({len(content.faq)} questions)", size="6", as_="h2"),
        *[_faq_item(faq) for faq in content.faq],
        id=FAQ_ID, spacing="2", width="100%", padding_top="1em",
    )


def _contents(content: Docs) -> rx.Component:
    return rx.vstack(
        rx.text("Contents", weight="bold", size="2"),
        *[rx.link(title, href=f"#{entry}", size="2", class_name="docs-contents-link")
          for entry, title in content.contents()],
        spacing="1", position="sticky", top="1em", min_width="190px", display=rx.breakpoints(initial="none",
                                                                                               md="flex"),
    )


def docs_page() -> rx.Component:
    content = docs(api_url())
    body = [_providers(content) if section is PROVIDERS_SECTION else _section(section) for section in content.sections]
    search = rx.hstack(
        rx.input(rx.input.slot(rx.icon("search", size=16)), placeholder="Search the docs (e.g. streaming, revoked)",
                 value=DocsState.query, on_change=DocsState.search.debounce(150), id="docs-search",
                 width="100%", size="3", max_length=200),
        rx.cond(DocsState.query != "", rx.button("Clear", variant="soft", on_click=DocsState.clear)),
        width="100%",
    )
    return public_frame(
        rx.hstack(
            _contents(content),
            rx.vstack(
                rx.heading("Documentation", size="8"),
                rx.text("Install the SDK from this server, see every LLM call's cost, attribute it to customers "
                        "and agents.", color_scheme="gray"),
                search,
                rx.cond(DocsState.visible.length() == 0,
                        rx.callout("Nothing in the docs matches that search.", icon="search-x", id="docs-no-match")),
                *body,
                _faq(content),
                spacing="3", width="100%", min_width="0",
            ),
            align="start", spacing="6", width="100%",
        ),
        max_width="1200px",
    )
