"""/settings — account, API keys, the copy-paste SDK set-up with this server's address, and alert delivery
(e-mail status, webhook signing secret)."""

from __future__ import annotations

import reflex as rx

from llmobserve_app import routes
from llmobserve_app.components.layout import app_frame, error_callout
from llmobserve_app.components.setup_guide import setup_guide
from llmobserve_app.components.shown_once import shown_once_panel
from llmobserve_app.services.notifications.webhook import SIGNATURE_HEADER
from llmobserve_app.state.settings_page import CREATED_KEY_ID, SIGNING_SECRET_ID, SettingsState
from llmobserve_app.state.subscription import BillingModeState


def _info(label: str, value: rx.Var, test_id: str) -> rx.Component:
    return rx.data_list.item(rx.data_list.label(label), rx.data_list.value(rx.text(value, id=test_id)))


def account_card() -> rx.Component:
    return rx.card(
        rx.heading("Account", size="4", margin_bottom="0.5em"),
        rx.data_list.root(
            _info("Name", SettingsState.user_name, "account-name"),
            _info("Email", SettingsState.user_email, "account-email"),
            rx.data_list.item(rx.data_list.label("Plan"), rx.data_list.value(rx.hstack(
                rx.text(SettingsState.plan_label, id="account-tier"),
                rx.cond(BillingModeState.billing_enabled,
                        rx.link("Manage subscription", href=routes.SUBSCRIPTION, size="2", id="subscription-link")),
                spacing="3"))),
            _info("Member since", SettingsState.member_since, "account-since"),
            _info("Prices", SettingsState.price_data, "price-data"),
        ),
        width="100%",
    )


def created_key_panel() -> rx.Component:
    return shown_once_panel(
        CREATED_KEY_ID, SettingsState.key_created, "New key — copy it now, it is shown only once:",
        rx.button("Done", variant="ghost", on_click=SettingsState.dismiss_created_key),
    )


def _key_row(key: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(key["name"]), rx.table.cell(rx.code(key["prefix"])), rx.table.cell(key["created"]),
        rx.table.cell(key["last_used"]),
        rx.table.cell(rx.cond(
            key["status"] == "active",
            rx.button("Revoke", color_scheme="red", variant="soft", size="1",
                      on_click=SettingsState.revoke_key(key["id"]), class_name="revoke-key"),
            rx.badge("revoked", color_scheme="gray"),
        )),
        class_name="api-key-row",
    )


def keys_card() -> rx.Component:
    return rx.card(
        rx.heading("API keys", size="4", margin_bottom="0.5em"),
        rx.text("Keys are stored hashed: a key's full value is shown only when it is created.", size="2",
                color_scheme="gray"),
        created_key_panel(),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                           ("Name", "Key", "Created", "Last used", "")])),
            rx.table.body(rx.foreach(SettingsState.keys, _key_row)),
            width="100%", id="api-keys",
        ),
        rx.hstack(
            rx.input(placeholder="Key name (e.g. production)", value=SettingsState.new_key_name,
                     on_change=SettingsState.set_new_key_name, id="new-key-name", max_length=100),
            rx.button(rx.icon("plus", size=14), "Create key", on_click=SettingsState.create_key, id="create-key"),
            margin_top="1em",
        ),
        width="100%",
    )


PRO_TIPS = [
    "One key per environment (production, staging, CI): revoke one without touching the others.",
    "Call `set_customer_id(...)` at the start of every request handler, so each call is billed to its customer.",
    'Wrap background jobs in `with llmobserve.section("agent:nightly"):` so they do not count as untracked.',
    'OpenAI-format streams: pass `stream_options={"include_usage": True}`, or the call is recorded without tokens.',
    "Short scripts: call `llmobserve.flush()` before exiting (at exit the SDK waits at most 2 s).",
]


