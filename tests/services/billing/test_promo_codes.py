"""Our promo codes: parsing PROMO_CODES, and redeeming (valid, unknown, expired, exhausted, reused)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from llmobserve_app.db import session_scope
from llmobserve_app.models import PromoRedemption
from llmobserve_app.services.billing import subscriptions
from llmobserve_app.services.billing.promo_code_list import PromoCode, parse_promo_codes
from llmobserve_app.services.billing.promo_codes import redeem
from llmobserve_app.services.errors import UserFacingError

TODAY = date(2026, 12, 1)


def test_parse_promo_codes() -> None:
    assert parse_promo_codes("BETA,freetest:2026-12-31:100, LAUNCH::5 ,") == {
        "BETA": PromoCode("BETA"),
        "FREETEST": PromoCode("FREETEST", date(2026, 12, 31), 100),
        "LAUNCH": PromoCode("LAUNCH", None, 5),
    }
    assert parse_promo_codes("") == {} and parse_promo_codes(None) == {}


@pytest.mark.parametrize("text, message", [
    ("BETA:31-12-2026", "YYYY-MM-DD"), ("BETA:2026-12-31:0", "positive integer"),
    ("BETA:2026-12-31:x", "positive integer"), ("BAD CODE", "CODE[:YYYY-MM-DD[:MAX]]"), ("A:B:C:D", "CODE["),
])
def test_bad_promo_codes_config_names_the_item(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        parse_promo_codes(text)


def _redeem(engine, codes: str, user_id: int, entered: str, today: date = TODAY) -> str:
    """The error code, or "ok"."""
    try:
        with session_scope(engine) as session:
            redeem(session, parse_promo_codes(codes), user_id, entered, today)
    except UserFacingError as error:
        assert error.field == "promo_code" and error.message
        return error.code
    return "ok"


def _plan(engine, user_id: int) -> str:
    with session_scope(engine) as session:
        return subscriptions.plan_for(session, user_id, hosted=True).key


def test_valid_code_gives_pro_and_is_recorded(engine, make_account) -> None:
    user_id, _, _ = make_account()
    assert _plan(engine, user_id) == "free"
    assert _redeem(engine, "BETA", user_id, "beta") == "ok"
    assert _plan(engine, user_id) == "pro"
    with session_scope(engine) as session:
        rows = session.exec(select(PromoRedemption).where(PromoRedemption.user_id == user_id)).all()
        assert [(row.code, row.user_id) for row in rows] == [("BETA", user_id)]
        assert subscriptions.billing_row(session, user_id).promo_code == "BETA"


def test_unknown_empty_and_expired_codes(engine, make_account) -> None:
    user_id, _, _ = make_account()
    assert _redeem(engine, "BETA", user_id, "NOPE") == "promo_unknown"
    assert _redeem(engine, "BETA", user_id, "  ") == "promo_empty"
    assert _redeem(engine, "OLD:2026-11-30", user_id, "OLD") == "promo_expired"
    assert _redeem(engine, "LAST:2026-12-01", user_id, "LAST") == "ok"  # the expiry day itself still counts
    with session_scope(engine) as session:
        codes = session.exec(select(PromoRedemption.code).where(PromoRedemption.user_id == user_id)).all()
    assert codes == ["LAST"]  # refusals recorded nothing


def test_expired_message_names_the_day(engine, make_account) -> None:
    user_id, _, _ = make_account()
    with session_scope(engine) as session, pytest.raises(UserFacingError, match="expired on 2026-11-30"):
        redeem(session, parse_promo_codes("OLD:2026-11-30"), user_id, "OLD", TODAY)


def test_each_code_once_per_account(engine, make_account) -> None:
    user_id, _, _ = make_account()
    assert _redeem(engine, "BETA,OTHER", user_id, "BETA") == "ok"
    assert _redeem(engine, "BETA,OTHER", user_id, "beta") == "promo_reused"
    assert _redeem(engine, "BETA,OTHER", user_id, "OTHER") == "ok"


def test_exhausted_code(engine, make_account) -> None:
    code = f"TWO{make_account()[0]}"  # unique per test database run
    config = f"{code}::2"
    users = [make_account()[0] for _ in range(3)]
    assert [_redeem(engine, config, user_id, code) for user_id in users] == ["ok", "ok", "promo_exhausted"]
    assert _plan(engine, users[2]) == "free"
    with session_scope(engine) as session:
        assert len(session.exec(select(PromoRedemption).where(PromoRedemption.code == code)).all()) == 2
