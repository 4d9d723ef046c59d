"""``POST /api/stripe/webhook`` with the real ``stripe`` client against the fake Stripe, which signs and sends
the webhooks itself: signatures, replays, arrival order, unknown accounts, self-hosted mode."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from ingest_api import create_ingest_app
from llmobserve_app import routes
from llmobserve_app.db import session_scope
from llmobserve_app.models import StripeWebhookEvent, User
from llmobserve_app.services.billing import subscriptions
from llmobserve_app.services.billing.checkout import checkout_url
from llmobserve_app.services.billing.stripe_client import make_client
from tests.fakes.stripe_server import FakeStripe, sign


@pytest.fixture
def app_client(database_url, stripe_config, fake_stripe: FakeStripe) -> TestClient:
    api = create_ingest_app(database_url)
    api.state.stripe_config = stripe_config
    client = TestClient(api, follow_redirects=False)
    fake_stripe.webhook_client, fake_stripe.webhook_url = client, routes.API_STRIPE_WEBHOOK
    return client


@pytest.fixture
def subscribe(engine, stripe_config, fake_stripe: FakeStripe, make_account):
    """A new account that went through Checkout (the fake completes it); returns (user_id, subscription id)."""

    def run() -> tuple[int, str]:
        user_id, _, _ = make_account("payer")
        url = checkout_url(engine, make_client(stripe_config), stripe_config, user_id)
        subscription = fake_stripe.complete_checkout(url.rsplit("/", 1)[1])
        return user_id, subscription["id"]

    return run


def _plan(engine, user_id: int) -> str:
    with session_scope(engine) as session:
        return subscriptions.plan_for(session, user_id, hosted=True).key


def _row(engine, user_id: int):
    with session_scope(engine) as session:
        return subscriptions.billing_row(session, user_id)


def _post(client: TestClient, event: dict, signature: str | None) -> int:
    headers = {"content-type": "application/json"} | ({"stripe-signature": signature} if signature else {})
    return client.post(routes.API_STRIPE_WEBHOOK, content=json.dumps(event).encode(), headers=headers).status_code


def test_completed_checkout_gives_pro_through_the_webhooks(app_client, engine, subscribe, fake_stripe) -> None:
    user_id, subscription_id = subscribe()
    assert [status for _, status in fake_stripe.deliveries] == [200, 200, 200]
    row = _row(engine, user_id)
    assert (row.status, row.stripe_subscription_id, row.cancel_at_period_end) == ("active", subscription_id, False)
    assert row.current_period_end is not None
    assert _plan(engine, user_id) == "pro"
    with session_scope(engine) as session:
        assert session.get(User, user_id).subscription_tier == "pro"
    # The handlers asked Stripe for the state: they listed the customer's subscriptions, once per event.
    assert fake_stripe.requests.count(("GET", "/v1/subscriptions")) == 3


def test_a_replayed_event_answers_200_and_does_nothing(app_client, engine, subscribe, fake_stripe) -> None:
    user_id, subscription_id = subscribe()
    created = fake_stripe.events[0]
    fake_stripe.subscriptions[subscription_id]["status"] = "past_due"  # would change the row if re-handled
    before = fake_stripe.requests.count(("GET", "/v1/subscriptions"))
    assert fake_stripe.deliver(created) == 200
    assert app_client.post(routes.API_STRIPE_WEBHOOK, content=json.dumps(created).encode(), headers={
        "stripe-signature": sign(json.dumps(created).encode(), fake_stripe.webhook_secret)}).json()["outcome"] \
        == "duplicate"
    assert fake_stripe.requests.count(("GET", "/v1/subscriptions")) == before  # not even re-fetched
    assert _row(engine, user_id).status == "active"


@pytest.mark.parametrize("signature", [None, "", "t=1,v1=deadbeef", "garbage", "wrong-secret", "stale"])
def test_missing_or_bad_signature_is_400_and_changes_nothing(app_client, engine, subscribe, fake_stripe,
                                                             signature) -> None:
    user_id, subscription_id = subscribe()
    fake_stripe.subscriptions[subscription_id]["status"] = "canceled"
    event = fake_stripe.event("customer.subscription.deleted", fake_stripe.subscriptions[subscription_id])
    body = json.dumps(event).encode()
    header = {"wrong-secret": sign(body, "whsec_other"),
              "stale": sign(body, fake_stripe.webhook_secret, timestamp=1_000_000)}.get(signature, signature)
    reply = app_client.post(routes.API_STRIPE_WEBHOOK, content=body,
                            headers={"stripe-signature": header} if header is not None else {})
    assert reply.status_code == 400
    assert reply.json()["error"] == "invalid_signature"
    assert _row(engine, user_id).status == "active"
    with session_scope(engine) as session:
        assert session.get(StripeWebhookEvent, event["id"]) is None
    # A body altered after signing is refused too.
    tampered = body.replace(b"canceled", b"active")
    assert _post(app_client, json.loads(tampered), sign(body, fake_stripe.webhook_secret)) == 400


def test_out_of_order_events_end_in_stripes_current_state(app_client, engine, subscribe, fake_stripe) -> None:
    user_id, subscription_id = subscribe()
    subscription = fake_stripe.subscriptions[subscription_id]
    stale_active = fake_stripe.event("customer.subscription.updated", subscription)  # taken while active
    subscription.update(cancel_at_period_end=True)
    fake_stripe.end_period(subscription_id)  # canceled, 'deleted' delivered
    assert _row(engine, user_id).status == "canceled" and _plan(engine, user_id) == "free"
    # The older 'updated' (active) event arrives last: Stripe says canceled, so canceled it stays.
    assert fake_stripe.deliver(stale_active) == 200
    late_paid = fake_stripe.event("invoice.paid", {"id": "in_late", "object": "invoice",
                                                    "customer": subscription["customer"],
                                                    "subscription": subscription_id})
    assert fake_stripe.deliver(late_paid) == 200
    assert _row(engine, user_id).status == "canceled" and _plan(engine, user_id) == "free"


def test_a_stale_fetch_cannot_resurrect_a_canceled_subscription(engine, subscribe, app_client, fake_stripe) -> None:
    from llmobserve_app.services.billing.stripe_subscriptions import snapshot_of

    user_id, subscription_id = subscribe()
    subscription = fake_stripe.subscriptions[subscription_id]
    active = snapshot_of(subscription)  # read before the cancel, stored after it (a lost race)
    subscription["cancel_at_period_end"] = True
    fake_stripe.end_period(subscription_id)
    with session_scope(engine) as session:
        assert subscriptions.store_snapshot(session, subscriptions.billing_row(session, user_id), active) is False
    assert _row(engine, user_id).status == "canceled"


def test_payment_failure_and_recovery_follow_stripe(app_client, engine, subscribe, fake_stripe) -> None:
    user_id, subscription_id = subscribe()
    customer = fake_stripe.subscriptions[subscription_id]["customer"]
    fake_stripe.subscriptions[subscription_id]["status"] = "unpaid"
    fake_stripe.deliver(fake_stripe.event("invoice.payment_failed", {
        "id": "in_1", "object": "invoice", "customer": customer, "subscription": subscription_id}))
    assert _row(engine, user_id).status == "unpaid" and _plan(engine, user_id) == "free"
    fake_stripe.set_status(subscription_id, "active", "customer.subscription.updated")
    assert _plan(engine, user_id) == "pro"


def test_an_event_for_an_unknown_customer_is_200_and_logged(app_client, engine, fake_stripe, caplog) -> None:
    customer = fake_stripe.create_customer({"email": "stranger@example.com"})
    subscription = fake_stripe._new_subscription(customer["id"])
    event = fake_stripe.event("customer.subscription.created", subscription)
    with caplog.at_level("WARNING"):
        assert fake_stripe.deliver(event) == 200
    assert "no account of ours" in caplog.text
    with session_scope(engine) as session:
        assert subscriptions.account_for_customer(session, customer["id"]) is None


def test_unhandled_event_types_are_acknowledged(app_client, fake_stripe) -> None:
    event = fake_stripe.event("charge.refunded", {"id": "ch_1", "object": "charge", "customer": "cus_x"})
    body = json.dumps(event).encode()
    reply = app_client.post(routes.API_STRIPE_WEBHOOK, content=body,
                            headers={"stripe-signature": sign(body, fake_stripe.webhook_secret)})
    assert reply.status_code == 200 and reply.json()["outcome"] == "ignored"


def test_stripe_down_is_502_so_stripe_retries(app_client, engine, subscribe, fake_stripe) -> None:
    user_id, subscription_id = subscribe()
    event = fake_stripe.event("customer.subscription.updated", fake_stripe.subscriptions[subscription_id])
    fake_stripe.secret_key = "sk_rotated"  # our key is refused: Stripe cannot be read
    assert fake_stripe.deliver(event) == 502
    with session_scope(engine) as session:
        assert session.get(StripeWebhookEvent, event["id"]) is None  # not stored: the retry will be handled
    fake_stripe.secret_key = "sk_test_fake"
    assert fake_stripe.deliver(event) == 200


def test_self_hosted_has_no_webhook(database_url, fake_stripe) -> None:
    api = create_ingest_app(database_url)
    api.state.stripe_config = None
    event = fake_stripe.event("customer.subscription.created", {"id": "sub_1", "customer": "cus_1"})
    body = json.dumps(event).encode()
    reply = TestClient(api).post(routes.API_STRIPE_WEBHOOK, content=body,
                                 headers={"stripe-signature": sign(body, fake_stripe.webhook_secret)})
    assert reply.status_code == 404 and reply.json()["error"] == "billing_disabled"


def test_a_twin_handled_meanwhile_makes_this_one_a_duplicate(app_client, engine, subscribe, fake_stripe,
                                                             stripe_config, monkeypatch) -> None:
    """Two deliveries of one event at once: both pass the first check, the event id's key lets one commit."""
    from llmobserve_app.services.billing import webhooks

    user_id, subscription_id = subscribe()
    event = fake_stripe.event("customer.subscription.updated", fake_stripe.subscriptions[subscription_id])
    fake_stripe.subscriptions[subscription_id]["status"] = "past_due"
    with session_scope(engine) as session:
        session.add(StripeWebhookEvent(id=event["id"], type=event["type"]))  # the twin committed first
    monkeypatch.setattr(webhooks, "_already_handled", lambda _engine, _event_id: False)
    assert webhooks.handle_event(engine, make_client(stripe_config), event) == webhooks.Outcome.DUPLICATE
    assert _row(engine, user_id).status == "active"  # its effect rolled back with the refused event id
