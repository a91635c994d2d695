"""Which QuickBooks tax code a JobRoutr tax rate should map to: the appliance's suggestion.

A rate maps to a code whose sales rates add up to the same percent, or QuickBooks would figure a
different tax than the bill's. Among the codes of that percent the one whose name is most like the
rate's wins ("VAT 20%" ~ "20.0% S", "Zero-rated" ~ "0.0% Z"); a US company that sets its rates
up by hand (one code per invoice) is offered a single-rate code before a group. The operator
confirms a suggestion or picks another code: nothing is mapped by itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from difflib import SequenceMatcher
from typing import Protocol

#: The account subtype QuickBooks books discounts given to (FACTS.md section 11, Discounts).
DISCOUNT_SUBTYPE = "DiscountsRefundsGiven"


class CodeLike(Protocol):
    """What the suggestion reads of a tax code (``storage.taxes.TaxCodeInfo`` is one)."""

    @property
    def qbo_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def active(self) -> bool: ...
    @property
    def tax_group(self) -> bool: ...
    @property
    def taxable(self) -> bool | None: ...
    @property
    def percent(self) -> str | None: ...


class AccountLike(Protocol):
    @property
    def qbo_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def account_sub_type(self) -> str | None: ...


def percent_of(text: str | None) -> Decimal | None:
    """A percent as a Decimal ("8.90" and "8.9" are the same); no sales rate counts as 0 %;
    None for text that is not a number."""
    if text is None or not str(text).strip():
        return Decimal(0)
    try:
        value = Decimal(str(text).strip().rstrip("%"))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def same_percent(a: str | None, b: str | None) -> bool:
    first, second = percent_of(a), percent_of(b)
    return first is not None and second is not None and first == second


def _tokens(name: str) -> list[str]:
    """The words and numbers of a name, numbers normalised ("20.0" and "20" are one token)."""
    return [
        format(Decimal(token).normalize(), "f") if token[0].isdigit() else token
        for token in re.findall(r"\d+(?:\.\d+)?|[^\W\d_]+", name.casefold())
    ]


def similarity(a: str, b: str) -> float:
    """How alike two names are, 0 to 3: shared words, words one begins another with ("Z" of
    "Zero"), then their letters in order."""
    first, second = set(_tokens(a)), set(_tokens(b))
    shared = len(first & second) / len(first | second) if first | second else 0.0
    prefixed = sum(
        1
        for x in first
        for y in second
        if x != y and not x[0].isdigit() and (x.startswith(y) or y.startswith(x))
    )
    letters = SequenceMatcher(None, a.casefold(), b.casefold()).ratio()
    return shared + min(prefixed, 1) + letters


def suggest_code(
    name: str, percent: str, codes: Sequence[CodeLike], *, one_code_per_invoice: bool = False
) -> str | None:
    """The id of the active code whose total sales percent is ``percent``, the most like ``name``
    (a single-rate code first when ``one_code_per_invoice``); None when no code has it."""
    fitting = [c for c in codes if c.active and same_percent(c.percent, percent)]
    if not fitting:
        return None

    def rank(code: CodeLike) -> tuple[bool, float, str, str]:
        group_last = one_code_per_invoice and code.tax_group
        return (group_last, -similarity(name, code.name), code.name, code.qbo_id)

    return min(fitting, key=rank).qbo_id


def suggest_untaxed(codes: Sequence[CodeLike]) -> str | None:
    """A code for lines JobRoutr did not tax (outside the US): an active code that charges
    nothing, a non-taxable one ("Exempt", "GST-free") before a zero-rated one."""
    fitting = [c for c in codes if c.active and same_percent(c.percent, "0")]
    if not fitting:
        return None
    return min(fitting, key=lambda c: (c.taxable is not False, c.name, c.qbo_id)).qbo_id


def suggest_discount_account(accounts: Sequence[AccountLike]) -> str | None:
    """The income account discounts are booked to: one of subtype DiscountsRefundsGiven, one
    named for discounts before the others; None when no account looks like one."""
    subtype = [a for a in accounts if a.account_sub_type == DISCOUNT_SUBTYPE]
    named = [a for a in accounts if "discount" in a.name.casefold()]
    for group in (
        [a for a in subtype if "discount" in a.name.casefold()],
        subtype,
        named,
    ):
        if group:
            return group[0].qbo_id
    return None
