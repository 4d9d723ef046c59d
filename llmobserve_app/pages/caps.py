"""/settings/caps — spending caps: each with its spend/limit bar and status, a form to create or edit one, disable,
delete (confirmed), and the alert history with each channel's delivery status. Every user string is text."""

from __future__ import annotations

import reflex as rx

from llmobserve_app import routes
from llmobserve_app.components.cap_status import status_badge
from llmobserve_app.components.layout import app_frame, error_callout
from llmobserve_app.state.caps import ACTION_OPTIONS, PERIOD_OPTIONS, SCOPE_OPTIONS, CapsState


def _bar_color(status: rx.Var) -> rx.Var:
    return rx.match(status, ("warning", rx.color("amber", 9)), ("exceeded", rx.color("orange", 9)),
                    ("blocked", rx.color("red", 9)), ("disabled", rx.color("gray", 8)), rx.color("grass", 9))


def spend_bar(cap: rx.Var) -> rx.Component:
    return rx.box(
        rx.box(width=cap["bar"], height="100%", background=_bar_color(cap["status"]), border_radius="4px"),
        width="100%", height="10px", background=rx.color("gray", 4), border_radius="4px",
        role="progressbar", aria_label="spend against limit", class_name="cap-bar",
    )


def _muted(text: rx.Var, class_name: str) -> rx.Component:
    return rx.cond(text != "", rx.text(text, size="1", color_scheme="gray", class_name=class_name))


def cap_card(cap: rx.Var) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(cap["name"], size="3", class_name="cap-name"),
                status_badge(cap["status"]),
                rx.badge(cap["action"], variant="outline", color_scheme="gray"),
                rx.spacer(),
                rx.button("Edit", size="1", variant="soft", on_click=CapsState.edit_cap(cap["id"]),
                          class_name="edit-cap"),
                rx.cond(cap["enabled"] != "",
                        rx.button("Disable", size="1", variant="soft", color_scheme="gray",
                                  on_click=CapsState.toggle_enabled(cap["id"], False), class_name="disable-cap"),
                        rx.button("Enable", size="1", variant="soft",
                                  on_click=CapsState.toggle_enabled(cap["id"], True), class_name="enable-cap")),
                rx.button("Delete", size="1", variant="soft", color_scheme="red",
                          on_click=CapsState.ask_delete(cap["id"], cap["name"]), class_name="delete-cap"),
                align="center", width="100%", wrap="wrap",
            ),
            rx.text(cap["scope"], " · per ", cap["period"], " · warning at ", cap["threshold"], " · alerts: ",
                    cap["channels"], size="2", color_scheme="gray", class_name="cap-scope"),
            spend_bar(cap),
            rx.hstack(
                rx.text(cap["spend"], " of ", cap["limit"], " (", cap["percent"], ")", size="2", weight="medium",
                        class_name="cap-spend"),
                rx.spacer(),
                rx.text(cap["period_end"], size="1", color_scheme="gray", class_name="cap-period-end"),
                width="100%", align="center",
            ),
            _muted(cap["projection"], "cap-projection"),
            _muted(cap["unpriced"], "cap-unpriced"),
            spacing="2", width="100%",
        ),
        width="100%", class_name="cap-card", data_cap_id=cap["id"],
    )


def _field(label: str, control: rx.Component, field: str, hint: str | rx.Var = "") -> rx.Component:
    error = CapsState.field_errors[field]
    return rx.vstack(
        rx.text(label, size="2", weight="medium", as_="label"),
        control,
        rx.text(hint, size="1", color_scheme="gray") if isinstance(hint, rx.Var) or hint else rx.fragment(),
        rx.cond(error, rx.text(error, size="1", color_scheme="red", id=f"error-{field}", role="alert")),
        spacing="1", width="100%",
    )


def _select(name: str, options: list[tuple[str, str]], value: rx.Var, **props) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(id=f"cap-{name}", width="100%"),
        rx.select.content(*[rx.select.item(label, value=key) for key, label in options]),
        name=name, default_value=value, **props,
    )


def _url_field(label: str, name: str, is_set: rx.Var) -> rx.Component:
    return _field(
        label,
        rx.vstack(
            rx.input(name=name, id=f"cap-{name}", placeholder=rx.cond(is_set, "(set — leave empty to keep it)",
                                                                        "https://…"),
                     type="url", max_length=2000, width="100%", auto_complete="off"),
            rx.cond(is_set & (CapsState.form_cap_id != ""),
                    rx.el.label(rx.hstack(rx.checkbox(name=f"remove_{name}", id=f"cap-remove-{name}"),
                                          rx.text("Remove it", size="1"), align="center", spacing="2"))),
            spacing="1", width="100%",
        ),
        name, "https, or http to a loopback address",
    )


