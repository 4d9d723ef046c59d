"""The caps page's helpers: the submitted form as service fields (URLs kept, replaced or removed on an edit),
rows as display strings, and the dashboard's caps at warning or beyond, against a real database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from llmobserve_app.db import session_scope
from llmobserve_app.services.caps import changes, crud
from llmobserve_app.services.caps.overview import alerting
from llmobserve_app.services.errors import UserFacingError
from llmobserve_app.state.caps import _alerts, _caps, form_fields

FORM = {"name": "n", "scope": "customer", "value": "acme", "period": "day", "limit_usd": "0.10",
        "threshold_pct": "80", "action": "block", "notify_email": "on"}


def test_a_new_cap_form_becomes_service_fields() -> None:
    fields = form_fields({**FORM, "slack_webhook_url": " https://hooks.slack.com/x ", "webhook_url": ""},
                         editing=False)
    assert fields == {"name": "n", "scope": "customer", "value": "acme", "period": "day", "limit_usd": "0.10",
                      "threshold_pct": 80, "action": "block", "notify_email": True,
                      "slack_webhook_url": "https://hooks.slack.com/x", "webhook_url": None}
    assert form_fields({k: v for k, v in FORM.items() if k != "notify_email"}, editing=False)["notify_email"] is False


def test_an_edit_keeps_an_empty_url_unless_removal_is_asked() -> None:
    kept = form_fields({**FORM, "slack_webhook_url": "", "webhook_url": ""}, editing=True)
    assert "slack_webhook_url" not in kept and "webhook_url" not in kept
    removed = form_fields({**FORM, "slack_webhook_url": "", "remove_slack_webhook_url": "on"}, editing=True)
    assert removed["slack_webhook_url"] is None and "webhook_url" not in removed


@pytest.mark.parametrize("threshold", ["", "eighty", "8.5", "-3"])
def test_a_threshold_that_is_not_a_whole_number_names_its_field(threshold: str) -> None:
    with pytest.raises(UserFacingError) as raised:
        form_fields({**FORM, "threshold_pct": threshold}, editing=False)
    assert raised.value.field == "threshold_pct"


def test_rows_and_the_dashboards_caps_at_warning_or_beyond(engine, make_account) -> None:
    tenant_id, _, _ = make_account("capsui")
    other_id, _, _ = make_account("other")
    now = datetime.now(UTC)
    changes.save_and_check(engine, now, lambda session: crud.create_cap(
        session, tenant_id, scope="customer", value="<b>acme</b>", period="day", limit_usd="0.10", action="block",
        slack_webhook_url="https://hooks.slack.com/secret"))
    changes.save_and_check(engine, now, lambda session: crud.create_cap(
        session, other_id, scope="global", period="month", limit_usd="5"))
    with session_scope(engine) as session:
        rows = _caps(session, tenant_id, now)
        assert alerting(session, tenant_id, now) == []  # nothing spent
        assert _alerts(session, tenant_id) == []
    assert len(rows) == 1  # the other account's cap is not listed
    row = rows[0]
    assert row["scope"] == "customer <b>acme</b>"  # text as typed: the page renders it as text, never HTML
    assert (row["status"], row["spend"], row["limit"], row["percent"], row["bar"]) == ("ok", "$0.00", "$0.10",
                                                                                       "0%", "0.0%")
    assert row["channels"] == "email, Slack"
    assert "secret" not in repr(rows)  # the webhook URL is a credential: never in what State holds
    assert row["period_end"].startswith("Period ends ")
