"""Whether an invoice's own figures add up as JobRoutr figures them (CONTRACT.md section 1, "How
JobRoutr figures an invoice"), checked at intake so that a bill that does not add up is refused
(422 naming the figure) rather than written and found different by the read-back.

Pure functions; nothing here raises on hostile input. Each finding is a JSON path and a sentence
that gives the figure it must be and what that is made of
(``data.totals.total``, ``must be 215.08: subtotal 217.50 - discount 20.00 + tax 17.58``).

The rules, every rounding half up to cents:

- A line's ``amount`` = ``quantity`` x ``unit_price``. A line may leave ``amount`` out: the
  contract fixes it, so the appliance figures it by the same rule (``line_amount``).
- ``totals.subtotal`` = the sum of the line amounts.
- ``totals.discount`` = ``discount.amount``, or ``subtotal`` x ``discount.percent`` / 100;
  ``0.00`` without a discount. A discount has a percent or an amount, not both; a percent is at
  most 100 and an amount at most the subtotal.
- Each tax rate's ``amount`` is figured on its *base*: the amounts of the lines whose
  ``tax_rate_id`` is its ``id``, less their *share of the discount* when the discount is
  ``before_tax`` (the default). The share is the discount x base / subtotal, rounded to cents per
  rate (so the shares of two rates may differ by a cent from a split of the rounded whole; the
  untaxed lines keep the rest). The contract rounds once, "rounded half up to cents" after the
  percent, so it can also be read with the share left unrounded: a rate amount that is right by
  either reading is accepted (they differ by at most a cent, in rare bills), since refusing a
  bill JobRoutr figured by the other reading would lose it; QuickBooks' own figure is compared
  with the bill after the write anyway. ``"exclusive"``: amount = base x percent / 100.
  ``"inclusive"``: the line amounts hold the tax, amount = base x percent / (100 + percent).
- ``totals.tax`` = the sum of the rates' amounts (``0.00`` without tax).
- ``totals.total`` = subtotal - discount + tax (exclusive), or subtotal - discount (inclusive, and
  without tax).
- Every ``tax_rate_id`` names one of ``tax.rates[].id``; the ids are unique; a line with a rate
  needs the invoice's ``tax``.
- ``exchange_rate``, when given, is more than 0, and it is required when ``currency`` is not the
  company's home currency (when the appliance knows it: until the company's books are read, the
  push checks).

A figure is checked against what the figures it is made of make it, those being figured
themselves (a subtotal against the line amounts as quantity x price, not as stated), so one wrong
figure is named alone, not with every total built on it. A figure whose format is wrong (named by
``core.events``) is not added up: what is built on it is checked against the figures as stated,
or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Any

#: A problem: the JSON path of the figure and what is wrong with it.
Finding = tuple[str, str]

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
#: Figures are under 10^12 with at most 6 decimals, so a product or a sum of 500 lines is exact
#: within 60 digits; a quotient (a discount's share, inclusive tax) is cut, not rounded, at 60
#: digits, so rounding it to cents afterwards rounds the exact quotient half up.
_EXACT = Context(prec=60, rounding=ROUND_DOWN)
_FIGURE = re.compile(r"[0-9]{1,20}(?:\.[0-9]{1,20})?")
_MAX_LINES = 500
_MAX_RATES = 100
_IDS_SHOWN = 5


def cents(value: Decimal) -> Decimal:
    """``value`` rounded half up to cents, as JobRoutr rounds every money figure."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP, context=_EXACT)


def line_amount(line: dict[str, Any]) -> Decimal:
    """A valid line's amount: as stated, or quantity x unit price when it is left out."""
    if line.get("amount") is not None:
        return Decimal(line["amount"])
    with localcontext(_EXACT):
        return cents(Decimal(line["quantity"]) * Decimal(line["unit_price"]))


@dataclass(frozen=True)
class _Line:
    amount: Decimal | None  # as figured; as stated when it cannot be figured
    rate_id: str | None


