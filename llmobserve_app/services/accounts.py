"""Accounts and browser sessions: sign-up, login (bcrypt, rate-limited), JWT session tokens, logout.

The caller passes the configuration in: the login limiter, the JWT signing secret and the session lifetime.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from functools import cache

import bcrypt
import jwt
from sqlmodel import Session, select

from llmobserve_app.models import LoginSession, User, utcnow
from llmobserve_app.services.errors import RateLimitedError, UserFacingError
from llmobserve_app.services.rate_limit import LoginLimiter

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_BYTES = 72  # bcrypt only reads the first 72 bytes; longer passwords are refused, not cut
_JWT_ALGORITHM = "HS256"
SESSION_COOKIE = "llmo_session"  # the browser cookie that carries the session JWT
# What the sign-in and sign-up forms say for each problem; the server names the code, the page shows the text.
FORM_ERRORS = {
    "invalid": "Incorrect email or password.",
    "rate_limited": "Too many login attempts. Wait a minute and try again.",
    "password_too_short": f"Password must be at least {MIN_PASSWORD_LENGTH} characters.",
    "password_too_long": f"Password is too long: at most {MAX_PASSWORD_BYTES} bytes.",
    "invalid_email": "Enter a valid email address.",
    "invalid_name": "Enter your name (up to 200 characters).",
    "email_taken": "An account with this email already exists. Log in instead.",
}


@cache
def _dummy_hash() -> str:
    """Compared against when the email is unknown, so a login takes as long either way. Made on first use, not
    at import: a bcrypt hash costs ~0.3 s of CPU, which every process importing this module (the ingest writer
    included) paid at start-up."""
    return bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt()).decode()


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _check_password_rules(password: str) -> bytes:
    encoded = password.encode("utf-8")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserFacingError(FORM_ERRORS["password_too_short"], "password", "password_too_short")
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise UserFacingError(FORM_ERRORS["password_too_long"], "password", "password_too_long")
    return encoded


def signup(session: Session, email: str, password: str, name: str) -> User:
    email = normalize_email(email)
    name = name.strip()
    if not _EMAIL_RE.match(email) or len(email) > 320:
        raise UserFacingError(FORM_ERRORS["invalid_email"], "email", "invalid_email")
    if not name or len(name) > 200:
        raise UserFacingError(FORM_ERRORS["invalid_name"], "name", "invalid_name")
    encoded = _check_password_rules(password)
    if session.exec(select(User.id).where(User.email == email)).first() is not None:
        raise UserFacingError(FORM_ERRORS["email_taken"], "email", "email_taken")
    user = User(email=email, name=name, password_hash=bcrypt.hashpw(encoded, bcrypt.gensalt()).decode())
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str, client_address: str, limiter: LoginLimiter) -> User:
    """Return the user for valid credentials; raise a UserFacingError otherwise (same message either way)."""
    email = normalize_email(email)
    if not limiter.allow(email, client_address):
        raise RateLimitedError(FORM_ERRORS["rate_limited"], code="rate_limited")
    user = session.exec(select(User).where(User.email == email)).first()
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise UserFacingError(FORM_ERRORS["password_too_long"], "password", "password_too_long")
    stored = user.password_hash if user else _dummy_hash()
    if not bcrypt.checkpw(encoded, stored.encode()) or user is None:
        raise UserFacingError(FORM_ERRORS["invalid"], code="invalid")
    return user


def start_session(session: Session, user: User, *, secret: str, ttl_hours: int) -> str:
    """Create a server-side session lasting ``ttl_hours`` and return the JWT that names it, signed with ``secret``."""
    now = utcnow()
    login = LoginSession(
        id=secrets.token_urlsafe(24),
        user_id=user.id,
        created_at=now,
        expires_at=now + timedelta(hours=ttl_hours),
    )
    session.add(login)
    session.flush()
    claims = {"sub": str(user.id), "sid": login.id, "iat": now, "exp": login.expires_at}
    return jwt.encode(claims, secret, algorithm=_JWT_ALGORITHM)


def _decode(token: str, secret: str) -> dict | None:
    try:
        return jwt.decode(token, secret, algorithms=[_JWT_ALGORITHM], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError:
        return None


def user_for_token(session: Session, token: str | None, *, secret: str) -> User | None:
    """The user a session token belongs to, or None if it is invalid, expired or logged out."""
    if not token:
        return None
    claims = _decode(token, secret)
    if claims is None:
        return None
    login = session.get(LoginSession, claims.get("sid", ""))
    if login is None or login.revoked_at is not None or login.expires_at <= utcnow():
        return None
    if str(login.user_id) != claims["sub"]:
        return None
    return session.get(User, login.user_id)


def end_session(session: Session, token: str | None, *, secret: str) -> None:
    claims = _decode(token, secret) if token else None
    if claims is None:
        return
    login = session.get(LoginSession, claims.get("sid", ""))
    if login is not None and login.revoked_at is None:
        login.revoked_at = utcnow()
        session.add(login)
