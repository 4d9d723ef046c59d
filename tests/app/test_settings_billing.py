"""Billing configuration: without STRIPE_SECRET_KEY the installation is self-hosted (no billing, no billing jobs);
a hosted installation needs its webhook secret and price; PROMO_CODES and RETENTION_DAYS are checked at start."""

from __future__ import annotations

import pytest

from llmobserve_app.jobs import JobLeaseHolder, create_scheduler
from llmobserve_app.services.billing.promo_code_list import PromoCode
from llmobserve_app.services.billing.stripe_client import DEFAULT_API_BASE
from llmobserve_app.settings import ConfigError, get_settings

HOSTED = {"STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_WEBHOOK_SECRET": "whsec_x", "STRIPE_PRICE_ID": "price_x"}
VARIABLES = (*HOSTED, "STRIPE_API_BASE", "PROMO_CODES", "RETENTION_DAYS")


@pytest.fixture
def env(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()

    def set_env(**values: str):
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        return get_settings()

    yield set_env
    get_settings.cache_clear()


def _jobs(engine) -> set[str]:
    return {job.id for job in create_scheduler(JobLeaseHolder(engine)).get_jobs()}


def test_self_hosted_by_default(env, engine) -> None:
    settings = env()
    assert not settings.hosted and settings.stripe_config() is None and settings.retention_days is None
    assert not {"sync_billing", "apply_data_retention"} & _jobs(engine)


def test_self_hosted_retention_days(env, engine) -> None:
    assert env(RETENTION_DAYS="90").retention_days == 90
    assert "apply_data_retention" in _jobs(engine) and "sync_billing" not in _jobs(engine)
    for bad in ("0", "-3", "ninety"):
        with pytest.raises(ConfigError, match="RETENTION_DAYS"):
            env(RETENTION_DAYS=bad)


def test_hosted_mode(env, engine) -> None:
    settings = env(**HOSTED, PROMO_CODES="BETA,FREETEST:2026-12-31:100", API_URL="http://localhost:9999")
    config = settings.stripe_config()
    assert settings.hosted and config.api_base == DEFAULT_API_BASE and config.price_id == "price_x"
    assert config.public_url == "http://localhost:9999"
    assert "sk_test_x" not in repr(settings) and "whsec_x" not in repr(config)
    assert settings.promo_code_table()["FREETEST"].max_redemptions == 100
    assert settings.promo_code_table()["BETA"] == PromoCode("BETA")
    assert {"sync_billing", "apply_data_retention"} <= _jobs(engine)
    assert env(STRIPE_API_BASE="http://127.0.0.1:12111").stripe_config().api_base == "http://127.0.0.1:12111"


@pytest.mark.parametrize("missing", ["STRIPE_WEBHOOK_SECRET", "STRIPE_PRICE_ID"])
def test_hosted_mode_needs_its_secret_and_price(env, monkeypatch, missing) -> None:
    monkeypatch.setenv(missing, "")
    with pytest.raises(ConfigError, match=missing):
        env(**{name: value for name, value in HOSTED.items() if name != missing})


@pytest.mark.parametrize("variable, value", [("PROMO_CODES", "BETA:not-a-date"), ("STRIPE_API_BASE", "localhost"),
                                             ("RETENTION_DAYS", "30")])
def test_bad_hosted_values_are_refused_at_start(env, variable, value) -> None:
    with pytest.raises(ConfigError, match=variable):
        env(**HOSTED, **{variable: value})


def test_form_posts_may_be_redirected_to_stripe_only_in_hosted_mode(env) -> None:
    from llmobserve_app.services.billing.stripe_client import stripe_page_origins
    from llmobserve_app.web_security import content_security_policy

    assert "form-action 'self';" in content_security_policy("https://o.example.com")
    hosted = stripe_page_origins(env(**HOSTED).stripe_config())
    policy = content_security_policy("https://o.example.com", form_targets=hosted)
    assert "form-action 'self' https://checkout.stripe.com https://billing.stripe.com;" in policy
    fake = env(STRIPE_API_BASE="http://127.0.0.1:12111").stripe_config()
    assert stripe_page_origins(fake)[-1] == "http://127.0.0.1:12111"
