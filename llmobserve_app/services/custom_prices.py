"""An account's own prices: validated, listed, saved, deleted, and handed to ingest (``prices_for``).

A custom price wins over the bundled one for its account only (``pricing.custom``). Prices are kept as
integer nano-dollars per million tokens: a price given with up to nine decimals is stored exactly, and the
cost of a call (tokens × price / 10**6, exact) is rounded to a nano-dollar once, as for bundled prices.

Ingest asks ``prices_for`` for every batch. Each process keeps every tenant's prices for
``CACHE_SECONDS``, then reads the tenant's rows again (one indexed query) and rebuilds only when they changed;
the process that saves or deletes a price forgets its copy at once. So another worker process applies a
change at most ``CACHE_SECONDS`` later, and a tenant without custom prices costs one dictionary look-up per
batch (and that query every ``CACHE_SECONDS``).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from llmobserve_app.models import NANOS_PER_USD, CustomPrice, utcnow
from llmobserve_app.services.after_commit import after_commit
from llmobserve_app.services.errors import UserFacingError
from llmobserve_app.services.ingest.rows import SHARED_PRICES, Prices
from llmobserve_app.services.money import usd_plain
from llmobserve_app.services.time_range import within_bounds
from pricing.aliases import canonical_provider
from pricing.custom import CustomPricing, CustomRate

logger = logging.getLogger(__name__)
CACHE_SECONDS = 2.0
_CACHE_MAX_TENANTS = 10_000
MAX_USD = Decimal(1_000_000)  # per million tokens or per request: far above any real price
_MAX_DECIMALS = 9  # stored in nano-dollars
_NAME = re.compile(r"^[^\x00-\x1f\x7f]+$")  # any printable text (model names carry / : @ . and more)

PRICE_FIELDS = ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok", "reasoning_per_mtok", "per_request")
REQUIRED_PRICE_FIELDS = ("input_per_mtok", "output_per_mtok")
_COLUMN = {"input_per_mtok": "input_nanos_per_mtok", "output_per_mtok": "output_nanos_per_mtok",
           "cached_input_per_mtok": "cached_input_nanos_per_mtok",
           "reasoning_per_mtok": "reasoning_nanos_per_mtok", "per_request": "per_request_nanos"}
_PRICE_KEY = {"input_per_mtok": "input_mtok", "output_per_mtok": "output_mtok",
              "cached_input_per_mtok": "cached_input_mtok", "reasoning_per_mtok": "reasoning_mtok"}


class InvalidPrice(UserFacingError):
    """A custom price the user must correct; ``field`` names the input field."""


@dataclass(frozen=True)
class PriceInput:
    """A validated custom price: nano-dollars per million tokens (per request for ``per_request``)."""

    provider: str | None
    model: str
    nanos: Mapping[str, int | None]  # PRICE_FIELDS -> nano-dollars (None: not given)
    effective_from: datetime | None


def parse_usd(value: Any, field: str, *, required: bool) -> int | None:
    """A decimal string (or an integer) of USD, >= 0, at most nine decimals -> nano-dollars."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidPrice(f"{field} is required (USD, a decimal string such as \"2.5\").", field)
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidPrice(f"{field} must be a decimal string such as \"2.5\" (not a float: it is inexact).", field)
    try:
        usd = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise InvalidPrice(f"{field} must be a decimal number such as \"2.5\".", field) from None
    if not usd.is_finite() or usd < 0:
        raise InvalidPrice(f"{field} must be a number >= 0.", field)
    if usd > MAX_USD:
        raise InvalidPrice(f"{field} must be at most {MAX_USD:,} USD.", field)
    nanos = usd * NANOS_PER_USD
    if nanos != nanos.to_integral_value():
        raise InvalidPrice(f"{field} has more than {_MAX_DECIMALS} decimals.", field)
    return int(nanos)


