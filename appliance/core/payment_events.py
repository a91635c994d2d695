"""The validation of ``payment.*`` events' ``data`` (CONTRACT.md section 1, "data for payment.*"),
beside ``core.events``, whose text, decimal and date rules it uses.

``payment.created`` and ``payment.updated`` carry the whole payment:

- ``customer_id``, ``date`` (a calendar date) and ``amount`` (money, more than 0) are required;
- ``method`` is one of ``METHODS``; ``reference`` at most 21 characters (QBO's ``PaymentRefNum``);
- ``applied_to``: ``{"invoice_id", "amount"}`` each, amounts more than 0, each invoice once, adding
  up to at most ``amount`` (the rest stays a credit on the customer); absent or empty: all credit;
- ``currency`` and ``exchange_rate`` as for invoices (a foreign currency needs a rate);
- ``memo``: free text that fits QBO's ``PrivateNote`` with the appliance's mark.

``payment.voided`` and ``payment.deleted`` carry ``{"id"}``: only the id is checked.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from appliance.core import bill
from appliance.core import events as ev

#: JobRoutr's payment methods (the push maps each to a QBO PaymentMethod by name).
METHODS = ("cash", "check", "card", "ach", "other")
#: QBO's PaymentRefNum limit (FACTS §11).
REFERENCE_MAX = 21
#: QBO's PrivateNote holds 4,000 characters; the appliance's mark (about 50) goes first.
MEMO_MAX = 3900
#: At most this many invoices paid by one payment (QBO's lines, kept well within its limits).
APPLIED_MAX = 500
ZERO = Decimal(0)


def check(
    kind: str, data: dict[str, Any], problems: list[ev.Invalid], home_currency: str | None
) -> None:
    """Record every invalid field of a ``payment.*`` event's ``data`` in ``problems``."""
    ev._str(data, "id", problems, required=True, max_len=128)
    if kind in ("payment.voided", "payment.deleted"):
        return
    ev._str(data, "customer_id", problems, required=True, max_len=128)
    ev._date(data, "date", problems, required=True)
    amount = _positive(data, "amount", problems, path="data")
    method = data.get("method")
    if method is None:
        problems.append(ev.Invalid("data.method", "is required"))
    elif method not in METHODS:
        problems.append(ev.Invalid("data.method", f"must be one of {', '.join(METHODS)}"))
    ev._str(data, "reference", problems, max_len=REFERENCE_MAX)
    ev._str(data, "memo", problems, max_len=MEMO_MAX, free_text=True)
    ev._code(data, "currency", problems, ev._CURRENCY, "must be an ISO 4217 code such as USD")
    ev._decimal(data, "exchange_rate", problems, required=False, path="data")
    failed = {p.name for p in problems}
    for name, reason in bill.exchange_rate(data, home_currency, failed):
        problems.append(ev.Invalid(name, reason))
    _applied(data, amount, problems)


def _positive(
    data: dict[str, Any], key: str, problems: list[ev.Invalid], *, path: str
) -> Decimal | None:
    """A money figure more than 0, or None (the problem is recorded)."""
    value = ev._decimal(data, key, problems, required=True, path=path, places=ev.MONEY)
    if value is not None and value <= ZERO:
        problems.append(ev.Invalid(f"{path}.{key}", "must be more than 0"))
        return None
    return value


def _applied(data: dict[str, Any], amount: Decimal | None, problems: list[ev.Invalid]) -> None:
    """The invoices the payment pays: each once, each more than 0, together at most ``amount``."""
    applied = data.get("applied_to")
    if applied is None:
        return
    if not isinstance(applied, list) or len(applied) > APPLIED_MAX:
        problems.append(
            ev.Invalid("data.applied_to", f"must be a list of at most {APPLIED_MAX} invoices")
        )
        return
    seen: set[str] = set()
    total = ZERO
    complete = True
    for index, entry in enumerate(applied):
        path = f"data.applied_to[{index}]"
        if not isinstance(entry, dict):
            problems.append(ev.Invalid(path, "must be an object"))
            complete = False
            continue
        invoice = ev._str(entry, "invoice_id", problems, required=True, max_len=128, path=path)
        if invoice is not None:
            if invoice in seen:
                problems.append(
                    ev.Invalid(f"{path}.invoice_id", "names an invoice already in applied_to")
                )
            seen.add(invoice)
        part = _positive(entry, "amount", problems, path=path)
        if part is None:
            complete = False
        else:
            total += part
    if complete and amount is not None and total > amount:
        problems.append(
            ev.Invalid(
                "data.applied_to",
                f"applies {total} in all, more than the payment's amount ({amount})",
            )
        )