@dataclass(frozen=True)
class _Rate:
    path: str
    id: str | None
    percent: str | None  # as written, for the sentence
    amount: Decimal | None  # as stated
    duplicate: bool


@dataclass(frozen=True)
class _Discount:
    amount: Decimal | None  # as figured; as stated when it cannot be figured
    before_tax: bool | None  # None: not true or false (named by the format checks)


def check(data: dict[str, Any], failed: Collection[str]) -> list[Finding]:
    """What does not add up in an invoice's ``data``; ``failed`` are the paths the format checks
    named already (not added up, nor named again)."""
    checker = _Checker(data, set(failed))
    with localcontext(_EXACT):
        checker.run()
    return checker.found


def exchange_rate(
    data: dict[str, Any], home_currency: str | None, failed: Collection[str]
) -> list[Finding]:
    """An ``exchange_rate`` more than 0, and one given when ``currency`` is not the home one."""
    name = "data.exchange_rate"
    rate, currency = data.get("exchange_rate"), data.get("currency")
    if rate is not None:
        if name not in failed and _figure(rate) == 0:
            return [(name, "must be more than 0")]
        return []
    if home_currency is None or not isinstance(currency, str) or "data.currency" in failed:
        return []
    if currency == home_currency:
        return []
    return [
        (
            name,
            f"is required: {currency} is not the company's home currency ({home_currency}); "
            f"give the {home_currency} amount of one {currency}",
        )
    ]


def _figure(value: object) -> Decimal | None:
    if isinstance(value, str) and _FIGURE.fullmatch(value):
        return Decimal(value)
    return None


def _dict(value: object) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


