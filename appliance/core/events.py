"""JobRoutr's events as the contract defines them (../shared/jobroutr/CONTRACT.md section 1):
the Standard Webhooks signature, and the validation of each type's ``data``.

Pure functions. Validation collects *every* invalid field (the 422 names them all), and nothing
here raises on hostile input except the two documented errors.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

TOLERANCE_SECONDS = 5 * 60
KNOWN_TYPES = (
    "customer.created",
    "customer.updated",
    "product.created",
    "product.updated",
    "invoice.created",
)
ONE_NAME = "one of display_name, given_name, family_name or company_name is required"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


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


def _str(
    data: dict[str, Any],
    key: str,
    problems: list[Invalid],
    *,
    required: bool = False,
    max_len: int = 500,
    path: str = "data",
) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            problems.append(Invalid(f"{path}.{key}", "is required"))
        return None
    if not isinstance(value, str):
        problems.append(Invalid(f"{path}.{key}", "must be a string"))
        return None
    if required and not value.strip():
        problems.append(Invalid(f"{path}.{key}", "must not be empty"))
    if len(value) > max_len:
        problems.append(Invalid(f"{path}.{key}", f"must be at most {max_len} characters"))
    return value


def _bool(data: dict[str, Any], key: str, problems: list[Invalid], path: str = "data") -> None:
    if key in data and data[key] is not None and not isinstance(data[key], bool):
        problems.append(Invalid(f"{path}.{key}", "must be true or false"))


def _decimal(
    data: dict[str, Any], key: str, problems: list[Invalid], *, required: bool, path: str
) -> Decimal | None:
    value = data.get(key)
    if value is None:
        if required:
            problems.append(Invalid(f"{path}.{key}", "is required"))
        return None
    if not isinstance(value, str):
        problems.append(Invalid(f"{path}.{key}", 'must be a decimal string such as "125.00"'))
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        problems.append(Invalid(f"{path}.{key}", 'must be a decimal string such as "125.00"'))
        return None
    if not number.is_finite() or number < 0:
        problems.append(Invalid(f"{path}.{key}", "must be a number of 0 or more"))
        return None
    if abs(number) >= Decimal("1e12"):
        problems.append(Invalid(f"{path}.{key}", "is too large"))
    return number


def _address(data: dict[str, Any], key: str, problems: list[Invalid]) -> None:
    value = data.get(key)
    if value is None:
        return
    path = f"data.{key}"
    if not isinstance(value, dict):
        problems.append(Invalid(path, "must be an object"))
        return
    for part in ("line1", "line2", "city", "region", "postal_code"):
        _str(value, part, problems, path=path, max_len=500)
    country = _str(value, "country", problems, path=path, max_len=2)
    if country is not None and not _COUNTRY.match(country):
        problems.append(Invalid(f"{path}.country", "must be an ISO 3166 alpha-2 code such as US"))


def _customer(data: dict[str, Any], problems: list[Invalid]) -> None:
    names = [
        _str(data, key, problems, max_len=500 if key == "display_name" else 100)
        for key in ("display_name", "given_name", "family_name", "company_name")
    ]
    if not any(n and n.strip() for n in names):
        problems.append(Invalid("data.display_name", ONE_NAME))
    for key in ("email", "phone", "mobile"):
        _str(data, key, problems, max_len=100)
    _str(data, "notes", problems, max_len=4000)
    _address(data, "billing_address", problems)
    _address(data, "service_address", problems)
    _bool(data, "taxable", problems)
    _bool(data, "active", problems)


def _product(data: dict[str, Any], problems: list[Invalid]) -> None:
    _str(data, "name", problems, required=True, max_len=100)
    _str(data, "description", problems, max_len=4000)
    kind = data.get("type", "service")
    if kind not in ("service", "non_inventory"):
        problems.append(Invalid("data.type", 'must be "service" or "non_inventory"'))
    _decimal(data, "price", problems, required=True, path="data")
    _str(data, "sku", problems, max_len=100)
    for key in ("income_account_id", "expense_account_id"):
        _str(data, key, problems, max_len=32)
    _bool(data, "taxable", problems)
    _bool(data, "active", problems)


def _invoice(data: dict[str, Any], problems: list[Invalid]) -> None:
    _str(data, "number", problems, max_len=21)
    _str(data, "customer_id", problems, required=True, max_len=128)
    for key, required in (("issue_date", True), ("due_date", False)):
        value = _str(data, key, problems, required=required, max_len=10)
        if value is not None and not _DATE.match(value):
            problems.append(Invalid(f"data.{key}", "must be a date YYYY-MM-DD"))
    currency = _str(data, "currency", problems, max_len=3)
    if currency is not None and not _CURRENCY.match(currency):
        problems.append(Invalid("data.currency", "must be an ISO 4217 code such as USD"))
    _str(data, "memo", problems, max_len=4000)
    _str(data, "email", problems, max_len=100)
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
        _str(line, "description", problems, max_len=4000, path=path)
        _decimal(line, "quantity", problems, required=True, path=path)
        _decimal(line, "unit_price", problems, required=True, path=path)


VALIDATORS = {
    "customer": _customer,
    "product": _product,
    "invoice": _invoice,
}


def validate(document: Any) -> tuple[str, dict[str, Any], list[Invalid]]:
    """(type, data, problems) for a parsed body; an unknown type has no problems (it is kept and
    ignored, as the contract says), but the envelope must still be right."""
    problems: list[Invalid] = []
    if not isinstance(document, dict):
        return "", {}, [Invalid("body", "must be a JSON object with type, timestamp and data")]
    kind = document.get("type")
    if not isinstance(kind, str) or not kind or len(kind) > 64:
        problems.append(Invalid("type", "must be the event type, such as customer.created"))
        kind = ""
    if not isinstance(document.get("timestamp"), str):
        problems.append(Invalid("timestamp", "must be an ISO 8601 time"))
    data = document.get("data")
    if not isinstance(data, dict):
        problems.append(Invalid("data", "must be an object"))
        return kind, {}, problems
    if kind in KNOWN_TYPES:
        _str(data, "id", problems, required=True, max_len=128)
        VALIDATORS[kind.split(".")[0]](data, problems)
    return kind, data, problems
