"""Money as the pull API writes it: one way, with cents ("75.00", "0.00", "12.50").

QuickBooks sends amounts as JSON numbers, so a price of 75 arrives as ``75`` and 12.5 as ``12.5``;
kept as given, JobRoutr read "75", "0" and "12.50" side by side (issue 22). An amount with more
places than cents (a unit price of 0.125) keeps them: rounding it would change the price.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")


def money_text(value: Any) -> str | None:
    """``value`` (a number, or a decimal string) with at least two decimal places; None for
    anything that is not a finite number (or is a bool)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    if not amount.is_finite():
        return None
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -2:
        amount = amount.quantize(CENT)
    else:
        amount = amount.normalize()
    return f"{amount:f}"
