"""API keys: format, hashed storage, listing, revocation scoped to the owner."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa

from llmobserve_app.db import session_scope
from llmobserve_app.models import ApiKey
from llmobserve_app.services import api_keys
from llmobserve_app.services.errors import UserFacingError


def test_key_format_is_prefix_plus_32_random_urlsafe_bytes(engine, make_account) -> None:
    user_id, _, key = make_account()
    assert key.startswith("llmo_sk_")
    raw = base64.urlsafe_b64decode(key.removeprefix("llmo_sk_") + "=" * (-len(key) % 4))
    assert len(raw) >= 32
    with session_scope(engine) as session:
        _, second = api_keys.create_api_key(session, user_id, "second")
    assert second != key


def test_only_a_hash_is_stored(engine, make_account) -> None:
    user_id, _, key = make_account()
    with engine.connect() as connection:
        rows = connection.execute(sa.select(ApiKey.__table__).where(ApiKey.user_id == user_id)).mappings().all()
    assert len(rows) == 1
    stored_text = " ".join(str(value) for value in rows[0].values())
    assert key not in stored_text and key[len("llmo_sk_") + 6:] not in stored_text
    assert rows[0]["key_hash"] == api_keys.hash_key(key)
    assert key.startswith(rows[0]["prefix"])


def test_tenant_lookup_records_last_use_and_revocation_stops_the_key(engine, make_account) -> None:
    user_id, _, key = make_account()
    with session_scope(engine) as session:
        assert api_keys.tenant_for_key(session, key) == user_id
        assert api_keys.tenant_for_key(session, key + "x") is None
        assert api_keys.tenant_for_key(session, "sk-not-ours") is None
    with session_scope(engine) as session:
        (row,) = api_keys.list_api_keys(session, user_id)
        assert row.last_used_at is not None
        api_keys.revoke_api_key(session, user_id, row.id)
    with session_scope(engine) as session:
        assert api_keys.tenant_for_key(session, key) is None
        (row,) = api_keys.list_api_keys(session, user_id)
        assert row.revoked_at is not None


def test_a_user_cannot_revoke_or_list_another_users_key(engine, make_account) -> None:
    alice, _, alice_key = make_account("alice")
    bob, _, _ = make_account("bob")
    with session_scope(engine) as session:
        (alice_row,) = api_keys.list_api_keys(session, alice)
        assert [k.user_id for k in api_keys.list_api_keys(session, bob)] == [bob]
    with session_scope(engine) as session, pytest.raises(UserFacingError, match="No such API key"):
        api_keys.revoke_api_key(session, bob, alice_row.id)
    with session_scope(engine) as session:
        assert api_keys.tenant_for_key(session, alice_key) == alice


def test_key_name_too_long_is_refused(engine, make_account) -> None:
    user_id, _, _ = make_account()
    with session_scope(engine) as session, pytest.raises(UserFacingError, match="at most 100"):
        api_keys.create_api_key(session, user_id, "k" * 101)


def test_a_verified_key_is_remembered_briefly_and_forgotten_on_revoke(engine, make_account, monkeypatch) -> None:
    user_id, _, key = make_account()
    clock = [1000.0]
    monkeypatch.setattr(api_keys.time, "monotonic", lambda: clock[0])
    assert api_keys.recently_verified_tenant(key) is None
    api_keys.remember_verified_tenant(key, user_id, api_keys.revocations())
    assert api_keys.recently_verified_tenant(key) == user_id
    assert api_keys.recently_verified_tenant(key + "x") is None
    clock[0] += api_keys.KEY_CACHE_SECONDS + 0.01
    assert api_keys.recently_verified_tenant(key) is None  # stale: the database is asked again
    api_keys.remember_verified_tenant(key, user_id, api_keys.revocations())
    with session_scope(engine) as session:
        (row,) = api_keys.list_api_keys(session, user_id)
        api_keys.revoke_api_key(session, user_id, row.id)
        assert api_keys.recently_verified_tenant(key) is None
        # A verification starting now still reads the key as active (the revocation is not committed)...
        before = api_keys.revocations()
    api_keys.remember_verified_tenant(key, user_id, before)  # ...and ends after the commit: not remembered
    assert api_keys.recently_verified_tenant(key) is None


def test_a_key_is_trusted_for_the_cache_time_counted_from_before_its_database_read(make_account,
                                                                                  monkeypatch) -> None:
    """Another process's revocation may land just after this one read the key: the key must be refused
    KEY_CACHE_SECONDS after that read began, however long the verification took."""
    user_id, _, key = make_account()
    clock = [2000.0]
    monkeypatch.setattr(api_keys.time, "monotonic", lambda: clock[0])
    before = api_keys.revocations()  # the verification starts...
    clock[0] += 2.0  # ...and takes a slow 2 s
    api_keys.remember_verified_tenant(key, user_id, before)
    clock[0] += api_keys.KEY_CACHE_SECONDS - 2.0 + 0.01
    assert api_keys.recently_verified_tenant(key) is None
