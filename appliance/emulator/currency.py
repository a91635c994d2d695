"""Currencies as QBO keeps them (../shared/qbo/FACTS.md §11 "Currencies").

A company has a home currency (``Preferences.CurrencyPrefs.HomeCurrency``) and multi-currency
off until it is turned on (``MultiCurrencyEnabled``), which cannot be undone. A customer, vendor
or account has one currency, its ``CurrencyRef`` (the ISO 4217 code, named by the server), set at
creation and never changed. A transaction is in its customer's currency, with ``ExchangeRate`` =
home-currency units per foreign unit (default 1) and its amounts in the home currency beside it
(``HomeTotalAmt``, read-only).

Choices where FACTS marks QBO's behaviour unverified or says nothing:

* The refusals' codes: a currency that is not the home one with multi-currency off, a changed
  currency, a transaction not in its customer's currency, a job not in its parent's, and an
  ExchangeRate of 0 or less are all 6000 (the "business validation" family FACTS expects),
  element ``CurrencyRef`` (``ExchangeRate``); a code that is no currency of ``CURRENCIES`` is
  2500 "Invalid Reference Id", as for any unknown reference.
* Home amounts are the foreign amount x ExchangeRate rounded half up to the cent; every currency
  is kept to the cent (JPY too, which has no minor unit).
* A home-currency transaction's ExchangeRate is 1 whatever is sent. With multi-currency off,
  transactions carry no ExchangeRate or Home amounts (as the recordings, all from such companies,
  show); with it on, every transaction carries them, home-currency ones at rate 1, and turning it
  on gives the existing transactions (all in the home currency) the same.
* A sub-customer is in its parent's currency. Any account may be in a foreign currency (QBO may
  keep income and expense accounts in the home currency).
* No ``CompanyCurrency`` entity: the currencies a company uses are not listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from appliance.emulator import faults

Record = dict[str, Any]

#: ISO 4217 code -> the English name QBO gives it (the recordings name USD "United States
#: Dollar"; GBP is "British Pound Sterling" as in QBO's currency list).
CURRENCIES: dict[str, str] = {
    "AED": "UAE Dirham",
    "ARS": "Argentine Peso",
    "AUD": "Australian Dollar",
    "BRL": "Brazilian Real",
    "CAD": "Canadian Dollar",
    "CHF": "Swiss Franc",
    "CNY": "Chinese Yuan Renminbi",
    "CZK": "Czech Koruna",
    "DKK": "Danish Krone",
    "EUR": "Euro",
    "GBP": "British Pound Sterling",
    "HKD": "Hong Kong Dollar",
    "ILS": "Israeli New Shekel",
    "INR": "Indian Rupee",
    "JPY": "Japanese Yen",
    "KRW": "South Korean Won",
    "MXN": "Mexican Peso",
    "NOK": "Norwegian Krone",
    "NZD": "New Zealand Dollar",
    "PHP": "Philippine Peso",
    "PLN": "Polish Zloty",
    "SEK": "Swedish Krona",
    "SGD": "Singapore Dollar",
    "THB": "Thai Baht",
    "USD": "United States Dollar",
    "ZAR": "South African Rand",
}
#: Per transaction entity, the amounts kept in the home currency too: amount -> home amount.
HOME_AMOUNTS: dict[str, dict[str, str]] = {
    "Invoice": {"TotalAmt": "HomeTotalAmt", "Balance": "HomeBalance"},
    "Payment": {"TotalAmt": "HomeTotalAmt"},
}
CENT = Decimal("0.01")
ONE = Decimal(1)


def ref(code: str) -> dict[str, str]:
    """The CurrencyRef of a code, named: {"value": "EUR", "name": "Euro"}."""
    return {"value": code, "name": CURRENCIES.get(code, code)}


def home(prefs: Record) -> str:
    """The company's home currency (USD when its Preferences say nothing, as older states)."""
    value = (prefs.get("CurrencyPrefs") or {}).get("HomeCurrency", {}).get("value")
    return value if isinstance(value, str) else "USD"


def multicurrency(prefs: Record) -> bool:
    return (prefs.get("CurrencyPrefs") or {}).get("MultiCurrencyEnabled") is True


def turn_on(prefs: Record, transactions: Mapping[str, list[Record]]) -> None:
    """Turn multi-currency on in these Preferences, and give each transaction (all in the home
    currency while it was off) its rate 1 and home amounts."""
    currency_prefs = prefs.setdefault("CurrencyPrefs", {"HomeCurrency": {"value": home(prefs)}})
    currency_prefs["MultiCurrencyEnabled"] = True
    for entity, rows in transactions.items():
        for row in rows:
            row.setdefault("ExchangeRate", ONE)
            _home_amounts(row, HOME_AMOUNTS.get(entity, {}), ONE)


