"""JobRoutr bills built by the contract's arithmetic (../shared/jobroutr/CONTRACT.md §1, "How
JobRoutr figures an invoice"), and what QuickBooks is expected to hold for one (FACTS §11, the
emulator's documented choices in README "Tax and discounts on invoices"): the table tests' oracle.

A bill's rate is ``Rate(id, name, percent, code)``: ``code`` is the QBO tax code the test maps it
to (its percents: ``codes``), so a rate mapped to a code of another percent is expected to differ.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal(0)
HUNDRED = Decimal(100)


def half_up(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Rate:
    id: str
    name: str
    percent: str
    code: str | None = None  # the QBO tax code it is mapped to


@dataclass
class Spec:
    """A bill to build: its lines (quantity, unit price, rate or None), discount, tax mode."""

    label: str
    lines: list[tuple[str, str, Rate | None]]
    discount: dict[str, Any] | None = None  # {"percent": "10"} or {"amount": "5.00"}, before_tax
    mode: str = "exclusive"
    currency: str | None = None
    exchange_rate: str | None = None
    service_address: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def bill(spec: Spec, number: int, customer: str, product: str) -> dict[str, Any]:
    """The invoice's ``data`` as JobRoutr figures it."""
    amounts = [half_up(Decimal(q) * Decimal(p)) for q, p, _ in spec.lines]
    subtotal = sum(amounts, ZERO)
    discount = ZERO
    if spec.discount is not None:
        if "percent" in spec.discount:
            discount = half_up(subtotal * Decimal(spec.discount["percent"]) / HUNDRED)
        else:
            discount = Decimal(spec.discount["amount"])
    before_tax = spec.discount is None or spec.discount.get("before_tax", True)
    rates: dict[str, Rate] = {r.id: r for _, _, r in spec.lines if r is not None}
    charged: list[dict[str, str]] = []
    for rate in rates.values():
        at_rate = zip(amounts, spec.lines, strict=True)
        part = sum((a for a, (_, _, r) in at_rate if r == rate), ZERO)
        base = part - (discount * part / subtotal if before_tax and subtotal else ZERO)
        p = Decimal(rate.percent)
        tax = half_up(base * p / (HUNDRED + p) if spec.mode == "inclusive" else base * p / HUNDRED)
        charged.append({"id": rate.id, "name": rate.name, "percent": rate.percent,
                        "amount": str(tax)})  # fmt: skip
    tax_total = sum((Decimal(r["amount"]) for r in charged), ZERO)
    total = subtotal - discount + (ZERO if spec.mode == "inclusive" else tax_total)
    data: dict[str, Any] = {
        "id": f"inv_{spec.label}",
        "number": f"T{number:05d}",
        "customer_id": customer,
        "issue_date": "2026-12-03",
        "lines": [
            {
                "product_id": product,
                "description": f"line {i}",
                "quantity": q,
                "unit_price": p,
                "amount": str(a),
                **({"tax_rate_id": r.id} if r else {}),
            }
            for i, ((q, p, r), a) in enumerate(zip(spec.lines, amounts, strict=True))
        ],
        "totals": {
            "subtotal": f"{subtotal:.2f}",
            "discount": f"{discount:.2f}",
            "tax": f"{tax_total:.2f}",
            "total": f"{total:.2f}",
        },
        **spec.extra,
    }
    if spec.discount is not None:
        data["discount"] = spec.discount
    if charged:
        data["tax"] = {"mode": spec.mode, "rates": charged}
    for key in ("currency", "exchange_rate", "service_address"):
        if getattr(spec, key) is not None:
            data[key] = getattr(spec, key)
    return data