def cap_form() -> rx.Component:
    value_hint = rx.match(CapsState.form.scope, ("global", "Leave empty: a global cap covers all spend."),
                          ("customer", "A customer id, or * for every customer separately."),
                          "Required: the provider, model or agent name.")
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(CapsState.form_cap_id != "", "Edit cap", "New cap")),
            rx.form(
                rx.vstack(
                    rx.cond(CapsState.field_errors["form"],
                            rx.callout(CapsState.field_errors["form"], color_scheme="red", size="1")),
                    _field("Name (optional)", rx.input(name="name", id="cap-name", default_value=CapsState.form.name,
                                                       max_length=200, width="100%"), "name"),
                    rx.grid(
                        _field("Scope", _select("scope", SCOPE_OPTIONS, CapsState.form.scope,
                                                on_change=CapsState.set_form_scope), "scope"),
                        _field("Value", rx.input(name="value", id="cap-value", default_value=CapsState.form.value,
                                                 max_length=200, width="100%"), "value", value_hint),
                        _field("Period", _select("period", PERIOD_OPTIONS, CapsState.form.period), "period"),
                        _field("Limit (USD)", rx.input(name="limit_usd", id="cap-limit", inputmode="decimal",
                                                       default_value=CapsState.form.limit_usd, placeholder="10.00",
                                                       width="100%"), "limit_usd"),
                        _field("Warning threshold (%)",
                               rx.input(name="threshold_pct", id="cap-threshold", inputmode="numeric",
                                        default_value=CapsState.form.threshold_pct, width="100%"), "threshold_pct"),
                        _field("Action", _select("action", ACTION_OPTIONS, CapsState.form.action), "action"),
                        columns="2", spacing="3", width="100%",
                    ),
                    _field("Email", rx.el.label(rx.hstack(
                        rx.checkbox(name="notify_email", id="cap-email", default_checked=CapsState.form.notify_email),
                        rx.text("Email the account's address", size="2"), align="center", spacing="2")),
                           "notify_email",
                           rx.cond(CapsState.email_configured, "", "Email is not configured on this server.")),
                    _url_field("Slack incoming-webhook URL (optional)", "slack_webhook_url",
                               CapsState.form.slack_set),
                    _url_field("Webhook URL (optional, signed)", "webhook_url", CapsState.form.webhook_set),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                        rx.button(rx.cond(CapsState.form_cap_id != "", "Save", "Create cap"), type="submit",
                                  id="save-cap"),
                        justify="end", width="100%",
                    ),
                    spacing="3", width="100%",
                ),
                on_submit=CapsState.save_cap, reset_on_submit=False, key=CapsState.form_key, id="cap-form",
            ),
            max_width="640px",
        ),
        open=CapsState.form_open, on_open_change=CapsState.set_form_open,
    )


def delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete this cap?"),
            rx.alert_dialog.description(
                rx.text("“", CapsState.delete_cap_name, "” and its alert history are deleted; a block it holds "
                        "lifts at the SDK's next reply.")),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray",
                                                 on_click=CapsState.cancel_delete)),
                rx.alert_dialog.action(rx.button("Delete", color_scheme="red", on_click=CapsState.confirm_delete,
                                                 id="confirm-delete")),
                justify="end", spacing="3", margin_top="1em",
            ),
        ),
        open=CapsState.delete_cap_id != "",
    )


ALERT_COLUMNS = [("Time", "time"), ("Cap", "cap"), ("Scope", "scope"), ("Level", "level"),
                 ("Spend", "spend"), ("Limit", "limit"), ("Delivery", "deliveries")]


def alerts_dialog() -> rx.Component:
    table = rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(title) for title, _ in ALERT_COLUMNS])),
        rx.table.body(rx.foreach(CapsState.alerts, lambda alert: rx.table.row(
            *[rx.table.cell(alert[key]) for _, key in ALERT_COLUMNS], class_name="alert-row"))),
        width="100%", size="1", variant="surface", id="alert-history",
    )
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Alert history"),
            rx.dialog.description("Each cap's threshold and limit alert at most once per period (and per customer "
                                  "for a * cap), newest first.", size="2"),
            rx.cond(~CapsState.email_configured,
                    rx.text("Email is not configured on this server: email alerts are not sent.", size="2",
                            color_scheme="amber", class_name="email-not-configured")),
            rx.cond(CapsState.alerts_loading, rx.spinner(),
                    rx.cond(CapsState.alerts.length() > 0, rx.box(table, overflow_x="auto", margin_top="1em"),
                            rx.text("No alerts yet.", color_scheme="gray", id="no-alerts"))),
            rx.hstack(rx.dialog.close(rx.button("Close", variant="soft", id="close-alerts")), justify="end",
                      margin_top="1em"),
            max_width="900px",
        ),
        open=CapsState.alerts_open, on_open_change=CapsState.set_alerts_open,
    )


def _empty() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("No caps yet", size="4"),
            rx.text("A cap warns when spend in a scope (everything, a provider, a model, an agent or a customer) nears "
                    "a limit per day, week or month, and can block further calls in the SDK once it is reached.",
                    color_scheme="gray", size="2"),
            rx.button(rx.icon("plus", size=14), "Create your first cap", on_click=CapsState.new_cap),
            spacing="3",
        ),
        width="100%", id="caps-empty",
    )


def caps_page() -> rx.Component:
    return app_frame(
        rx.vstack(
            rx.hstack(
                rx.heading("Spending caps", size="7"),
                rx.spacer(),
                rx.button(rx.icon("history", size=14), "Alert history", variant="soft",
                          on_click=CapsState.open_alerts, id="open-alerts"),
                rx.button(rx.icon("plus", size=14), "New cap", on_click=CapsState.new_cap, id="new-cap"),
                align="center", width="100%",
            ),
            rx.text("Spend is the priced cost since the period started (UTC); unpriced calls are not counted. ",
                    rx.link("Back to settings", href=routes.SETTINGS), size="2", color_scheme="gray"),
            rx.cond(~CapsState.email_configured & ~CapsState.loading,
                    rx.callout("Email is not configured on this server: alerts still appear here and go to Slack "
                               "and webhooks.", icon="mail-x", color_scheme="amber", size="1",
                               id="caps-email-status")),
            error_callout(CapsState.error),
            rx.cond(CapsState.loading,
                    rx.vstack(*[rx.skeleton(rx.card(height="120px"), width="100%") for _ in range(2)],
                              width="100%", id="caps-loading"),
                    rx.cond(CapsState.caps.length() > 0,
                            rx.vstack(rx.foreach(CapsState.caps, cap_card), spacing="3", width="100%",
                                      id="caps-list"),
                            _empty())),
            cap_form(), delete_dialog(), alerts_dialog(),
            spacing="4", width="100%",
        )
    )
