"""Bills figured the way JobRoutr figures them (../shared/jobroutr/CONTRACT.md section 1), written
here independently of the appliance's own check (appliance.core.bill), so each is the other's
oracle: line amounts, the discount, each rate's tax, and the totals.

``figured`` takes lines with ``quantity``, ``unit_price`` and an optional ``tax_rate_id`` and
fills in every figure; a rate's tax is (its lines' amounts, less their share of the discount
when ``before_tax``) x percent, rounded half up to cents once, the share being the discount in
proportion to those lines' part of the subtotal.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> str:
    return str(cents(value))


def figured(
    data: dict[str, Any],
    *,
    rates: list[dict[str, str]] | None = None,
    mode: str = "exclusive",
    discount: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``data`` (an invoice's) with line amounts, ``tax`` (when ``rates``), ``discount`` and
    ``totals`` as JobRoutr would send them. ``rates``: ``[{"id", "name", "percent"}]``."""
    bill = dict(data)
    lines = [dict(line) for line in data["lines"]]
    for line in lines:
        line["amount"] = money(Decimal(line["quantity"]) * Decimal(line["unit_price"]))
    bill["lines"] = lines
    subtotal = sum((Decimal(line["amount"]) for line in lines), Decimal(0))
    off = Decimal(0)
    if discount is not None:
        bill["discount"] = dict(discount)
        off = (
            Decimal(discount["amount"])
            if "amount" in discount
            else cents(subtotal * Decimal(discount["percent"]) / 100)
        )
    before_tax = discount is None or discount.get("before_tax", True)
    tax = Decimal(0)
    if rates:
        taxed_rates = []
        for rate in rates:
            own = [line for line in lines if line.get("tax_rate_id") == rate["id"]]
            base = sum((Decimal(line["amount"]) for line in own), Decimal(0))
            if before_tax and subtotal:
                base -= off * base / subtotal
            percent = Decimal(rate["percent"])
            amount = (
                cents(base * percent / 100)
                if mode == "exclusive"
                else cents(base * percent / (100 + percent))
            )
            taxed_rates.append(dict(rate) | {"amount": str(amount)})
            tax += amount
        bill["tax"] = {"mode": mode, "rates": taxed_rates}
    total = subtotal - off + (tax if mode == "exclusive" else Decimal(0))
    bill["totals"] = {
        "subtotal": money(subtotal),
        "discount": money(off),
        "tax": money(tax),
        "total": money(total),
    }
    return bill
