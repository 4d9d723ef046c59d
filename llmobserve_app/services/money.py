"""Money conversions: Decimal dollars in code, integer nano-dollars in the database."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from llmobserve_app.models import NANOS_PER_USD

NANOS_EXPONENT = 9  # NANOS_PER_USD == 10**NANOS_EXPONENT


def usd_to_nanos(usd: Decimal) -> int:
    return int((usd * NANOS_PER_USD).to_integral_value(rounding=ROUND_HALF_EVEN))


def nanos_to_usd(nanos: int | None) -> Decimal:
    return Decimal(int(nanos or 0)) / NANOS_PER_USD


SIGNIFICANT_DIGITS_BELOW_A_DOLLAR = 3


def usd_plain(nanos: int | None) -> str:
    """Exact dollars as a plain decimal string ("0.1", "12.5", "0.000001"): what the API and forms exchange."""
    return f"{nanos_to_usd(nanos).normalize():f}"


def format_usd(nanos: int | None) -> str:
    """The one way money is shown (tables, cards, chart axes and hovers): two decimals from $1 ("$1,234.57"),
    three significant digits below, never fewer than two decimals ("$0.50", "$0.123", "$0.00477") and never
    "$0.00" for a cost above zero (the smallest, one nano-dollar, is "$0.000000001")."""
    usd = nanos_to_usd(nanos)
    if usd == 0:
        return "$0.00"
    sign, usd = ("-" if usd < 0 else ""), abs(usd)
    if usd < 1:
        places = max(2, SIGNIFICANT_DIGITS_BELOW_A_DOLLAR - 1 - usd.adjusted())
        rounded = usd.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
        if rounded < 1:
            whole, _, decimals = f"{rounded:f}".partition(".")
            decimals = decimals.rstrip("0").ljust(2, "0")
            return f"{sign}${whole}.{decimals}"
        usd = rounded
    return f"{sign}${usd.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):,}"