def settle_currency(
    entity: str, record: Record, old: Record | None, prefs: Record, parent: Record | None = None
) -> None:
    """A customer's, vendor's or account's CurrencyRef: the home currency unless given (a job's
    parent's for a sub-customer), a currency of the table, foreign only with multi-currency on,
    and the one it was created with on update."""
    before = _code(old.get("CurrencyRef")) if old is not None else None
    if "CurrencyRef" not in record:
        record["CurrencyRef"] = ref(
            before or (_code(parent.get("CurrencyRef")) if parent else None) or home(prefs)
        )
    code = _known(record["CurrencyRef"])
    if before is not None and code != before:
        raise _refused(
            f"{entity}s keep the currency they were created in: this one is in "
            f"{before}, it cannot change to {code}"
        )
    if before is None:
        _allowed(code, prefs)
        owner = _code(parent.get("CurrencyRef")) if parent else None
        if owner is not None and code != owner:
            raise _refused(f"A sub-customer is in its parent's currency ({owner}), not {code}")
    record["CurrencyRef"] = ref(code)


def settle_transaction(
    entity: str, record: Record, prefs: Record, customer: Record, amounts: Mapping[str, str]
) -> None:
    """A transaction's CurrencyRef (default: the customer's), its ExchangeRate and the home
    amounts named in ``amounts`` (amount -> home amount, e.g. TotalAmt -> HomeTotalAmt). Call it
    once the amounts are figured; what the client sent for the home amounts is replaced."""
    customer_code = _code(customer.get("CurrencyRef")) or home(prefs)
    code = _known(record.setdefault("CurrencyRef", ref(customer_code)))
    _allowed(code, prefs)
    if code != customer_code:
        raise _refused(
            f"The {entity.lower()}'s currency ({code}) is not its customer's currency "
            f"({customer_code}): a customer is invoiced and paid in its own currency"
        )
    record["CurrencyRef"] = ref(code)
    rate = _rate(record.get("ExchangeRate", ONE))
    for home_amount in amounts.values():
        record.pop(home_amount, None)  # read-only: figured here, never taken from the client
    if not multicurrency(prefs):
        record.pop("ExchangeRate", None)
        return
    record["ExchangeRate"] = rate = ONE if code == home(prefs) else rate
    _home_amounts(record, amounts, rate)


def amount_and_home(record: Record, amount: str) -> tuple[Decimal, Decimal]:
    """An amount of a transaction in its own currency and in the home currency (the same when
    the transaction carries no ExchangeRate): what moves a customer's balance and A/R."""
    value = Decimal(record.get(amount, 0))
    rate = Decimal(record.get("ExchangeRate", ONE))
    return value, (value * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def refresh_home_amounts(entity: str, record: Record) -> None:
    """Figure a transaction's home amounts again after an amount changed (an invoice's Balance
    when a payment is applied), at the rate it carries; nothing without multi-currency."""
    if "ExchangeRate" in record:
        _home_amounts(record, HOME_AMOUNTS.get(entity, {}), Decimal(record["ExchangeRate"]))


def _home_amounts(record: Record, amounts: Mapping[str, str], rate: Decimal) -> None:
    for amount, home_amount in amounts.items():
        if amount in record:
            exact = Decimal(record[amount]) * rate
            record[home_amount] = exact.quantize(CENT, rounding=ROUND_HALF_UP)


def _code(currency_ref: Any) -> str | None:
    value = currency_ref.get("value") if isinstance(currency_ref, dict) else None
    return value if isinstance(value, str) else None


def _known(currency_ref: Any) -> str:
    if not isinstance(currency_ref, dict) or "value" not in currency_ref:
        raise faults.required("CurrencyRef.value", "CurrencyRef")
    code = currency_ref["value"]
    if not isinstance(code, str) or code not in CURRENCIES:
        raise faults.invalid_reference("CurrencyRef", str(code))
    return code


def _allowed(code: str, prefs: Record) -> None:
    home_code = home(prefs)
    if code != home_code and not multicurrency(prefs):
        raise _refused(
            f"Multicurrency is not turned on for this company: {code} is not its home "
            f"currency ({home_code})"
        )


def _rate(value: Any) -> Decimal:
    wrong = faults.validation(
        "2010", "Request has invalid or unsupported property", "ExchangeRate is not a number",
        "ExchangeRate",
    )  # fmt: skip
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise wrong
    try:
        rate = Decimal(str(value))
    except InvalidOperation:
        raise wrong from None
    if not rate.is_finite() or rate <= 0:
        raise faults.business(f"ExchangeRate must be more than 0, not {value}", "ExchangeRate")
    return rate


def _refused(detail: str) -> faults.QboFault:
    return faults.business(detail, "CurrencyRef")