def parse_when(value: Any, field: str = "effective_from") -> datetime | None:
    """An ISO date (midnight UTC) or datetime (naive means UTC) -> aware UTC datetime; None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidPrice(f"{field} must be an ISO date or datetime such as 2026-12-01.", field) from None
    else:
        raise InvalidPrice(f"{field} must be an ISO date or datetime such as 2026-12-01.", field)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return within_bounds(parsed.astimezone(UTC), field)  # the span every other date input accepts
    except OverflowError:  # 0001-01-01T00:00+14:00 is before year 1 in UTC
        raise InvalidPrice(f"{field} is out of range.", field) from None
    except UserFacingError as error:
        raise InvalidPrice(f"{field}: {error.message}", field) from None


def _name(value: Any, field: str, max_length: int, *, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidPrice(f"{field} is required.", field)
        return None
    if not isinstance(value, str):
        raise InvalidPrice(f"{field} must be a string.", field)
    text = value.strip().lower()
    if len(text) > max_length:
        raise InvalidPrice(f"{field} must be at most {max_length} characters.", field)
    if not _NAME.match(text):
        raise InvalidPrice(f"{field} must not contain control characters.", field)
    return text


def parse_price(data: Mapping[str, Any]) -> PriceInput:
    """Validate a custom price given as the API's JSON fields; raises InvalidPrice naming the field."""
    provider = _name(data.get("provider"), "provider", 100, required=False)
    model = _name(data.get("model"), "model", 200, required=True)
    nanos = {f: parse_usd(data.get(f), f, required=f in REQUIRED_PRICE_FIELDS) for f in PRICE_FIELDS}
    cached, inp = nanos["cached_input_per_mtok"], nanos["input_per_mtok"]
    if cached is not None and inp is not None and cached > inp:
        raise InvalidPrice("cached_input_per_mtok cannot be more than input_per_mtok.", "cached_input_per_mtok")
    return PriceInput(None if provider is None else canonical_provider(provider), model or "", nanos,
                      parse_when(data.get("effective_from")))


def usd_text(nanos: int | None) -> str | None:
    """Nano-dollars as the shortest exact decimal string of USD ("2.5", "0", "0.000000001")."""
    if nanos is None:
        return None
    return usd_plain(nanos)


def as_json(price: CustomPrice) -> dict[str, Any]:
    """A custom price as the API shows it: prices as USD decimal strings, times in ISO 8601 UTC."""
    out: dict[str, Any] = {"id": price.id, "provider": price.provider, "model": price.model}
    for field in PRICE_FIELDS:
        out[field] = usd_text(getattr(price, _COLUMN[field]))
    out["effective_from"] = price.effective_from.isoformat() if price.effective_from else None
    out["created_at"] = price.created_at.isoformat()
    out["price_id"] = price_label(price)
    return out


def price_label(price: CustomPrice) -> str:
    """What the price ids of the costs this price produced end with (``...#price-17``)."""
    return custom_rate(price).label


# ----- storage ---------------------------------------------------------------------------------------------


def list_prices(session: Session, tenant_id: int) -> list[CustomPrice]:
    query = select(CustomPrice).where(CustomPrice.tenant_id == tenant_id)
    order = (CustomPrice.provider.asc().nulls_first(), CustomPrice.model,  # any provider first, same on every DB
             CustomPrice.effective_from.asc().nulls_first(), CustomPrice.id)
    return list(session.exec(query.order_by(*order)))


def _same_key(price: PriceInput) -> list[Any]:
    return [
        CustomPrice.provider.is_(None) if price.provider is None else CustomPrice.provider == price.provider,
        CustomPrice.model == price.model,
        CustomPrice.effective_from.is_(None) if price.effective_from is None
        else CustomPrice.effective_from == price.effective_from,
    ]


def put_price(session: Session, tenant_id: int, price: PriceInput) -> CustomPrice:
    """Save a price: the one of the same provider, model and effective_from is replaced (this process forgets
    the tenant's cached prices when the caller commits)."""
    after_commit(session, partial(forget, tenant_id))
    row = session.exec(select(CustomPrice).where(CustomPrice.tenant_id == tenant_id, *_same_key(price))).first()
    if row is None:
        row = CustomPrice(tenant_id=tenant_id, provider=price.provider, model=price.model,
                          effective_from=price.effective_from, input_nanos_per_mtok=0, output_nanos_per_mtok=0)
    for field in PRICE_FIELDS:
        setattr(row, _COLUMN[field], price.nanos[field])
    row.created_at = utcnow()
    session.add(row)
    session.flush()
    return row


