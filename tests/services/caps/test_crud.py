"""Creating, changing and deleting caps: every bad field is refused naming it; tenants never see each other's."""

from __future__ import annotations

import pytest

from llmobserve_app.db import session_scope
from llmobserve_app.services.caps import crud
from llmobserve_app.services.caps.registry import enabled_caps
from llmobserve_app.services.errors import UserFacingError

GOOD = {"scope": "customer", "value": "acme", "period": "day", "limit_usd": "0.10"}


@pytest.mark.parametrize(("changes", "field"), [
    ({"limit_usd": "0"}, "limit_usd"), ({"limit_usd": "-1"}, "limit_usd"), ({"limit_usd": "abc"}, "limit_usd"),
    ({"limit_usd": "NaN"}, "limit_usd"), ({"limit_usd": "1e12"}, "limit_usd"),
    ({"limit_usd": "0.0000000001"}, "limit_usd"), ({"value": ""}, "value"), ({"value": "  "}, "value"),
    ({"scope": "global", "value": "x"}, "value"), ({"scope": "model", "value": "*"}, "value"),
    ({"scope": "team"}, "scope"), ({"period": "year"}, "period"), ({"threshold_pct": 0}, "threshold_pct"),
    ({"threshold_pct": 100}, "threshold_pct"), ({"action": "stop"}, "action"),
    ({"webhook_url": "http://example.com/hook"}, "notify.webhook_url"),
    ({"webhook_url": "ftp://example.com"}, "notify.webhook_url"), ({"webhook_url": "https://"}, "notify.webhook_url"),
    ({"slack_webhook_url": "http://hooks.slack.com/x"}, "notify.slack_webhook_url"), ({"name": "x" * 201}, "name"),
])
def test_bad_fields_are_named(engine, make_account, changes, field) -> None:
    tenant, _, _ = make_account()
    with pytest.raises(UserFacingError) as error, session_scope(engine) as session:
        crud.create_cap(session, tenant, **{**GOOD, **changes})
    assert error.value.field == field
    with session_scope(engine) as session:
        assert crud.list_caps(session, tenant) == []


def test_create_update_delete_and_isolation(engine, make_account) -> None:
    tenant, _, _ = make_account()
    other, _, _ = make_account()
    with session_scope(engine) as session:
        cap = crud.create_cap(session, tenant, **GOOD, webhook_url="http://127.0.0.1:9/hook",
                              slack_webhook_url="https://hooks.slack.com/services/x")
        assert (cap.limit_nanos, cap.threshold_pct, cap.action, cap.notify_email) == (100_000_000, 80, "alert", True)
        assert cap.name == "customer:acme per day"
    with session_scope(engine) as session:
        changed = crud.update_cap(session, tenant, cap.id, limit_usd="2.5", action="block", enabled=False)
        assert (changed.limit_nanos, changed.action, changed.enabled, changed.value) == (2_500_000_000, "block",
                                                                                         False, "acme")
        with pytest.raises(UserFacingError) as error:
            crud.update_cap(session, tenant, cap.id, scope="global")  # a global cap takes no value
        assert error.value.field == "value"
    for call in (lambda s: crud.get_cap(s, other, cap.id), lambda s: crud.update_cap(s, other, cap.id, name="x"),
                 lambda s: crud.delete_cap(s, other, cap.id)):
        with pytest.raises(crud.CapNotFound), session_scope(engine) as session:
            call(session)
    with session_scope(engine) as session:
        assert crud.list_caps(session, other) == []
        crud.delete_cap(session, tenant, cap.id)
    with session_scope(engine) as session:
        assert crud.list_caps(session, tenant) == []


def test_the_enabled_caps_cache_is_forgotten_after_the_commit_not_before(engine, make_account) -> None:
    """A reader that caches the tenant's caps while a change is still uncommitted must not keep the old rules
    after the commit (forgetting inside the transaction would let it re-cache them for a whole TTL)."""
    tenant, _, _ = make_account()
    with session_scope(engine) as session:
        cap = crud.create_cap(session, tenant, **GOOD)
        assert enabled_caps.rules(engine, tenant) == ()  # another connection: the cap is not committed yet
    assert [rule.id for rule in enabled_caps.rules(engine, tenant)] == [cap.id]
    with session_scope(engine) as session:
        crud.update_cap(session, tenant, cap.id, enabled=False)
        assert [rule.id for rule in enabled_caps.rules(engine, tenant)] == [cap.id]
    assert enabled_caps.rules(engine, tenant) == ()
    with pytest.raises(RuntimeError), session_scope(engine) as session:  # rolled back: nothing to forget
        crud.update_cap(session, tenant, cap.id, enabled=True)
        raise RuntimeError("abandon the change")
    assert enabled_caps.rules(engine, tenant) == ()