class _Checker:
    def __init__(self, data: dict[str, Any], failed: set[str]) -> None:
        self.data = data
        self.failed = failed
        self.found: list[Finding] = []

    def figure(self, holder: dict[str, Any] | None, key: str, path: str) -> Decimal | None:
        """A figure as stated, unless it is absent or its format was found wrong."""
        if holder is None or f"{path}.{key}" in self.failed:
            return None
        return _figure(holder.get(key))

    def expect(self, name: str, stated: Decimal | None, figured: Decimal | None, why: str) -> None:
        if stated is not None and figured is not None and stated != figured:
            self.found.append((name, f"must be {figured}: {why}"))

    def run(self) -> None:
        lines = self.data.get("lines")
        if not isinstance(lines, list) or not 1 <= len(lines) <= _MAX_LINES:
            return  # named by the format checks
        tax = _dict(self.data.get("tax"))
        rates = self.rates(tax)
        if tax is None and self.data.get("tax") is not None:
            # Not an object (named by the format checks): the tax is unknown, not absent.
            tax, rates = {}, None
        figured = [self.line(f"data.lines[{i}]", line, tax, rates) for i, line in enumerate(lines)]
        totals = _dict(self.data.get("totals"))
        subtotal = self.subtotal(figured, totals)
        discount = self.discount(subtotal, totals)
        taxes = self.taxes(
            figured, rates=rates, tax=tax, subtotal=subtotal, discount=discount, totals=totals
        )
        self.total(tax, subtotal, discount.amount, taxes, totals)

    # Lines and rates ----------------------------------------------------------------------

    def rates(self, tax: dict[str, Any] | None) -> list[_Rate] | None:
        """The invoice's tax rates (none without tax), each id checked unique; None when the
        list itself is invalid."""
        listed = None if tax is None else tax.get("rates")
        if listed is None:
            listed = []
        if not isinstance(listed, list) or len(listed) > _MAX_RATES:
            return None
        rates: list[_Rate] = []
        first: dict[str, str] = {}
        for index, rate in enumerate(listed):
            path = f"data.tax.rates[{index}]"
            holder = _dict(rate)
            rate_id = holder.get("id") if holder is not None else None
            if not isinstance(rate_id, str) or f"{path}.id" in self.failed:
                rate_id = None
            duplicate = rate_id is not None and rate_id in first
            if rate_id is not None and duplicate:
                self.found.append(
                    (f"{path}.id", f'must be unique: {first[rate_id]} has the id "{rate_id}"')
                )
            elif rate_id is not None:
                first[rate_id] = path
            percent = self.figure(holder, "percent", path)
            rates.append(
                _Rate(
                    path,
                    rate_id,
                    None if percent is None or holder is None else str(holder["percent"]),
                    self.figure(holder, "amount", path),
                    duplicate,
                )
            )
        return rates

    def line(
        self, path: str, line: object, tax: dict[str, Any] | None, rates: list[_Rate] | None
    ) -> _Line:
        holder = _dict(line)
        if holder is None:
            return _Line(None, None)
        stated = self.figure(holder, "amount", path)
        quantity = self.figure(holder, "quantity", path)
        price = self.figure(holder, "unit_price", path)
        amount = stated
        if quantity is not None and price is not None:
            amount = cents(quantity * price)
            why = f"quantity {holder['quantity']} x unit price {holder['unit_price']}"
            self.expect(f"{path}.amount", stated, amount, why + ", rounded half up to cents")
        elif holder.get("amount") is None:
            amount = None
        rate_id = holder.get("tax_rate_id")
        if not isinstance(rate_id, str) or f"{path}.tax_rate_id" in self.failed:
            return _Line(amount, None)
        self.reference(f"{path}.tax_rate_id", rate_id, tax, rates)
        return _Line(amount, rate_id)

    def reference(
        self, name: str, rate_id: str, tax: dict[str, Any] | None, rates: list[_Rate] | None
    ) -> None:
        if tax is None:
            self.found.append((name, "names a tax rate, but the invoice has no tax"))
            return
        if rates is None:
            return  # the rates are invalid: named by the format checks
        ids = list(dict.fromkeys(r.id for r in rates if r.id is not None))
        if rate_id in ids:
            return
        if not ids:
            self.found.append((name, "must be one of the ids in data.tax.rates, which has none"))
            return
        shown = ", ".join(f'"{i}"' for i in ids[:_IDS_SHOWN]) + (
            ", …" if len(ids) > _IDS_SHOWN else ""
        )
        self.found.append((name, f"must be one of the ids in data.tax.rates: {shown}"))

    # Totals ---------------------------------------------------------------------------------

    def subtotal(self, lines: list[_Line], totals: dict[str, Any] | None) -> Decimal | None:
        stated = self.figure(totals, "subtotal", "data.totals")
        amounts = [line.amount for line in lines]
        if any(amount is None for amount in amounts):
            return stated
        figured = sum((a for a in amounts if a is not None), ZERO)
        self.expect("data.totals.subtotal", stated, figured, "the sum of the line amounts")
        return figured

    def discount(self, subtotal: Decimal | None, totals: dict[str, Any] | None) -> _Discount:
        stated = self.figure(totals, "discount", "data.totals")
        given = self.data.get("discount")
        if given is None:
            self.expect("data.totals.discount", stated, ZERO, "the invoice has no discount")
            return _Discount(ZERO, True)
        holder = _dict(given)
        if holder is None:
            return _Discount(stated, None)
        before_tax = holder.get("before_tax", True)
        figured, why = self.discount_figure(holder, subtotal)
        self.expect("data.totals.discount", stated, figured, why)
        return _Discount(
            figured if figured is not None else stated,
            before_tax if isinstance(before_tax, bool) else None,
        )

    def discount_figure(
        self, discount: dict[str, Any], subtotal: Decimal | None
    ) -> tuple[Decimal | None, str]:
        has_percent = discount.get("percent") is not None
        has_amount = discount.get("amount") is not None
        if has_percent == has_amount:
            reason = (
                "must have either percent or amount, not both"
                if has_percent
                else "must have percent or amount"
            )
            self.found.append(("data.discount", reason))
            return None, ""
        if has_amount:
            amount = self.figure(discount, "amount", "data.discount")
            if amount is not None and subtotal is not None and amount > subtotal:
                reason = f"must not be more than the subtotal {subtotal}"
                self.found.append(("data.discount.amount", reason))
            return amount, "the discount's amount"
        percent = self.figure(discount, "percent", "data.discount")
        if percent is not None and percent > HUNDRED:
            self.found.append(("data.discount.percent", "must be at most 100"))
            return None, ""
        if percent is None or subtotal is None:
            return None, ""
        why = f"{discount['percent']}% of the subtotal {subtotal}, rounded half up to cents"
        return cents(subtotal * percent / HUNDRED), why

    def taxes(
        self,
        lines: list[_Line],
        *,
        rates: list[_Rate] | None,
        tax: dict[str, Any] | None,
        subtotal: Decimal | None,
        discount: _Discount,
        totals: dict[str, Any] | None,
    ) -> Decimal | None:
        """Each rate's amount, then ``totals.tax``; the tax as figured (None: unknown)."""
        stated = self.figure(totals, "tax", "data.totals")
        if rates is None:
            return stated
        mode = tax.get("mode") if tax is not None else None
        amounts: list[Decimal | None] = []
        for rate in rates:
            figured, why = _rate_amount(rate, lines, mode, subtotal, discount)
            unrounded, _ = _rate_amount(rate, lines, mode, subtotal, discount, round_share=False)
            if rate.amount is not None and rate.amount == unrounded:
                figured = unrounded
            self.expect(f"{rate.path}.amount", rate.amount, figured, why)
            amounts.append(figured if figured is not None else rate.amount)
        if any(amount is None for amount in amounts):
            return stated
        figured_tax = sum((a for a in amounts if a is not None), ZERO)
        why = "the sum of the tax rates' amounts" if tax is not None else "the invoice has no tax"
        self.expect("data.totals.tax", stated, figured_tax, why)
        return figured_tax

    def total(
        self,
        tax: dict[str, Any] | None,
        subtotal: Decimal | None,
        discount: Decimal | None,
        taxes: Decimal | None,
        totals: dict[str, Any] | None,
    ) -> None:
        stated = self.figure(totals, "total", "data.totals")
        if subtotal is None or discount is None or taxes is None:
            return
        mode = tax.get("mode") if tax is not None else None
        less = f"subtotal {subtotal} - discount {discount}"
        if mode == "exclusive":
            self.expect(
                "data.totals.total", stated, subtotal - discount + taxes, f"{less} + tax {taxes}"
            )
        elif mode == "inclusive":
            why = f"{less} (the tax {taxes} is inside the amounts)"
            self.expect("data.totals.total", stated, subtotal - discount, why)
        elif tax is None:
            self.expect("data.totals.total", stated, subtotal - discount, less)


