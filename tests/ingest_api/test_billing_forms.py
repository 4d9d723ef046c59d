"""The subscription page's form posts: Upgrade → Stripe Checkout, Manage billing → the portal, promo codes.
Each acts on the session cookie's account only; other sites' posts and signed-out posts are refused."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from ingest_api import create_ingest_app
from llmobserve_app import routes
from llmobserve_app.db import session_scope
from llmobserve_app.models import User
from llmobserve_app.services import accounts
from llmobserve_app.services.billing import subscriptions
from llmobserve_app.services.billing.promo_code_list import parse_promo_codes
from tests.factories import session_token
from tests.fakes.stripe_server import FakeStripe

ORIGIN = {"origin": "http://testserver"}


@pytest.fixture
def app_client(database_url, stripe_config, fake_stripe: FakeStripe) -> TestClient:
    api = create_ingest_app(database_url)
    api.state.stripe_config = stripe_config
    api.state.promo_codes = parse_promo_codes("BETA")
    client = TestClient(api, follow_redirects=False)
    fake_stripe.webhook_client, fake_stripe.webhook_url = client, routes.API_STRIPE_WEBHOOK
    return client


@pytest.fixture
def signed_in(engine, make_account):
    """A new account and the Cookie header of a session of it."""

    def make() -> tuple[int, dict[str, str]]:
        user_id, _, _ = make_account("billing")
        with session_scope(engine) as session:
            token = session_token(session, session.get(User, user_id))
        return user_id, {"cookie": f"{accounts.SESSION_COOKIE}={token}"} | ORIGIN

    return make


def test_upgrade_redirects_to_a_subscription_checkout_for_this_account(app_client, signed_in, fake_stripe,
                                                                     engine) -> None:
    user_id, headers = signed_in()
    reply = app_client.post(routes.BILLING_CHECKOUT, headers=headers)
    assert reply.status_code == 303 and reply.headers["location"].startswith(fake_stripe.url + "/checkout/cs_test_")
    session = fake_stripe.checkout_sessions[reply.headers["location"].rsplit("/", 1)[1]]
    assert session["mode"] == "subscription" and session["allow_promotion_codes"] is True
    assert session["client_reference_id"] == str(user_id)
    assert session["line_items"] == [{"price": fake_stripe.price_id, "quantity": "1"}]
    assert session["success_url"] == "http://testserver/settings/subscription?checkout=success"
    assert session["cancel_url"] == "http://testserver/settings/subscription?checkout=canceled"
    customer = fake_stripe.customers[session["customer"]]
    assert customer["metadata"] == {"llmobserve_account_id": str(user_id)}
    # Coming back to the success URL grants nothing: access comes from Stripe's state only.
    with session_scope(engine) as db:
        assert subscriptions.plan_for(db, user_id, hosted=True).key == "free"
    # A second Upgrade reuses the customer.
    again = app_client.post(routes.BILLING_CHECKOUT, headers=headers)
    assert fake_stripe.checkout_sessions[again.headers["location"].rsplit("/", 1)[1]]["customer"] == customer["id"]
    assert len(fake_stripe.customers) == 1


def test_upgrade_when_already_pro_goes_back_with_a_code(app_client, signed_in, fake_stripe) -> None:
    _, headers = signed_in()
    checkout = app_client.post(routes.BILLING_CHECKOUT, headers=headers).headers["location"]
    fake_stripe.complete_checkout(checkout.rsplit("/", 1)[1])
    reply = app_client.post(routes.BILLING_CHECKOUT, headers=headers)
    assert reply.headers["location"] == f"{routes.SUBSCRIPTION}?error=already_pro"


def test_manage_billing_opens_the_portal_of_this_accounts_customer(app_client, signed_in, fake_stripe) -> None:
    _, headers = signed_in()
    assert app_client.post(routes.BILLING_PORTAL, headers=headers).headers["location"] == \
        f"{routes.SUBSCRIPTION}?error=no_customer"
    checkout = app_client.post(routes.BILLING_CHECKOUT, headers=headers).headers["location"]
    customer = fake_stripe.checkout_sessions[checkout.rsplit("/", 1)[1]]["customer"]
    reply = app_client.post(routes.BILLING_PORTAL, headers=headers)
    assert reply.status_code == 303 and reply.headers["location"].startswith(fake_stripe.url + "/portal/bps_")
    portal = fake_stripe.portal_sessions[reply.headers["location"].rsplit("/", 1)[1]]
    assert portal["customer"] == customer
    assert portal["return_url"] == "http://testserver/settings/subscription"


def test_accounts_are_isolated(app_client, signed_in, fake_stripe, engine) -> None:
    """The form carries no account: a field naming another account changes nothing of it."""
    payer, payer_headers = signed_in()
    other, other_headers = signed_in()
    checkout = app_client.post(routes.BILLING_CHECKOUT, headers=payer_headers,
                               data={"account": str(other), "client_reference_id": str(other)})
    session = fake_stripe.checkout_sessions[checkout.headers["location"].rsplit("/", 1)[1]]
    assert session["client_reference_id"] == str(payer)
    fake_stripe.complete_checkout(session["id"])
    with session_scope(engine) as db:
        assert subscriptions.plan_for(db, payer, hosted=True).key == "pro"
        assert subscriptions.plan_for(db, other, hosted=True).key == "free"
        assert subscriptions.billing_row(db, other) is None
    # The other account's portal is not the payer's customer: it has none.
    assert app_client.post(routes.BILLING_PORTAL, headers=other_headers, data={"customer": session["customer"]}
                           ).headers["location"] == f"{routes.SUBSCRIPTION}?error=no_customer"


def test_promo_code_form(app_client, signed_in, engine) -> None:
    user_id, headers = signed_in()
    unknown = app_client.post(routes.BILLING_PROMO, headers=headers, data={"code": "NOPE"})
    assert unknown.headers["location"] == f"{routes.SUBSCRIPTION}?error=promo_unknown"
    ok = app_client.post(routes.BILLING_PROMO, headers=headers, data={"code": " beta "})
    assert ok.headers["location"] == f"{routes.SUBSCRIPTION}?promo=redeemed"
    with session_scope(engine) as db:
        assert subscriptions.plan_for(db, user_id, hosted=True).key == "pro"
    again = app_client.post(routes.BILLING_PROMO, headers=headers, data={"code": "BETA"})
    assert again.headers["location"] == f"{routes.SUBSCRIPTION}?error=promo_reused"


@pytest.mark.parametrize("path", [routes.BILLING_CHECKOUT, routes.BILLING_PORTAL, routes.BILLING_PROMO])
def test_cross_site_and_signed_out_posts_are_refused(app_client, signed_in, fake_stripe, path) -> None:
    _, headers = signed_in()
    forged = app_client.post(path, headers=headers | {"origin": "https://evil.example"}, data={"code": "BETA"})
    assert forged.status_code == 403 and forged.json()["error"] == "cross_origin_form"
    signed_out = app_client.post(path, headers=ORIGIN, data={"code": "BETA"})
    assert signed_out.status_code == 303
    assert urlsplit(signed_out.headers["location"]).path == routes.LOGIN
    assert parse_qs(urlsplit(signed_out.headers["location"]).query)["next"] == [routes.SUBSCRIPTION]
    assert fake_stripe.customers == {} and fake_stripe.checkout_sessions == {}


@pytest.mark.parametrize("path", [routes.BILLING_CHECKOUT, routes.BILLING_PORTAL, routes.BILLING_PROMO])
def test_self_hosted_has_no_billing_forms(database_url, signed_in, path) -> None:
    api = create_ingest_app(database_url)
    api.state.stripe_config = None
    _, headers = signed_in()
    reply = TestClient(api, follow_redirects=False).post(path, headers=headers, data={"code": "BETA"})
    assert reply.status_code == 404 and reply.json()["error"] == "billing_disabled"
