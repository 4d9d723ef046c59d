"""Accounts and sessions: sign-up rules, bcrypt login, rate limits, JWT sessions, logout."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from sqlmodel import select

from llmobserve_app.db import session_scope
from llmobserve_app.models import LoginSession, User, utcnow
from llmobserve_app.services import accounts
from llmobserve_app.services.errors import RateLimitedError, UserFacingError
from llmobserve_app.services.rate_limit import LoginLimiter
from tests.factories import unique_email

SECRET = "a-test-secret-of-at-least-32-characters"


@pytest.fixture
def limiter() -> LoginLimiter:
    """Fresh counters with the default limits: 5 attempts a minute per account, 20 per address."""
    return LoginLimiter("5/minute", "20/minute")


def test_signup_stores_bcrypt_hash_and_normalised_email(engine) -> None:
    email = unique_email("Ada").upper()
    with session_scope(engine) as session:
        user = accounts.signup(session, f"  {email} ", "correct horse", " Ada ")
    with session_scope(engine) as session:
        stored = session.exec(select(User).where(User.id == user.id)).one()
    assert stored.email == email.lower()
    assert stored.name == "Ada"
    assert stored.password_hash.startswith("$2b$") and "correct horse" not in stored.password_hash


@pytest.mark.parametrize(
    ("email", "password", "name", "field", "message"),
    [
        ("not-an-email", "correct horse", "Ada", "email", "valid email"),
        ("a@example.com", "short", "Ada", "password", "at least 8"),
        ("a@example.com", "correct horse", "  ", "name", "Enter your name"),
        ("a@example.com", "x" * 73, "Ada", "password", "at most 72 bytes"),
        ("a@example.com", "é" * 37, "Ada", "password", "at most 72 bytes"),  # 37 chars, 74 bytes
    ],
)
def test_signup_rejects_bad_input_with_a_clear_message(engine, email, password, name, field, message) -> None:
    with session_scope(engine) as session, pytest.raises(UserFacingError) as caught:
        accounts.signup(session, email, password, name)
    assert caught.value.field == field
    assert message in caught.value.message


def test_signup_refuses_a_taken_email_and_writes_nothing(engine, make_account) -> None:
    _, email, _ = make_account()
    with pytest.raises(UserFacingError, match="already exists"), session_scope(engine) as session:
        accounts.signup(session, email.upper(), "another password", "Other")
    with session_scope(engine) as session:
        assert len(session.exec(select(User).where(User.email == email)).all()) == 1


def test_password_of_exactly_72_bytes_works(engine, limiter) -> None:
    email, password = unique_email(), "p" * 72
    with session_scope(engine) as session:
        accounts.signup(session, email, password, "Max")
    with session_scope(engine) as session:
        assert accounts.authenticate(session, email, password, "10.0.0.1", limiter).email == email


def test_login_success_and_identical_failure_messages(engine, make_account, limiter) -> None:
    _, email, _ = make_account()
    with session_scope(engine) as session:
        assert accounts.authenticate(session, email, "correct horse", "127.0.0.1", limiter).email == email
    messages = []
    for attempt_email in (email, unique_email("nobody")):
        with session_scope(engine) as session, pytest.raises(UserFacingError) as caught:
            accounts.authenticate(session, attempt_email, "wrong password", "127.0.0.1", limiter)
        messages.append(caught.value.message)
    assert messages[0] == messages[1] == "Incorrect email or password."


def test_login_is_rate_limited_per_account(engine, make_account, limiter) -> None:
    _, email, _ = make_account()
    for attempt in range(5):
        with session_scope(engine) as session, pytest.raises(UserFacingError):
            accounts.authenticate(session, email, f"wrong {attempt}", f"10.0.0.{attempt}", limiter)
    # Even the right password is refused now, from yet another address.
    with session_scope(engine) as session, pytest.raises(RateLimitedError, match="Too many login attempts"):
        accounts.authenticate(session, email, "correct horse", "10.0.1.1", limiter)


def test_login_is_rate_limited_per_address(engine, limiter) -> None:
    refused = 0
    for _ in range(25):  # a different account each time: only the per-address limit can trigger
        with session_scope(engine) as session:
            try:
                accounts.authenticate(session, unique_email("probe"), "wrong password", "192.0.2.7", limiter)
            except RateLimitedError:
                refused += 1
            except UserFacingError:
                pass
    assert refused == 25 - 20  # 20 attempts a minute per address
    with session_scope(engine) as session, pytest.raises(UserFacingError, match="Incorrect"):
        accounts.authenticate(session, unique_email("probe"), "wrong password", "192.0.2.8", limiter)


def test_session_token_round_trip_and_logout(engine, make_account) -> None:
    user_id, _, _ = make_account()
    with session_scope(engine) as session:
        token = accounts.start_session(session, session.get(User, user_id), secret=SECRET, ttl_hours=1)
    with session_scope(engine) as session:
        assert accounts.user_for_token(session, token, secret=SECRET).id == user_id
        accounts.end_session(session, token, secret=SECRET)
    with session_scope(engine) as session:
        assert accounts.user_for_token(session, token, secret=SECRET) is None


def test_forged_expired_and_garbage_tokens_are_refused(engine, make_account) -> None:
    user_id, _, _ = make_account()
    with session_scope(engine) as session:
        token = accounts.start_session(session, session.get(User, user_id), secret=SECRET, ttl_hours=1)
        claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    forged = jwt.encode({**claims, "sub": str(user_id + 1)}, SECRET, algorithm="HS256")
    other_secret = jwt.encode(claims, "another-secret-of-sufficient-length-1234", algorithm="HS256")
    with session_scope(engine) as session:
        for bad in (forged, other_secret, "garbage", "", None):
            assert accounts.user_for_token(session, bad, secret=SECRET) is None
        login = session.get(LoginSession, claims["sid"])
        login.expires_at = utcnow() - timedelta(seconds=1)
        session.add(login)
    with session_scope(engine) as session:
        assert accounts.user_for_token(session, token, secret=SECRET) is None
