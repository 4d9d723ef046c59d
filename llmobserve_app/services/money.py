"""Money conversions: Decimal dollars in code, integer nano-dollars in the database."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from llmobserve_app.models import NANOS_PER_USD

NANOS_EXPONENT = 9  # NANOS_PER_USD == 10**NANOS_EXPONENT


def usd_to_nanos(usd: Decimal) -> int:
    return int((usd * NANOS_PER_USD).to_integral_value(rounding=ROUND_HALF_EVEN))


def nanos_to_usd(nanos: int | None) -> Decimal:
    return Decimal(int(nanos or 0)) / NANOS_PER_USD


def format_usd(nanos: int | None) -> str:
    """Human dollars: cents for everyday amounts, more digits for sub-cent ones (never '$0.00' for >0)."""
    usd = nanos_to_usd(nanos)
    if usd == 0:
        return "$0.00"
    if abs(usd) >= Decimal("0.01"):
        return f"${usd.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):,}"
    return f"${usd.quantize(Decimal('0.000001'), rounding=ROUND_HALF_EVEN).normalize():f}"
