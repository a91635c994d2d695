"""JobRoutr's events as the contract defines them (../shared/jobroutr/CONTRACT.md section 1):
the Standard Webhooks signature, and the validation of each type's ``data``.

Pure functions. Validation collects *every* invalid field (the 422 names them all), and nothing
here raises on hostile input except the two documented errors.

What a 202 promises is that the event can be written to QuickBooks, so the rules here are the ones
the store and QuickBooks need, checked before the answer rather than found by the push later:

- ``timestamp``: an ISO 8601 date-time with a UTC offset, that stays within the years 1 to 9999
  once converted to UTC.
- Dates (``issue_date``, ``due_date``, a line's ``service_date``): a real calendar date,
  ``YYYY-MM-DD`` in ASCII digits.
- Decimal strings: ASCII digits with an optional decimal point; no sign (figures are 0 or more),
  exponent, spaces, ``_`` or other scripts' digits; at most 2 decimals for money, 6 for
  quantities, prices and rates; under 10^12.
- Text: valid Unicode (no lone surrogate, anywhere in the body) with no control characters or
  noncharacters; the free-text fields (notes, descriptions, memos) may hold tabs and line breaks.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from appliance.core import bill, payment_events
from appliance.core.accounts import EXPENSE_TYPES, INCOME_TYPES
from appliance.core.words import a_or_an

TOLERANCE_SECONDS = 5 * 60
KNOWN_TYPES = (
    "customer.created",
    "customer.updated",
    "product.created",
    "product.updated",
    "invoice.created",
    "invoice.updated",
    "invoice.voided",
    "invoice.deleted",
    "payment.created",
    "payment.updated",
    "payment.voided",
    "payment.deleted",
)
#: Types whose ``data`` is only the record's ``id`` (CONTRACT.md section 1).
ID_ONLY = ("invoice.voided", "invoice.deleted")
ONE_NAME = "one of display_name, given_name, family_name or company_name is required"
INVENTORY_NEEDS_QBO_ID = (
    '"inventory" needs the qbo_id of the QuickBooks inventory item: inventory items are created '
    "in QuickBooks, which tracks their stock, and only linked from JobRoutr"
)
#: Decimal places: money, and quantities, prices and rates (CONTRACT.md section 1).
MONEY = 2
RATE = 6
#: Every figure stays below this: far above any invoice, and within what QBO and Decimal hold.
TOO_LARGE = Decimal("1e12")
#: Problems named at most, so a hostile body cannot make the answer huge.
MAX_PROBLEMS = 100
# Patterns use [0-9] and [A-Z], never \d (which also matches other scripts' digits), and are
# matched with fullmatch ("$" would let a trailing newline through).
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NUMBER = re.compile(r"(-?)[0-9]+(?:\.([0-9]+))?")
_COUNTRY = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_NONCHARACTER = r"\ufdd0-\ufdef\ufffe\uffff"
#: What no text field may hold: C0 and C1 controls, DEL, lone surrogates, noncharacters.
_NOT_TEXT = re.compile(rf"[\x00-\x1f\x7f-\x9f\ud800-\udfff{_NONCHARACTER}]")
#: The same, but tab, line feed and carriage return are allowed (notes, descriptions, memos).
_NOT_FREE_TEXT = re.compile(rf"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff{_NONCHARACTER}]")


class SignatureError(Exception):
    """The request is not provably from JobRoutr: 401."""


def secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_") + "==")


def verify_signature(secrets: list[str], headers: dict[str, str], body: bytes, now: float) -> str:
    """Check ``webhook-id``/``-timestamp``/``-signature`` against any of our secrets (both are
    valid during a rotation); returns the event id. Signatures cover the raw bytes."""
    event_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not event_id or not stamp or not signatures:
        raise SignatureError(
            "The webhook-id, webhook-timestamp and webhook-signature headers are required."
        )
    if len(event_id) > 128 or not event_id.isprintable():
        raise SignatureError("The webhook-id header is not a valid event id.")
    try:
        when = int(stamp)
    except ValueError:
        raise SignatureError("The webhook-timestamp header is not Unix seconds.") from None
    if abs(now - when) > TOLERANCE_SECONDS:
        raise SignatureError(
            "The webhook-timestamp is more than 5 minutes away from this appliance's clock; "
            "check the clocks, or this is a replay."
        )
    signed = f"{event_id}.{stamp}.".encode() + body
    expected = [hmac.new(secret_key(s), signed, hashlib.sha256).digest() for s in secrets]
    for entry in signatures.split():
        version, _, value = entry.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if any(hmac.compare_digest(given, e) for e in expected):
            return event_id
    raise SignatureError("No webhook-signature matches this appliance's webhook secret.")


@dataclass(frozen=True)
class Invalid:
    name: str  # a JSON path, "data.lines[0].quantity"
    reason: str


def event_time(value: object) -> datetime | None:
    """The envelope ``timestamp`` in UTC, or None unless it is an ISO 8601 date-time with an
    offset that stays within the years 1 to 9999 in UTC (the store keeps it as UTC)."""
    if not isinstance(value, str) or not value.isascii() or len(value) > 64:
        return None
    try:
        when = datetime.fromisoformat(value)
        if when.utcoffset() is None:
            return None
        return when.astimezone(UTC)
    except (ValueError, OverflowError):  # not ISO 8601; before year 1 or after 9999 in UTC
        return None


def _text_problem(value: str, *, free_text: bool) -> str | None:
    """Why ``value`` is not text QuickBooks and the store can keep, or None."""
    bad = (_NOT_FREE_TEXT if free_text else _NOT_TEXT).search(value)
    if bad is None:
        return None
    char = bad.group()
    if _SURROGATE.fullmatch(char):
        return "is not valid Unicode text (it holds a lone surrogate)"
    if char in "\t\n\r":
        return "must be one line: no tabs or line breaks"
    if ord(char) < 0xA0:  # C0, DEL, C1
        return "must not contain control characters" + (
            " (only tabs and line breaks)" if free_text else ""
        )
    return "must not contain Unicode noncharacters (such as U+FFFF)"


def _str(
    data: dict[str, Any],
    key: str,
    problems: list[Invalid],
    *,
    required: bool = False,
    max_len: int = 500,
    path: str = "data",
    free_text: bool = False,
) -> str | None:
    """The string at ``key``, or None when it is absent or invalid (the problem is recorded)."""
    value = data.get(key)
    name = f"{path}.{key}"
    if value is None:
        if required:
            problems.append(Invalid(name, "is required"))
        return None
    if not isinstance(value, str):
        problems.append(Invalid(name, "must be a string"))
        return None
    if required and not value.strip():
        problems.append(Invalid(name, "must not be empty"))
        return None
    if len(value) > max_len:
        problems.append(Invalid(name, f"must be at most {max_len} characters"))
        return None
    if (reason := _text_problem(value, free_text=free_text)) is not None:
        problems.append(Invalid(name, reason))
        return None
    return value


def _bool(data: dict[str, Any], key: str, problems: list[Invalid], path: str = "data") -> None:
    if key in data and data[key] is not None and not isinstance(data[key], bool):
        problems.append(Invalid(f"{path}.{key}", "must be true or false"))


def _decimal(
    data: dict[str, Any],
    key: str,
    problems: list[Invalid],
    *,
    required: bool,
    path: str,
    places: int = RATE,
) -> Decimal | None:
    """A decimal string of ASCII digits, 0 or more, with at most ``places`` decimals."""
    value = data.get(key)
    name = f"{path}.{key}"
    if value is None:
        if required:
            problems.append(Invalid(name, "is required"))
        return None
    match = _NUMBER.fullmatch(value) if isinstance(value, str) and len(value) <= 40 else None
    if match is None:
        problems.append(
            Invalid(
                name,
                'must be a decimal string such as "125.00": ASCII digits and a point, '
                "no exponent, spaces or separators",
            )
        )
        return None
    sign, fraction = match.groups()
    number = Decimal(value)
    if sign:
        problems.append(Invalid(name, "must be a number of 0 or more"))
    elif fraction is not None and len(fraction) > places:
        problems.append(Invalid(name, f"must have at most {places} decimals"))
    elif number >= TOO_LARGE:
        problems.append(Invalid(name, "is too large"))
    else:
        return number
    return None


def _date(
    data: dict[str, Any], key: str, problems: list[Invalid], *, required: bool, path: str = "data"
) -> None:
    value = _str(data, key, problems, required=required, max_len=10, path=path)
    if value is None:
        return
    if not _DATE.fullmatch(value) or not _calendar_date(value):
        problems.append(Invalid(f"{path}.{key}", "must be a calendar date YYYY-MM-DD"))


def _calendar_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:  # 2026-13-45, 2026-02-30
        return False
    return True


def _code(
    data: dict[str, Any], key: str, problems: list[Invalid], pattern: re.Pattern[str], what: str
) -> None:
    value = _str(data, key, problems, max_len=3)
    if value is not None and not pattern.fullmatch(value):
        problems.append(Invalid(f"data.{key}", what))


def _object(
    data: dict[str, Any], key: str, problems: list[Invalid], path: str = "data"
) -> dict[str, Any] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.append(Invalid(f"{path}.{key}", "must be an object"))
        return None
    return value


def _address(data: dict[str, Any], key: str, problems: list[Invalid]) -> None:
    value = _object(data, key, problems)
    if value is None:
        return
    path = f"data.{key}"
    for part in ("line1", "line2", "city", "region", "postal_code"):
        _str(value, part, problems, path=path, max_len=500)
    country = _str(value, "country", problems, path=path, max_len=2)
    if country is not None and not _COUNTRY.fullmatch(country):
        problems.append(Invalid(f"{path}.country", "must be an ISO 3166 alpha-2 code such as US"))


def _customer(data: dict[str, Any], problems: list[Invalid]) -> None:
    names = ("display_name", "given_name", "family_name", "company_name")
    for key in names:
        _str(data, key, problems, max_len=500 if key == "display_name" else 100)
    if not any(isinstance(data.get(key), str) and data[key].strip() for key in names):
        problems.append(Invalid("data.display_name", ONE_NAME))
    for key in ("email", "phone", "mobile", "qbo_id"):
        _str(data, key, problems, max_len=100)
    _str(data, "notes", problems, max_len=4000, free_text=True)
    _address(data, "billing_address", problems)
    _address(data, "service_address", problems)
    _code(data, "currency", problems, _CURRENCY, "must be an ISO 4217 code such as USD")
    _bool(data, "taxable", problems)
    _bool(data, "active", problems)


def _product(data: dict[str, Any], problems: list[Invalid]) -> None:
    _str(data, "name", problems, required=True, max_len=100)
    _str(data, "description", problems, max_len=4000, free_text=True)
    kind = data.get("type", "service")
    if kind == "inventory" and not data.get("qbo_id"):
        problems.append(Invalid("data.type", INVENTORY_NEEDS_QBO_ID))
    elif kind not in ("service", "non_inventory", "inventory"):
        problems.append(Invalid("data.type", 'must be "service", "non_inventory" or "inventory"'))
    _decimal(data, "price", problems, required=True, path="data")
    _str(data, "sku", problems, max_len=100)
    for key in ("income_account_id", "expense_account_id", "qbo_id"):
        _str(data, key, problems, max_len=32)
    _bool(data, "taxable", problems)
    _bool(data, "active", problems)


def _invoice(data: dict[str, Any], problems: list[Invalid]) -> None:
    _str(data, "number", problems, max_len=21)
    _str(data, "customer_id", problems, required=True, max_len=128)
    _date(data, "issue_date", problems, required=True)
    _date(data, "due_date", problems, required=False)
    _code(data, "currency", problems, _CURRENCY, "must be an ISO 4217 code such as USD")
    _decimal(data, "exchange_rate", problems, required=False, path="data")
    _str(data, "memo", problems, max_len=4000, free_text=True)
    _str(data, "email", problems, max_len=100)
    _address(data, "service_address", problems)
    _invoice_figures(data, problems)
    lines = data.get("lines")
    if not isinstance(lines, list) or not lines:
        problems.append(Invalid("data.lines", "must be a list of at least one line"))
        return
    if len(lines) > 500:
        problems.append(Invalid("data.lines", "must have at most 500 lines"))
    for index, line in enumerate(lines[:500]):
        path = f"data.lines[{index}]"
        if not isinstance(line, dict):
            problems.append(Invalid(path, "must be an object"))
            continue
        _str(line, "product_id", problems, required=True, max_len=128, path=path)
        _str(line, "description", problems, max_len=4000, path=path, free_text=True)
        _decimal(line, "quantity", problems, required=True, path=path)
        _decimal(line, "unit_price", problems, required=True, path=path)
        _decimal(line, "amount", problems, required=False, path=path, places=MONEY)
        _str(line, "tax_rate_id", problems, max_len=128, path=path)
        _date(line, "service_date", problems, required=False, path=path)


def _invoice_figures(data: dict[str, Any], problems: list[Invalid]) -> None:
    """The format of the totals, discount and tax figures (whether they add up: ``core.bill``)."""
    totals = _object(data, "totals", problems)
    if data.get("totals") is None:
        problems.append(Invalid("data.totals", "is required"))
    for key in ("subtotal", "discount", "tax", "total"):
        required = totals is not None
        _decimal(totals or {}, key, problems, required=required, path="data.totals", places=MONEY)
    discount = _object(data, "discount", problems)
    if discount is not None:
        _decimal(discount, "percent", problems, required=False, path="data.discount")
        _decimal(discount, "amount", problems, required=False, path="data.discount", places=MONEY)
        _bool(discount, "before_tax", problems, path="data.discount")
    tax = _object(data, "tax", problems)
    if tax is None:
        return
    if tax.get("mode") is None:
        problems.append(Invalid("data.tax.mode", "is required"))
    elif tax.get("mode") not in ("exclusive", "inclusive"):
        problems.append(Invalid("data.tax.mode", 'must be "exclusive" or "inclusive"'))
    rates = tax.get("rates")
    if rates is None:
        return
    if not isinstance(rates, list) or len(rates) > 100:
        problems.append(Invalid("data.tax.rates", "must be a list of at most 100 rates"))
        return
    for index, rate in enumerate(rates):
        path = f"data.tax.rates[{index}]"
        if not isinstance(rate, dict):
            problems.append(Invalid(path, "must be an object"))
            continue
        _str(rate, "id", problems, required=True, max_len=128, path=path)
        _str(rate, "name", problems, max_len=100, path=path)
        _decimal(rate, "percent", problems, required=True, path=path)
        _decimal(rate, "amount", problems, required=True, path=path, places=MONEY)


#: A product's own accounts, and the chart-of-accounts types each may be (``core.accounts``).
PRODUCT_ACCOUNTS = {
    "income_account_id": ("income", INCOME_TYPES),
    "expense_account_id": ("expense", EXPENSE_TYPES),
}


def _product_accounts(
    data: dict[str, Any], problems: list[Invalid], accounts: Mapping[str, str]
) -> None:
    """A product's own accounts must be of their kind (its income account not a Cost of Goods
    Sold one, say), as far as ``accounts`` (the imported chart: id -> AccountType) knows them;
    an account it does not hold is left to the push, where QuickBooks answers 2500."""
    failed = {p.name for p in problems}
    for key, (what, types) in PRODUCT_ACCOUNTS.items():
        value, name = data.get(key), f"data.{key}"
        found = accounts.get(value) if isinstance(value, str) and name not in failed else None
        if found is not None and found not in types:
            kinds = ", ".join(types[:-1]) + " or " + types[-1]
            problems.append(
                Invalid(
                    name,
                    f"names account {value}, {a_or_an(found)} account: a product's {what} account "
                    f"must be one of type {kinds}",
                )
            )


VALIDATORS = {
    "customer": _customer,
    "product": _product,
    "invoice": _invoice,
}


def _field_name(key: str) -> str:
    """A JSON key as it may appear in an answer: lone surrogates escaped, length bounded."""
    return key[:64].encode("utf-8", "backslashreplace").decode("utf-8")


def _lone_surrogates(document: dict[str, Any], named: set[str]) -> list[Invalid]:
    """Every string (key or value) anywhere in the body that is not valid Unicode, which nothing
    downstream can encode; iterative, as a body may nest as deep as the JSON parser allows."""
    found: list[Invalid] = []
    stack: list[tuple[str, Any]] = [(_field_name(k), v) for k, v in document.items()]
    stack.reverse()
    while stack and len(found) < MAX_PROBLEMS:
        path, value = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value) and path not in named:
                found.append(Invalid(path, "is not valid Unicode text (it holds a lone surrogate)"))
        elif isinstance(value, dict):
            for key in reversed(list(value)):
                child = f"{path}.{_field_name(key)}"
                if _SURROGATE.search(key):
                    found.append(Invalid(child, "is a field name that is not valid Unicode"))
                stack.append((child, value[key]))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return found


def _bill(data: dict[str, Any], problems: list[Invalid], home_currency: str | None) -> None:
    """Whether the invoice's figures add up, and its exchange rate (``core.bill``); the figures
    whose format is wrong are left out."""
    failed = {p.name for p in problems}
    for name, reason in bill.check(data, failed) + bill.exchange_rate(data, home_currency, failed):
        problems.append(Invalid(name, reason))


def validate(
    document: Any, *, home_currency: str | None = None, accounts: Mapping[str, str] | None = None
) -> tuple[str, dict[str, Any], list[Invalid]]:
    """(type, data, problems) for a parsed body; an unknown type has no problems with its
    ``data`` (it is kept and ignored, as the contract says) beyond text that is not Unicode,
    but the envelope must still be right. ``home_currency``: the connected company's, when its
    books have been read (an invoice in another currency needs an exchange rate); ``accounts``:
    its imported chart of accounts, id -> AccountType (a product's accounts must be of their
    kind)."""
    problems: list[Invalid] = []
    if not isinstance(document, dict):
        return "", {}, [Invalid("body", "must be a JSON object with type, timestamp and data")]
    kind = document.get("type")
    if not isinstance(kind, str) or not kind or len(kind) > 64:
        problems.append(Invalid("type", "must be the event type, such as customer.created"))
        kind = ""
    elif (reason := _text_problem(kind, free_text=False)) is not None:
        problems.append(Invalid("type", reason))
        kind = ""
    if event_time(document.get("timestamp")) is None:
        problems.append(
            Invalid(
                "timestamp",
                "must be an ISO 8601 date-time with a UTC offset, "
                "such as 2026-11-25T10:00:00Z or 2026-11-25T02:00:00-08:00",
            )
        )
    data = document.get("data")
    if not isinstance(data, dict):
        problems.append(Invalid("data", "must be an object"))
        data = {}
    elif kind.startswith("payment.") and kind in KNOWN_TYPES:
        payment_events.check(kind, data, problems, home_currency)
    elif kind in KNOWN_TYPES:
        _str(data, "id", problems, required=True, max_len=128)
        if kind not in ID_ONLY:
            VALIDATORS[kind.split(".")[0]](data, problems)
        if kind in ("invoice.created", "invoice.updated"):
            _bill(data, problems, home_currency)
        if kind in ("product.created", "product.updated") and accounts:
            _product_accounts(data, problems, accounts)
    problems += _lone_surrogates(document, {p.name for p in problems})
    return kind, data, problems[:MAX_PROBLEMS]