def _spread(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """As QBO (the emulator) shares a discount: pro rata, rounded, the last takes the rest."""
    whole = sum(weights, ZERO)
    if not weights or whole == 0:
        return [ZERO] * len(weights)
    shares = [half_up(total * w / whole) for w in weights[:-1]]
    return [*shares, total - sum(shares, ZERO)]


def expected(
    kind: str, spec: Spec, data: dict[str, Any], codes: dict[str, list[str]], untaxed: str = ""
) -> tuple[Decimal, Decimal]:
    """QuickBooks' (total, tax) for the bill as the writer sends it. ``codes``: each QBO tax
    code's rate percents; ``untaxed``: the code for untaxed lines. Under AST the bill's tax is
    the override, unless the service address has no AST rate in the emulator (Oregon)."""
    t = data["totals"]
    subtotal, discount, bill_tax = (Decimal(t[k]) for k in ("subtotal", "discount", "tax"))
    amounts = [Decimal(line["amount"]) for line in data["lines"]]
    if kind == "us-ast":
        where = (spec.service_address or {}).get("region")
        tax = ZERO if where == "OR" else bill_tax
    elif kind == "us-manual":
        taxed = sum((a for a, (_, _, r) in zip(amounts, spec.lines, strict=True) if r), ZERO)
        if discount and (spec.discount or {}).get("before_tax", True):
            taxed -= half_up(discount * taxed / subtotal)
        code = next((r.code for _, _, r in spec.lines if r), None)
        tax = sum((half_up(taxed * Decimal(p) / HUNDRED) for p in codes.get(code or "", [])), ZERO)
    else:
        return _abroad(spec, amounts, discount, codes, untaxed)
    return subtotal - discount + tax, tax


def _abroad(
    spec: Spec,
    amounts: list[Decimal],
    discount: Decimal,
    codes: dict[str, list[str]],
    untaxed: str,
) -> tuple[Decimal, Decimal]:
    subtotal = sum(amounts, ZERO)
    if not any(r for _, _, r in spec.lines):
        return subtotal - discount, ZERO  # no tax on the bill: NotApplicable
    by_code: dict[str, Decimal] = {}
    for amount, (_, _, rate) in zip(amounts, spec.lines, strict=True):
        code = (rate.code if rate else untaxed) or "?"
        by_code[code] = by_code.get(code, ZERO) + amount
    shares = _spread(discount, list(by_code.values())) if discount else [ZERO] * len(by_code)
    tax = ZERO
    for (code, amount), share in zip(by_code.items(), shares, strict=True):
        for p in map(Decimal, codes.get(code, [])):
            base = amount - share
            tax += half_up(
                base * p / (HUNDRED + p) if spec.mode == "inclusive" else base * p / HUNDRED
            )
    inclusive = spec.mode == "inclusive"
    return subtotal - discount + (ZERO if inclusive else tax), tax


SEATTLE = {"line1": "400 Broad St", "city": "Seattle", "region": "WA", "postal_code": "98109",
           "country": "US"}  # fmt: skip
PORTLAND = {"line1": "1 SW Main St", "city": "Portland", "region": "OR", "postal_code": "97204",
            "country": "US"}  # fmt: skip
PRICES = ("145.00", "72.50", "10.01", "19.99", "0.99", "333.33", "12.345", "1.005", "60.00")
QUANTITIES = ("1", "2", "0.5", "1.5", "3", "0.25", "7")


def generated(kind: str, rates: list[Rate], count: int, seed: int) -> list[Spec]:
    """``count`` bills for a company kind: one to four lines, taxed at one of ``rates`` (two
    different ones only where the kind takes them) or untaxed, percent or amount discounts before
    or after tax, inclusive tax outside the US, prices and quantities that round on .005."""
    rng = random.Random(f"{kind}-{seed}")  # noqa: S311 - a reproducible table, not secrets
    specs = []
    for i in range(count):
        pool = rates if kind != "us-manual" or i % 3 else rates[:1]
        if kind == "us-manual":
            pool = [rng.choice(rates)]  # one rate per US invoice (or one group code)
        lines = [
            (rng.choice(QUANTITIES), rng.choice(PRICES), rng.choice([*pool, None, pool[0]]))
            for _ in range(rng.randint(1, 4))
        ]
        discount: dict[str, Any] | None = None
        roll = rng.random()
        if roll < 0.3:
            discount = {"percent": rng.choice(["10", "5", "12.5", "33"]), "before_tax": True}
        elif roll < 0.5:
            discount = {"amount": rng.choice(["5.00", "0.01", "2.50"]), "before_tax": True}
        if discount is not None and kind.startswith("us") and rng.random() < 0.4:
            discount["before_tax"] = False
        mode = "inclusive" if not kind.startswith("us") and rng.random() < 0.35 else "exclusive"
        subtotal = sum((half_up(Decimal(q) * Decimal(p)) for q, p, _ in lines), ZERO)
        if discount is not None and Decimal(discount.get("amount", "0")) >= subtotal:
            discount = None  # JobRoutr never discounts more than the subtotal
        where = SEATTLE if kind == "us-ast" else None
        specs.append(Spec(f"{kind}-{i:02d}", lines, discount, mode, service_address=where))
    return specs
