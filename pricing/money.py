"""Exact Decimal arithmetic: every operation traps on rounding, so a cost is never silently inexact."""

from __future__ import annotations

from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from typing import Any

EXACT = Context(prec=120, traps=[Inexact, InvalidOperation, Overflow, DivisionByZero])
_ROUNDING = Context(prec=120, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, Overflow, DivisionByZero])
# Only a per-minute/per-hour price divided down to seconds can be non-terminating (e.g. $0.111/hour);
# such components are rounded half-even to a pico-dollar, far below any invoice's precision.
PICO = Decimal("1e-12")
ZERO = Decimal(0)


def divide(numerator: Decimal | int, denominator: int) -> Decimal:
    """numerator / denominator, exact when it terminates, else rounded to PICO."""
    try:
        return EXACT.divide(numerator, denominator)
    except Inexact:
        return _ROUNDING.divide(numerator, denominator).quantize(PICO, context=_ROUNDING)


def to_decimal(value: Any, field: str) -> Decimal:
    """Parse a price or money amount; floats go through repr so 0.1 stays 0.1."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise ValueError(f"{field}: expected a decimal number, got {type(value).__name__} {value!r}")
    try:
        dec = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except ArithmeticError:
        raise ValueError(f"{field}: expected a decimal number, got {value!r}") from None
    if not dec.is_finite() or dec < 0:
        raise ValueError(f"{field}: expected a finite number >= 0, got {value!r}")
    return dec
