"""Browser sign-in endpoints: the server alone sets the session cookie (HttpOnly, SameSite=Strict, Secure over
https), forms from other sites are refused, ``next`` never leaves the site, logout revokes and clears."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from ingest_api import create_ingest_app
from llmobserve_app import routes
from llmobserve_app.db import session_scope
from llmobserve_app.models import ApiKey, User
from llmobserve_app.services import accounts, api_keys
from llmobserve_app.settings import get_settings
from tests.factories import unique_email, user_of_token

PASSWORD = "correct horse"


@pytest.fixture
def client(database_url: str) -> TestClient:
    return TestClient(create_ingest_app(database_url), follow_redirects=False)


def _cookie_header(response) -> str:
    cookies = [value for name, value in response.headers.multi_items() if name == "set-cookie"]
    assert len(cookies) == 1, cookies
    return cookies[0]


def _signup(client: TestClient, email: str, **headers: str):
    return client.post(routes.AUTH_SIGNUP, data={"name": "Ada", "email": email, "password": PASSWORD},
                       headers=headers)


def test_signup_sets_an_httponly_strict_cookie_and_creates_no_key(client, engine) -> None:
    email = unique_email()
    response = _signup(client, email, origin="http://testserver")
    assert response.status_code == 303 and response.headers["location"] == routes.ONBOARDING
    cookie = _cookie_header(response)
    assert cookie.startswith(f"{accounts.SESSION_COOKIE}=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path", "max-age", "samesite"} <= attributes and "secure" not in attributes
    assert "samesite=strict" in cookie.lower()
    assert f"max-age={get_settings().session_ttl_hours * 3600}" in cookie.lower()
    token = cookie.split(";")[0].split("=", 1)[1]
    with session_scope(engine) as session:
        user = user_of_token(session, token)
        assert user is not None and user.email == email
        # The first key is made (and shown once) by the onboarding page, never carried through the redirect.
        assert session.exec(select(ApiKey).where(ApiKey.user_id == user.id)).all() == []
        assert api_keys.create_first_key(session, user.id) is not None
        assert api_keys.create_first_key(session, user.id) is None  # shown once: never a second "first" key


def test_cookie_is_secure_over_https(database_url) -> None:
    client = TestClient(create_ingest_app(database_url), base_url="https://testserver", follow_redirects=False)
    response = _signup(client, unique_email(), origin="https://testserver")
    assert response.status_code == 303
    assert "secure" in {part.strip().lower() for part in _cookie_header(response).split(";")}


def test_forms_posted_from_another_site_are_refused(client, engine, make_account) -> None:
    email = unique_email("victim")
    response = _signup(client, email, origin="http://localhost:9999")  # another port is another origin
    assert response.status_code == 403 and response.json()["error"] == "cross_origin_form"
    assert "set-cookie" not in response.headers
    with session_scope(engine) as session:
        assert session.exec(select(User).where(User.email == email)).first() is None
    _, existing, _ = make_account()
    login = client.post(routes.AUTH_LOGIN, data={"email": existing, "password": PASSWORD},
                        headers={"origin": "https://evil.example"})
    assert login.status_code == 403 and "set-cookie" not in login.headers
    hidden = client.post(routes.AUTH_LOGIN, data={"email": existing, "password": PASSWORD},
                         headers={"sec-fetch-site": "cross-site"})
    assert hidden.status_code == 403


def _login(client: TestClient, email: str, password: str = PASSWORD, next_path: str | None = None):
    data = {"email": email, "password": password} | ({"next": next_path} if next_path is not None else {})
    return client.post(routes.AUTH_LOGIN, data=data, headers={"origin": "http://testserver"})


def test_login_errors_come_back_as_codes_and_keep_next(client, make_account) -> None:
    _, email, _ = make_account(password=PASSWORD)
    wrong = _login(client, email, "not the password", "/customers?range=7d")
    assert wrong.status_code == 303 and "set-cookie" not in wrong.headers
    location = urlsplit(wrong.headers["location"])
    assert location.path == routes.LOGIN
    assert parse_qs(location.query) == {"error": ["invalid"], "next": ["/customers?range=7d"]}
    assert accounts.FORM_ERRORS["invalid"] == "Incorrect email or password."
    ok = _login(client, email, next_path="/customers?range=7d")
    assert ok.status_code == 303 and ok.headers["location"] == "/customers?range=7d"
    assert _cookie_header(ok).startswith(f"{accounts.SESSION_COOKIE}=")


@pytest.mark.parametrize("next_path", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                       "javascript:alert(1)", "evil", "/ok\r\nSet-Cookie: x=1", ""])
def test_next_never_leaves_the_site(client, make_account, next_path) -> None:
    _, email, _ = make_account(password=PASSWORD)
    response = _login(client, email, next_path=next_path)
    assert response.status_code == 303 and response.headers["location"] == routes.DASHBOARD


def test_login_is_rate_limited_by_code(client, make_account) -> None:
    _, email, _ = make_account(password=PASSWORD)
    codes = [parse_qs(urlsplit(_login(client, email, "wrong password").headers["location"]).query)["error"][0]
             for _ in range(6)]
    assert codes[:5] == ["invalid"] * 5 and codes[5] == "rate_limited"


def test_signup_errors_name_the_problem(client, make_account) -> None:
    _, taken, _ = make_account()
    cases = {"invalid_email": ("not-an-email", PASSWORD), "password_too_short": (unique_email(), "short"),
             "password_too_long": (unique_email(), "x" * 80), "email_taken": (taken, PASSWORD)}
    for code, (email, password) in cases.items():
        response = client.post(routes.AUTH_SIGNUP, data={"name": "Ada", "email": email, "password": password})
        assert response.status_code == 303 and "set-cookie" not in response.headers
        assert response.headers["location"] == f"{routes.SIGNUP}?error={code}"
        assert code in accounts.FORM_ERRORS


def test_logout_revokes_the_session_and_clears_the_cookie(client, engine, make_account) -> None:
    _, email, _ = make_account(password=PASSWORD)
    token = _cookie_header(_login(client, email)).split(";")[0].split("=", 1)[1]
    client.cookies.set(accounts.SESSION_COOKIE, token)
    response = client.post(routes.AUTH_LOGOUT, headers={"origin": "http://testserver"})
    assert response.status_code == 303 and response.headers["location"] == routes.LOGIN
    cleared = _cookie_header(response).lower()
    assert cleared.startswith(f'{accounts.SESSION_COOKIE}=""') and "max-age=0" in cleared
    with session_scope(engine) as session:
        assert user_of_token(session, token) is None


def test_pickled_request_headers_carry_no_credentials() -> None:
    import pickle

    from reflex.istate.data import HeaderData

    from llmobserve_app.state import pickling

    headers = HeaderData.from_router_data({"headers": {
        "cookie": "llmo_session=secret.jwt.value", "authorization": "Bearer llmo_sk_x", "user-agent": "UA",
        "origin": "http://localhost:8000"}})
    assert "secret.jwt.value" in headers.cookie
    pickling.install_reduction()
    restored = pickle.loads(pickle.dumps(headers))
    assert b"secret.jwt.value" not in pickle.dumps(headers) and b"llmo_sk_x" not in pickle.dumps(headers)
    assert restored.cookie == "" and restored.user_agent == "UA" and restored.origin == "http://localhost:8000"
    assert dict(restored.raw_headers) == {"user-agent": "UA", "origin": "http://localhost:8000"}