def sdk_setup_card() -> rx.Component:
    return rx.card(
        rx.heading("Set up the SDK", size="4", margin_bottom="0.5em"),
        rx.text("Copy, paste, and replace llmo_sk_... with one of your keys below (create one if you no longer "
                "have its value).", size="2", color_scheme="gray", margin_bottom="0.75em"),
        setup_guide(),
        rx.heading("Pro tips", size="3", margin_top="1em"),
        rx.unordered_list(*[rx.list_item(rx.markdown(tip)) for tip in PRO_TIPS], id="pro-tips"),
        rx.text("More in the ", rx.link("docs", href=routes.DOCS), ".", size="2"),
        width="100%", id="sdk-setup",
    )


def _email_status() -> rx.Component:
    return rx.cond(
        SettingsState.email_configured,
        rx.text("Email alerts are sent through SendGrid.", size="2", id="email-status"),
        rx.callout(
            "Email is not configured on this server (SENDGRID_API_KEY and SENDGRID_FROM are not set): alerts "
            "still appear in the app and go to Slack and webhooks.",
            icon="mail-x", color_scheme="amber", size="1", id="email-status",
        ),
    )


def _signing_secret() -> rx.Component:
    return rx.vstack(
        rx.heading("Webhook signing secret", size="3"),
        rx.text(f"Every webhook carries {SIGNATURE_HEADER}: t=<unix time>,v1=<HMAC-SHA256 of \"<t>.<body>\" "
                "with this secret>. Check it before trusting the body (see the README).", size="2",
                color_scheme="gray"),
        rx.text(rx.cond(SettingsState.signing_secret_created != "",
                        "Current secret created " + SettingsState.signing_secret_created + " (shown only then).",
                        "No secret yet: create one now to see it (the first webhook would otherwise make one "
                        "you have not seen)."),
                size="2", id="signing-secret-status"),
        shown_once_panel(SIGNING_SECRET_ID, SettingsState.signing_secret_shown,
                         "Webhook signing secret — copy it now, it is shown only once:",
                         rx.button("Done", variant="ghost", on_click=SettingsState.dismiss_signing_secret,
                                   id="dismiss-signing-secret"),
                         label="Webhook signing secret"),
        rx.button(rx.icon("key-round", size=14),
                  rx.cond(SettingsState.signing_secret_created != "", "Rotate secret", "Create secret"),
                  on_click=SettingsState.rotate_signing_secret, id="rotate-signing-secret", variant="soft"),
        rx.cond(SettingsState.signing_secret_created != "",
                rx.text("Rotating replaces the secret at once: webhooks sent afterwards are signed with the new one.",
                        size="1", color_scheme="gray")),
        spacing="2", width="100%",
    )


def delivery_card() -> rx.Component:
    return rx.card(
        rx.heading("Alert delivery", size="4", margin_bottom="0.5em"),
        rx.vstack(_email_status(),
                  rx.text("Alerts come from your ", rx.link("spending caps", href=routes.CAPS, id="settings-caps-link"),
                          ": each says when spend nears or reaches a limit, and can block calls in the SDK.", size="2"),
                  _signing_secret(), spacing="4", width="100%"),
        width="100%", id="alert-delivery",
    )


def prices_link_card() -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.vstack(rx.heading("Prices", size="4"),
                      rx.text("Your own prices for models we cannot price, or negotiated rates.", size="2",
                              color_scheme="gray"), spacing="1"),
            rx.spacer(),
            rx.link(rx.button("Custom prices", variant="soft"), href=routes.SETTINGS_PRICES, id="custom-prices-link"),
            align="center", width="100%",
        ),
        width="100%",
    )


def settings_page() -> rx.Component:
    return app_frame(
        rx.vstack(
            rx.heading("Settings", size="7"),
            error_callout(SettingsState.error),
            rx.cond(SettingsState.loading, rx.skeleton(rx.card(height="200px"), width="100%"),
                    rx.vstack(account_card(), keys_card(), delivery_card(), prices_link_card(), sdk_setup_card(),
                              spacing="4",
                              width="100%")),
            spacing="4", width="100%",
        )
    )
