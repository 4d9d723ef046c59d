"""The hourly billing sync heals missed webhooks from Stripe's own state (real client, fake Stripe)."""

from __future__ import annotations

from llmobserve_app.db import session_scope
from llmobserve_app.services.billing import subscriptions
from llmobserve_app.services.billing.checkout import checkout_url
from llmobserve_app.services.billing.stripe_client import make_client
from llmobserve_app.services.billing.sync import sync_all


def _status(engine, user_id: int) -> tuple[str | None, str]:
    with session_scope(engine) as session:
        row = subscriptions.billing_row(session, user_id)
        return (row.status if row else None), subscriptions.plan_for(session, user_id, hosted=True).key


def test_missed_webhooks_are_healed_by_the_sync(engine, make_account, fake_stripe, stripe_config) -> None:
    client = make_client(stripe_config)
    fake_stripe.deliver_webhooks = False  # every webhook is lost
    payer, _, _ = make_account("payer")
    leaver, _, _ = make_account("leaver")
    browser_only, _, _ = make_account("never-paid")
    subscriptions_of = {}
    for user_id in (payer, leaver):
        url = checkout_url(engine, client, stripe_config, user_id)
        subscriptions_of[user_id] = fake_stripe.complete_checkout(url.rsplit("/", 1)[1])["id"]
    checkout_url(engine, client, stripe_config, browser_only)  # went to Checkout, never paid
    assert _status(engine, payer) == (None, "free")  # nothing arrived: still Free

    result = sync_all(engine, client)  # every account of the shared test database with a customer
    assert result.failed == 0 and result.changed >= 2 and result.checked >= 3
    assert _status(engine, payer) == ("active", "pro")
    assert _status(engine, leaver) == ("active", "pro")
    assert _status(engine, browser_only) == (None, "free")

    fake_stripe.cancel_at_period_end(subscriptions_of[leaver])
    fake_stripe.end_period(subscriptions_of[leaver])
    assert _status(engine, leaver) == ("active", "pro")  # the 'deleted' webhook was missed too
    result = sync_all(engine, client)
    assert result.changed == 1
    assert _status(engine, leaver) == ("canceled", "free")
    assert _status(engine, payer) == ("active", "pro")
    assert sync_all(engine, client).changed == 0  # nothing left to heal


def test_one_failing_customer_does_not_stop_the_sync(engine, make_account, fake_stripe, stripe_config,
                                                     monkeypatch) -> None:
    client = make_client(stripe_config)
    fake_stripe.deliver_webhooks = False
    first, _, _ = make_account("first")
    second, _, _ = make_account("second")
    for user_id in (first, second):
        fake_stripe.complete_checkout(checkout_url(engine, client, stripe_config, user_id).rsplit("/", 1)[1])
    with session_scope(engine) as session:
        broken = subscriptions.billing_row(session, first).stripe_customer_id
    original = fake_stripe._api

    def failing(method, path, query, form):
        if query.get("customer") == broken:
            return 500, {"error": {"message": "boom", "type": "api_error"}}
        return original(method, path, query, form)

    monkeypatch.setattr(fake_stripe, "_api", failing)
    result = sync_all(engine, client)
    assert result.failed == 1
    assert _status(engine, second) == ("active", "pro")
    assert _status(engine, first) == (None, "free")


def test_changes_made_in_stripe_are_picked_up(engine, make_account, fake_stripe, stripe_config) -> None:
    """A subscription changed through Stripe's API (retrieve, update, cancel) without a webhook."""
    client = make_client(stripe_config)
    fake_stripe.deliver_webhooks = False
    user_id, _, _ = make_account("changer")
    subscription_id = fake_stripe.complete_checkout(
        checkout_url(engine, client, stripe_config, user_id).rsplit("/", 1)[1])["id"]
    assert client.v1.subscriptions.retrieve(subscription_id).status == "active"
    client.v1.subscriptions.update(subscription_id, {"cancel_at_period_end": True})
    sync_all(engine, client)
    with session_scope(engine) as session:
        row = subscriptions.billing_row(session, user_id)
        assert (row.status, row.cancel_at_period_end) == ("active", True)
    client.v1.subscriptions.cancel(subscription_id)
    sync_all(engine, client)
    assert _status(engine, user_id) == ("canceled", "free")
