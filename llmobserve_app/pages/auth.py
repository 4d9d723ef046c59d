"""/login and /signup. Their forms are plain HTML posts to the server (``ingest_api/browser_auth.py``), which
sets the HttpOnly session cookie and answers with a redirect: no script ever handles the password or the token."""

from __future__ import annotations

import reflex as rx

from llmobserve_app import routes
from llmobserve_app.components.html_form import post_form
from llmobserve_app.components.layout import error_callout, logo
from llmobserve_app.state.auth import AuthFormState


def _card(title: str, form: rx.Component, footer: rx.Component) -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(logo(), rx.heading(title, size="6"), error_callout(AuthFormState.error), form, footer,
                      spacing="4", width="100%"),
            width="100%", max_width="420px", size="3",
        ),
        min_height="100vh", padding="1em",
    )


def _field(label: str, name: str, kind: str = "text", **props: object) -> rx.Component:
    return rx.vstack(
        rx.text(label, as_="label", html_for=name, size="2", weight="medium"),
        rx.input(name=name, id=name, type=kind, required=True, width="100%", size="3", **props),
        spacing="1", width="100%",
    )


def _post_form(action: str, *fields: rx.Component) -> rx.Component:
    return post_form(action, rx.vstack(*fields, spacing="3", width="100%"), width="100%")


def login_page() -> rx.Component:
    form = _post_form(
        routes.AUTH_LOGIN,
        _field("Email", "email", "email", auto_complete="email"),
        _field("Password", "password", "password", auto_complete="current-password"),
        rx.el.input(type="hidden", name="next", value=AuthFormState.next_path),
        rx.button("Log in", type="submit", width="100%", size="3", id="submit"),
    )
    footer = rx.text("No account yet? ", rx.link("Sign up", href=routes.SIGNUP), size="2")
    return _card("Log in", form, footer)


def signup_page() -> rx.Component:
    form = _post_form(
        routes.AUTH_SIGNUP,
        _field("Name", "name", auto_complete="name"),
        _field("Email", "email", "email", auto_complete="email"),
        _field("Password (8 to 72 bytes)", "password", "password", auto_complete="new-password", min_length=8),
        rx.button("Create account", type="submit", width="100%", size="3", id="submit"),
    )
    footer = rx.text("Already have an account? ", rx.link("Log in", href=routes.LOGIN), size="2")
    return _card("Create your account", form, footer)
