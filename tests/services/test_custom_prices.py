"""Custom prices: validation naming the field, exact storage, hand-computed costs at ingest (incl. $0 and sub-nano
rates), effective dates, provider-less prices, isolation between accounts, and the per-process cache."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from llmobserve_app.db import session_scope
from llmobserve_app.models import CustomPrice, Event
from llmobserve_app.services import custom_prices
from llmobserve_app.services.custom_prices import InvalidPrice, parse_price
from llmobserve_app.services.ingest.rows import SHARED_PRICES
from llmobserve_app.services.ingest.store import ingest_events
from pricing import PRICE_DATA_VERSION
from tests.factories import event

JUNE = datetime(2026, 6, 1, tzinfo=UTC)


def _put(engine, tenant: int, **fields: Any) -> CustomPrice:
    with session_scope(engine) as session:
        row = custom_prices.put_price(session, tenant, parse_price(fields))
        session.expunge(row)
    custom_prices.forget(tenant)
    return row


def _ingest(engine, tenant: int, *events: dict[str, Any]) -> list[tuple[Any, ...]]:
    with session_scope(engine) as session:
        result = ingest_events(session, tenant, list(events))
    assert result.accepted == len(events), result.rejected
    spans = [e["span_id"] for e in events]
    with engine.connect() as connection:
        rows = connection.execute(sa.select(Event.span_id, Event.cost_nanos, Event.priced, Event.price_id)
                                  .where(Event.tenant_id == tenant, Event.span_id.in_(spans))).all()
    by_span = {row[0]: tuple(row[1:]) for row in rows}
    return [by_span[span] for span in spans]


def _call(provider: str, model: str, usage: dict[str, int], at: datetime = JUNE) -> dict[str, Any]:
    return event(provider=provider, model=model, usage=usage, started_at=at.isoformat())


# ----- validation --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"input_per_mtok": "1", "output_per_mtok": "1"}, "model"),
        ({"model": "m", "output_per_mtok": "1"}, "input_per_mtok"),
        ({"model": "m", "input_per_mtok": "-1", "output_per_mtok": "1"}, "input_per_mtok"),
        ({"model": "m", "input_per_mtok": "1", "output_per_mtok": "abc"}, "output_per_mtok"),
        ({"model": "m", "input_per_mtok": 2.5, "output_per_mtok": "1"}, "input_per_mtok"),  # a float is inexact
        ({"model": "m", "input_per_mtok": "NaN", "output_per_mtok": "1"}, "input_per_mtok"),
        ({"model": "m", "input_per_mtok": "0.0000000001", "output_per_mtok": "1"}, "input_per_mtok"),
        ({"model": "m", "input_per_mtok": "1", "output_per_mtok": "1", "per_request": "1e7"}, "per_request"),
        ({"model": "m", "input_per_mtok": "1", "output_per_mtok": "1", "cached_input_per_mtok": "2"},
         "cached_input_per_mtok"),
        ({"model": "m", "input_per_mtok": "1", "output_per_mtok": "1", "effective_from": "June"}, "effective_from"),
        ({"model": "x" * 201, "input_per_mtok": "1", "output_per_mtok": "1"}, "model"),
        ({"model": "m", "provider": 7, "input_per_mtok": "1", "output_per_mtok": "1"}, "provider"),
    ],
)
def test_invalid_prices_name_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidPrice) as error:
        parse_price(fields)
    assert error.value.field == field and field in error.value.message


def test_prices_are_stored_exactly_in_nanos_per_million_tokens() -> None:
    price = parse_price({"provider": "Bedrock", "model": " GPT-4o ", "input_per_mtok": "0.000000001",
                         "output_per_mtok": 12, "per_request": "0", "effective_from": "2026-06-01"})
    assert (price.provider, price.model, price.effective_from) == ("aws", "gpt-4o", JUNE)
    assert price.nanos == {"input_per_mtok": 1, "output_per_mtok": 12_000_000_000, "cached_input_per_mtok": None,
                           "reasoning_per_mtok": None, "per_request": 0}
    assert custom_prices.usd_text(1) == "0.000000001" and custom_prices.usd_text(12_000_000_000) == "12"
    assert custom_prices.usd_text(0) == "0"


# ----- hand-computed costs at ingest -------------------------------------------------------------------------


def test_a_negotiated_price_with_every_rate(engine, make_account) -> None:
    tenant, _, _ = make_account()
    row = _put(engine, tenant, provider="openai", model="gpt-4o", input_per_mtok="2", cached_input_per_mtok="0.5",
               output_per_mtok="8", reasoning_per_mtok="12", per_request="0.001")
    usage = {"input_tokens": 1000, "cached_input_tokens": 200, "output_tokens": 500, "reasoning_tokens": 100}
    # 800*2 + 200*0.5 + 400*8 + 100*12 = 6,100 per 1M = $0.0061; + $0.001 per request = $0.0071
    assert _ingest(engine, tenant, _call("openai", "gpt-4o", usage)) == [
        (7_100_000, True, f"custom:openai/gpt-4o@base#price-{row.id}")]


def test_zero_is_a_price_for_a_self_hosted_model(engine, make_account) -> None:
    tenant, _, _ = make_account()
    call = _call("ollama", "llama3.1:8b", {"input_tokens": 5000, "output_tokens": 900})
    assert _ingest(engine, tenant, call) == [(None, False, None)]  # unpriced before: never $0 by default
    row = _put(engine, tenant, provider="ollama", model="llama3.1:8b", input_per_mtok="0", output_per_mtok="0")
    assert _ingest(engine, tenant, _call("ollama", "llama3.1:8b", {"input_tokens": 5000, "output_tokens": 900})) == [
        (0, True, f"custom:ollama/llama3.1:8b@base#price-{row.id}")]


def test_sub_nano_rates_are_summed_exactly_and_rounded_once(engine, make_account) -> None:
    tenant, _, _ = make_account()
    # a price per token in nano-dollars would lose these: $0.0003 per 1M tokens is 0.3 nano-dollars a token
    _put(engine, tenant, provider="openai-compatible", model="tiny", input_per_mtok="0.0003",
         output_per_mtok="0.0003")
    _put(engine, tenant, provider="openai-compatible", model="embed", input_per_mtok="0.0000375",
         output_per_mtok="0.0000375")
    costs = _ingest(engine, tenant,
                    # 0.3 + 0.3 = 0.6 nano-dollars -> 1 (rounding each part first would give 0)
                    _call("openai-compatible", "tiny", {"input_tokens": 1, "output_tokens": 1}),
                    # 1000 * 0.0375 = 37.5 nano-dollars -> 38 (half-even); 3,000 * 0.0375 = 112.5 -> 112
                    _call("openai-compatible", "embed", {"input_tokens": 1000}),
                    _call("openai-compatible", "embed", {"input_tokens": 3000}))
    assert [cost for cost, _, _ in costs] == [1, 38, 112]


def test_effective_dates_pick_the_price_in_force_at_the_calls_start(engine, make_account) -> None:
    tenant, _, _ = make_account()
    base = _put(engine, tenant, provider="openai", model="gpt-4o-mini", input_per_mtok="1", output_per_mtok="1")
    june = _put(engine, tenant, provider="openai", model="gpt-4o-mini", input_per_mtok="2", output_per_mtok="2",
                effective_from="2026-06-01")
    later = _put(engine, tenant, provider="openai", model="gpt-4o", input_per_mtok="3", output_per_mtok="3",
                 effective_from="2026-06-01T12:00:00+02:00")  # 10:00 UTC
    usage = {"input_tokens": 1_000_000}
    got = _ingest(engine, tenant,
                  _call("openai", "gpt-4o-mini", usage, datetime(2026, 5, 31, 23, 59, 59, tzinfo=UTC)),
                  _call("openai", "gpt-4o-mini", usage, JUNE),
                  _call("openai", "gpt-4o", usage, datetime(2026, 6, 1, 9, 59, tzinfo=UTC)),
                  _call("openai", "gpt-4o", usage, datetime(2026, 6, 1, 10, 0, tzinfo=UTC)))
    assert got == [
        (1_000_000_000, True, f"custom:openai/gpt-4o-mini@base#price-{base.id}"),
        (2_000_000_000, True, f"custom:openai/gpt-4o-mini@2026-06-01#price-{june.id}"),
        # before its custom price: the bundled one, $2.5 per 1M input tokens
        (2_500_000_000, True, f"openai/gpt-4o@base#{PRICE_DATA_VERSION}"),
        (3_000_000_000, True, f"custom:openai/gpt-4o@2026-06-01T10:00Z#price-{later.id}"),
    ]


def test_a_price_for_any_provider_and_a_providers_own_price_wins(engine, make_account) -> None:
    tenant, _, _ = make_account()
    anywhere = _put(engine, tenant, model="gpt-4o", input_per_mtok="1", output_per_mtok="1")
    azure = _put(engine, tenant, provider="azure", model="gpt-4o", input_per_mtok="4", output_per_mtok="4")
    usage = {"input_tokens": 1_000_000}
    assert _ingest(engine, tenant, _call("openai", "gpt-4o", usage), _call("my-gateway", "gpt-4o", usage),
                   _call("azure-openai", "gpt-4o", usage)) == [
        (1_000_000_000, True, f"custom:*/gpt-4o@base#price-{anywhere.id}"),
        (1_000_000_000, True, f"custom:*/gpt-4o@base#price-{anywhere.id}"),
        (4_000_000_000, True, f"custom:azure/gpt-4o@base#price-{azure.id}"),
    ]


def test_one_accounts_price_is_never_seen_by_another(engine, make_account) -> None:
    mine, _, _ = make_account("mine")
    other, _, _ = make_account("other")
    _put(engine, mine, provider="openai", model="gpt-4o", input_per_mtok="0", output_per_mtok="0")
    usage = {"input_tokens": 1_000_000}
    assert _ingest(engine, other, _call("openai", "gpt-4o", usage)) == [
        (2_500_000_000, True, f"openai/gpt-4o@base#{PRICE_DATA_VERSION}")]
    assert custom_prices.prices_for(engine, other) is SHARED_PRICES
    with session_scope(engine) as session:
        (row,) = custom_prices.list_prices(session, mine)
        assert custom_prices.list_prices(session, other) == []
        assert not custom_prices.delete_price(session, other, row.id)  # another account's id: not found
    with session_scope(engine) as session:
        assert len(custom_prices.list_prices(session, mine)) == 1


def test_saving_the_same_key_again_replaces_the_price(engine, make_account) -> None:
    tenant, _, _ = make_account()
    first = _put(engine, tenant, model="m", input_per_mtok="1", output_per_mtok="1", effective_from="2026-06-01")
    second = _put(engine, tenant, model="M", input_per_mtok="2", output_per_mtok="2",
                  effective_from="2026-06-01T00:00:00Z")
    other_date = _put(engine, tenant, model="m", input_per_mtok="3", output_per_mtok="3")
    assert first.id == second.id != other_date.id
    with session_scope(engine) as session:
        rows = custom_prices.list_prices(session, tenant)
        assert [(r.model, r.input_nanos_per_mtok) for r in rows] == [("m", 3_000_000_000), ("m", 2_000_000_000)]


# ----- the per-process cache ----------------------------------------------------------------------------------


def test_another_process_change_is_seen_after_the_cache_time_and_this_process_change_at_once(
        engine, make_account) -> None:
    tenant, _, _ = make_account()
    clock = [1000.0]
    assert custom_prices.prices_for(engine, tenant, lambda: clock[0]) is SHARED_PRICES
    # another worker process saves a price: a row appears without this process's ``forget``
    with session_scope(engine) as session:
        session.add(CustomPrice(tenant_id=tenant, model="m", input_nanos_per_mtok=0, output_nanos_per_mtok=0))
    clock[0] += custom_prices.CACHE_SECONDS / 2
    assert custom_prices.prices_for(engine, tenant, lambda: clock[0]) is SHARED_PRICES  # still cached
    clock[0] += custom_prices.CACHE_SECONDS
    seen = custom_prices.prices_for(engine, tenant, lambda: clock[0])
    assert seen is not SHARED_PRICES and not seen.unknown_model("any", "m")
    clock[0] += custom_prices.CACHE_SECONDS * 2
    assert custom_prices.prices_for(engine, tenant, lambda: clock[0]) is seen  # unchanged rows: not rebuilt
    with pytest.raises(RuntimeError), session_scope(engine) as session:  # rolled back: nothing forgotten
        (row,) = custom_prices.list_prices(session, tenant)
        assert custom_prices.delete_price(session, tenant, row.id)
        raise RuntimeError("changed my mind")
    assert custom_prices.prices_for(engine, tenant, lambda: clock[0]) is seen
    with session_scope(engine) as session:
        (row,) = custom_prices.list_prices(session, tenant)
        assert custom_prices.delete_price(session, tenant, row.id)
    # the commit itself made this process forget (no caller has to): the next batch gets the shared prices
    assert custom_prices.prices_for(engine, tenant, lambda: clock[0]) is SHARED_PRICES


def test_an_unreadable_database_prices_with_what_was_last_known(tmp_path) -> None:
    unreadable = sa.create_engine(f"sqlite:///{tmp_path / 'no-such-folder' / 'db.sqlite'}")
    assert custom_prices.prices_for(unreadable, 1) is SHARED_PRICES  # the store reports the failure itself
