"""Ingest API keys: created once (the plaintext is returned once and never stored), listed, revoked."""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from llmobserve_app.models import ApiKey, utcnow
from llmobserve_app.services.errors import UserFacingError

KEY_PREFIX = "llmo_sk_"
_VISIBLE_PREFIX_LENGTH = len(KEY_PREFIX) + 6
_LAST_USED_RESOLUTION = timedelta(minutes=1)  # write last_used_at at most once a minute per key
KEY_CACHE_SECONDS = 5.0
# key hash -> (tenant, time.monotonic() until which it may be trusted): valid keys only, so bounded by them
_recent_keys: dict[str, tuple[int, float]] = {}
_revocations = 0  # bumped by every revoke: a verification that overlapped one is not remembered


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def create_api_key(session: Session, user_id: int, name: str) -> tuple[ApiKey, str]:
    """Create a key; return the row and the plaintext, which is never available again."""
    name = name.strip() or "Default key"
    if len(name) > 100:
        raise UserFacingError("Key name must be at most 100 characters.", "name")
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(user_id=user_id, name=name, prefix=plaintext[:_VISIBLE_PREFIX_LENGTH], key_hash=hash_key(plaintext))
    session.add(key)
    session.flush()
    return key, plaintext


def create_first_key(session: Session, user_id: int) -> str | None:
    """An account's first key (plaintext), or None when the account has ever had one: onboarding shows it once."""
    if session.exec(select(ApiKey.id).where(ApiKey.user_id == user_id).limit(1)).first() is not None:
        return None
    return create_api_key(session, user_id, "Default key")[1]


def list_api_keys(session: Session, user_id: int) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.id)))


def revoke_api_key(session: Session, user_id: int, key_id: int) -> None:
    """Revoke one of the user's keys. A key of another account is reported as not found."""
    key = session.get(ApiKey, key_id)
    if key is None or key.user_id != user_id:
        raise UserFacingError("No such API key.", "key_id")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
    # Now, and again once the revocation is committed: a verification that read the key before the commit
    # must not remember it after the first clearing.
    _forget_verified_keys()
    sa.event.listen(session, "after_commit", lambda _session: _forget_verified_keys(), once=True)


def _forget_verified_keys() -> None:
    global _revocations
    _revocations += 1
    _recent_keys.clear()


def tenant_for_key(session: Session, plaintext: str) -> int | None:
    """The tenant an active key belongs to, or None; notes when the key was last used."""
    if not plaintext.startswith(KEY_PREFIX):
        return None
    key = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(plaintext))).first()
    if key is None or key.revoked_at is not None:
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at >= _LAST_USED_RESOLUTION:
        session.execute(sa.update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
    return key.user_id


def recently_verified_tenant(plaintext: str) -> int | None:
    """The tenant of a key ``tenant_for_key`` accepted less than ``KEY_CACHE_SECONDS`` ago, else None.

    The ingest API asks this first, so a stream of batches does not query the database per request. Revoking a
    key in this process forgets every remembered key at once; another process sharing the database (a second
    web worker) may accept a revoked key for up to ``KEY_CACHE_SECONDS``."""
    remembered = _recent_keys.get(hash_key(plaintext))
    if remembered is None or remembered[1] < time.monotonic():
        return None
    return remembered[0]


def revocations() -> tuple[int, float]:
    """A mark to take before verifying a key and pass to ``remember_verified_tenant``: the revocation counter
    and the time, so a key is trusted ``KEY_CACHE_SECONDS`` from before its database read, not after it (a
    revocation committed by another process is then refused everywhere within ``KEY_CACHE_SECONDS``)."""
    return _revocations, time.monotonic()


def remember_verified_tenant(plaintext: str, tenant_id: int, revocations_before: tuple[int, float]) -> None:
    """Remember a key ``tenant_for_key`` accepted, unless a key was revoked since ``revocations_before``."""
    counter, verified_at = revocations_before
    if counter == _revocations:
        _recent_keys[hash_key(plaintext)] = (tenant_id, verified_at + KEY_CACHE_SECONDS)
