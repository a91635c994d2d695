"""JobRoutr's bills, figured as the contract says (CONTRACT.md section 1, "How JobRoutr figures an
invoice"), independently of ``appliance.core.bill``: exact fractions, rounded half up to cents
only where the contract rounds. ``figured`` fills a bill's amounts and totals; ``bills`` is a
hypothesis strategy of bills built by the rules (1-20 lines, taxed and untaxed, 0-3 rates, percent
and amount discounts before and after tax, exclusive and inclusive tax, figures that land on a
half cent).

A rate's share of a before-tax discount is the discount x (its lines' amounts / the subtotal),
rounded half up to cents; the tax inside an inclusive amount is amount x p / (100 + p).
"""

from __future__ import annotations

import copy
import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

#: Tax rates seen in the wild, and ones whose products land on half cents.
PERCENTS = ["0", "5", "7.25", "8.875", "8.9", "10", "12.5", "13", "15", "20", "25"]
QUANTITIES = ["1", "2", "3", "0.5", "1.5", "0.25", "0.125", "0.333333", "10", "0.1", "12"]
DISCOUNT_PERCENTS = ["5", "10", "12.5", "15", "33.333333", "50", "100", "0.5"]


def money(value: Fraction) -> str:
    """``value`` (0 or more) rounded half up to cents, as JobRoutr writes it."""
    cents = math.floor(value * 100 + Fraction(1, 2))
    return f"{cents // 100}.{cents % 100:02d}"


def _f(text: str) -> Fraction:
    return Fraction(Decimal(text))


def _discount(data: dict[str, Any], subtotal: Fraction) -> Fraction:
    discount = data.get("discount")
    if discount is None:
        return Fraction(0)
    if "amount" in discount:
        return _f(discount["amount"])
    return _f(money(subtotal * _f(discount["percent"]) / 100))


def _rate_amount(
    data: dict[str, Any],
    rate: dict[str, Any],
    subtotal: Fraction,
    discount: Fraction,
    *,
    round_share: bool = True,
) -> str:
    base = sum(
        (_f(line["amount"]) for line in data["lines"] if line.get("tax_rate_id") == rate["id"]),
        Fraction(0),
    )
    before_tax = (data.get("discount") or {}).get("before_tax", True)
    share = discount * base / subtotal if before_tax and subtotal else Fraction(0)
    share = _f(money(share)) if round_share else share
    percent = _f(rate["percent"])
    if data["tax"]["mode"] == "inclusive":
        return money((base - share) * percent / (100 + percent))
    return money((base - share) * percent / 100)


def figured(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of an invoice's ``data`` with every line ``amount``, each rate's ``amount`` and the
    ``totals`` figured from the quantities, prices, percents and the discount."""
    data = copy.deepcopy(data)
    for line in data["lines"]:
        line["amount"] = money(_f(line["quantity"]) * _f(line["unit_price"]))
    subtotal = sum((_f(line["amount"]) for line in data["lines"]), Fraction(0))
    discount = _discount(data, subtotal)
    tax = Fraction(0)
    for rate in (data.get("tax") or {}).get("rates", []):
        rate["amount"] = _rate_amount(data, rate, subtotal, discount)
        tax += _f(rate["amount"])
    exclusive = (data.get("tax") or {}).get("mode") == "exclusive"
    data["totals"] = {
        "subtotal": money(subtotal),
        "discount": money(discount),
        "tax": money(tax),
        "total": money(subtotal - discount + (tax if exclusive else 0)),
    }
    return data


def document(data: dict[str, Any], kind: str = "invoice.created") -> dict[str, Any]:
    return {"type": kind, "timestamp": "2026-12-01T17:30:00Z", "data": data}


def _price(draw: st.DrawFn) -> str:
    """Whole cents mostly; sometimes a half cent or more decimals, so amounts round."""
    cents = draw(st.integers(0, 250_000))
    tail = draw(st.sampled_from(["", "", "5", "25", "125", "999"]))
    return f"{cents // 100}.{cents % 100:02d}{tail}"


@st.composite
def bills(draw: st.DrawFn) -> dict[str, Any]:
    """An invoice's ``data`` built by the contract's rules, figured by ``figured``."""
    rates = [
        {"id": f"rate_{i}", "name": f"Rate {i}", "percent": draw(st.sampled_from(PERCENTS))}
        for i in range(draw(st.integers(0, 3)))
    ]
    lines = []
    for n in range(draw(st.integers(1, 20))):
        line = {
            "product_id": f"prd_{n}",
            "description": f"line {n}",
            "quantity": draw(st.sampled_from(QUANTITIES)),
            "unit_price": _price(draw),
        }
        rate = draw(st.sampled_from([None, *(r["id"] for r in rates)]))
        if rate is not None:
            line["tax_rate_id"] = rate
        lines.append(line)
    data: dict[str, Any] = {
        "id": "inv_drawn",
        "customer_id": "cus_drawn",
        "issue_date": "2026-12-01",
        "lines": lines,
    }
    if rates or draw(st.booleans()):
        data["tax"] = {"mode": draw(st.sampled_from(["exclusive", "inclusive"])), "rates": rates}
    kind = draw(st.sampled_from(["none", "percent", "amount"]))
    if kind == "percent":
        data["discount"] = {"percent": draw(st.sampled_from(DISCOUNT_PERCENTS))}
    elif kind == "amount":
        subtotal = Decimal(figured(data)["totals"]["subtotal"])
        cents = draw(st.integers(0, int(subtotal * 100)))
        data["discount"] = {"amount": f"{cents // 100}.{cents % 100:02d}"}
    if "discount" in data and draw(st.booleans()):
        data["discount"]["before_tax"] = draw(st.booleans())
    return figured(data)


def other_reading(data: dict[str, Any], index: int) -> str:
    """Rate ``index``'s amount by the contract's other reading: the share of the discount left
    unrounded until the one rounding (appliance.core.bill accepts either)."""
    subtotal = sum((_f(line["amount"]) for line in data["lines"]), Fraction(0))
    rate = data["tax"]["rates"][index]
    return _rate_amount(data, rate, subtotal, _discount(data, subtotal), round_share=False)


def figure_paths(data: dict[str, Any]) -> list[str]:
    """The JSON path of every figure a bill states that its other figures fix."""
    rates = (data.get("tax") or {}).get("rates", [])
    return [
        *(f"data.lines[{i}].amount" for i in range(len(data["lines"]))),
        *(f"data.tax.rates[{j}].amount" for j, _ in enumerate(rates)),
        *(f"data.totals.{key}" for key in ("subtotal", "discount", "tax", "total")),
    ]
