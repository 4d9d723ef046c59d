"""The ``PROMO_CODES`` setting parsed: code[:expiry[:max redemptions]], comma-separated.

Pure parsing with no database or Stripe import, so the settings module can validate the variable cheaply;
``promo_codes`` redeems them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_CODE_RE = re.compile(r"^[A-Z0-9_-]{1,100}$")


@dataclass(frozen=True)
class PromoCode:
    code: str
    expires_on: date | None = None  # last UTC day it can be redeemed
    max_redemptions: int | None = None


def normalize(code: str) -> str:
    return code.strip().upper()


def parse_promo_codes(text: str | None) -> dict[str, PromoCode]:
    """The codes of a ``PROMO_CODES`` value; ValueError naming the bad item."""
    codes: dict[str, PromoCode] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        parts = [part.strip() for part in item.split(":")]
        code = normalize(parts[0])
        if len(parts) > 3 or not _CODE_RE.match(code):
            raise ValueError(f"{item.strip()!r} is not CODE[:YYYY-MM-DD[:MAX]] (code: letters, digits, _ and -)")
        try:
            expires_on = date.fromisoformat(parts[1]) if len(parts) > 1 and parts[1] else None
        except ValueError:
            raise ValueError(f"{item.strip()!r}: the expiry must be a date as YYYY-MM-DD") from None
        maximum = parts[2] if len(parts) > 2 else ""
        if maximum and (not maximum.isdigit() or int(maximum) < 1):
            raise ValueError(f"{item.strip()!r}: the maximum number of redemptions must be a positive integer")
        codes[code] = PromoCode(code, expires_on, int(maximum) if maximum else None)
    return codes