def _rate_amount(
    rate: _Rate,
    lines: list[_Line],
    mode: object,
    subtotal: Decimal | None,
    discount: _Discount,
    *,
    round_share: bool = True,
) -> tuple[Decimal | None, str]:
    """A rate's amount as figured and how, or None when a figure it is made of is unknown
    (``round_share=False``: the other reading of the contract, the share not rounded)."""
    if (
        rate.id is None
        or rate.duplicate
        or rate.percent is None
        or mode not in ("exclusive", "inclusive")
    ):
        return None, ""
    own = [line.amount for line in lines if line.rate_id == rate.id]
    if any(amount is None for amount in own):
        return None, ""
    base = sum((a for a in own if a is not None), ZERO)
    percent = Decimal(rate.percent)
    taxed = f"lines {base}"
    share = ZERO
    if discount.amount != ZERO:
        if discount.amount is None or discount.before_tax is None or subtotal is None:
            return None, ""
        if discount.before_tax and subtotal > 0:
            share = discount.amount * base / subtotal
            share = cents(share) if round_share else share
            taxed = f"(lines {base} - discount share {share})"
    if mode == "inclusive":
        amount = cents((base - share) * percent / (HUNDRED + percent))
        how = f"{taxed} x {rate.percent} / (100 + {rate.percent}), the tax inside them"
    else:
        amount = cents((base - share) * percent / HUNDRED)
        how = f"{taxed} x {rate.percent}%"
    return amount, how + ", rounded half up to cents"