def delete_price(session: Session, tenant_id: int, price_id: int) -> bool:
    """Delete one of the tenant's prices; False when there is none of that id for this tenant (this process
    forgets the tenant's cached prices when the caller commits)."""
    after_commit(session, partial(forget, tenant_id))
    row = session.get(CustomPrice, price_id)
    if row is None or row.tenant_id != tenant_id:
        return False
    session.delete(row)
    session.flush()
    return True


# ----- ingest: a tenant's prices, cached per process --------------------------------------------------------


_COLUMN_NAMES = ("id", "provider", "model", *_COLUMN.values(), "effective_from")
_COLUMNS = tuple(getattr(CustomPrice, c) for c in _COLUMN_NAMES)


def custom_rate(price: CustomPrice | Mapping[str, Any]) -> CustomRate:
    """What pricing needs of a stored price (a row, or a mapping of its ``_COLUMN_NAMES``)."""
    get = price.get if isinstance(price, Mapping) else lambda name: getattr(price, name)
    prices: dict[str, Decimal] = {}
    for field, key in _PRICE_KEY.items():
        nanos = get(_COLUMN[field])
        if nanos is not None:
            prices[key] = Decimal(nanos).scaleb(-9)
    if get("per_request_nanos") is not None:
        prices["requests_k"] = Decimal(get("per_request_nanos")).scaleb(-6)  # per 1,000 requests
    return CustomRate(f"price-{get('id')}", get("provider"), get("model"), prices, get("effective_from"))
# (engine, tenant) -> (fresh until, rows, prices); keyed by engine too: tests run several databases at once
_cache: dict[tuple[sa.Engine, int], tuple[float, tuple[Any, ...], Prices]] = {}
_cache_lock = threading.Lock()


def forget(tenant_id: int) -> None:
    """Drop this process's copy of a tenant's prices (after a change)."""
    with _cache_lock:
        for key in [key for key in _cache if key[1] == tenant_id]:
            del _cache[key]


def _price_rows(engine: sa.Engine, tenant_id: int) -> tuple[tuple[Any, ...], ...]:
    with engine.connect() as connection:
        return tuple(tuple(row) for row in connection.execute(
            sa.select(*_COLUMNS).where(CustomPrice.tenant_id == tenant_id).order_by(CustomPrice.id)))


def _built(rows: tuple[tuple[Any, ...], ...]) -> Prices:
    if not rows:
        return SHARED_PRICES
    return CustomPricing([custom_rate(dict(zip(_COLUMN_NAMES, row, strict=True))) for row in rows])


def load_prices(engine: sa.Engine, tenant_id: int) -> Prices:
    """The tenant's prices read afresh, leaving this process's cache alone (recalculation)."""
    return _built(_price_rows(engine, tenant_id))


def prices_for(engine: sa.Engine, tenant_id: int, clock: Callable[[], float] = time.monotonic) -> Prices:
    """The prices ingest applies to ``tenant_id``'s calls: ``SHARED_PRICES`` for a tenant without custom
    prices, else its ``CustomPricing``."""
    now = clock()
    key = (engine, tenant_id)
    hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[2]
    try:
        rows = _price_rows(engine, tenant_id)
    except sa.exc.SQLAlchemyError:
        # The database cannot be read: the batch will most likely not be stored either (the store says so
        # itself: 503, the SDK retries). Price with what was last known meanwhile; ask again next batch.
        logger.warning("could not read tenant %s's custom prices; using the last known ones", tenant_id,
                       exc_info=True)
        return hit[2] if hit is not None else SHARED_PRICES
    # unchanged rows: keep the built prices (and their caches)
    prices = hit[2] if hit is not None and hit[1] == rows else _built(rows)
    with _cache_lock:
        if len(_cache) >= _CACHE_MAX_TENANTS:
            _cache.clear()
        _cache[key] = (now + CACHE_SECONDS, rows, prices)
    return prices
