"""/docs search: which sections and FAQ entries contain every word typed (the page hides the others)."""

from __future__ import annotations

import reflex as rx

from llmobserve_app.docs_content import docs
from llmobserve_app.settings import get_settings

MAX_QUERY = 200


class DocsState(rx.State):
    query: str = ""

    @rx.var
    def visible(self) -> list[str]:
        return docs(get_settings().public_url).matching(self.query)

    @rx.event
    def search(self, value: str) -> None:
        self.query = value[:MAX_QUERY]

    @rx.event
    def clear(self) -> None:
        self.query = ""
