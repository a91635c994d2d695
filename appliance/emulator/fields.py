"""The field rules every record kind shares: amounts, text, names, the Active flag, dates and
references as QBO checks and writes them.

The record-kind modules (``people``, ``items``, ``accounts``, ``invoices``, ``payments``) call
these; none of them reads or changes a company.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from appliance.emulator import faults
from appliance.emulator.entities import Record

DELETED_SUFFIX = " (deleted)"
_BAD_NAME = re.compile(r"[:\t\n]")
CENT = Decimal("0.01")


def money(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise faults.validation(
            "2010", "Request has invalid or unsupported property", f"{field} is not a number"
        )
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise faults.validation(
            "2010", "Request has invalid or unsupported property", f"{field} is not a number"
        ) from None
    if not result.is_finite():
        raise faults.business(f"{field} is not a number", field)
    return result


def rounded(exact: Decimal) -> set[Decimal]:
    """The cents an exact amount may be written as: half-up or half-even ([unverified] which one
    QBO checks; both are how accounting software rounds)."""
    return {exact.quantize(CENT, rounding=ROUND_HALF_UP), exact.quantize(CENT)}


def voided_note(note: Any) -> str:
    """Void puts "Voided" before the private note: "Voided - <note>", or "Voided" alone."""
    if isinstance(note, str) and note.strip():
        return f"Voided - {note}"
    return "Voided"


def fold(name: str) -> str:
    """A name as the uniqueness checks compare it: trimmed, case-insensitively."""
    return name.strip().casefold()


def value(ref: Any) -> str | None:
    """The id a reference names ({"value": "3", "name": "Net 30"} -> "3"), else None."""
    found = ref.get("value") if isinstance(ref, dict) else None
    return found if isinstance(found, str) else None


def ref_of(row: Record, name_key: str) -> dict[str, str]:
    """A reference to ``row`` as QBO writes it back, named by its full name
    ("Landscaping Services:Job Materials:Pump")."""
    return {"value": row["Id"], "name": row.get("FullyQualifiedName") or row[name_key]}


def clean(value: Any) -> Any:
    """QBO keeps only properties with values: null and "" are absent (clients such as
    python-quickbooks send every field, empty ones as ""); [] is kept, as QBO returns it."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items() if v is not None and v != ""}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def string(record: Record, key: str, max_len: int) -> str | None:
    """The text field ``key`` of ``record`` (None when absent), refused when not text (2010) or
    longer than ``max_len`` (6000)."""
    text = record.get(key)
    if text is None:
        return None
    if not isinstance(text, str):
        raise faults.validation(
            "2010", "Request has invalid or unsupported property", f"{key} must be a string"
        )
    if len(text) > max_len:
        raise faults.validation(
            "6000",
            "A business validation error has occurred while processing your request",
            f"Business Validation Error: {key} is longer than {max_len} characters",
            key,
        )
    return text


def name(text: str | None, field: str, entity: str) -> str:
    """A list record's name: required, no colon, tab or newline, trimmed."""
    if text is None or not text.strip():
        raise faults.required(field, entity)
    if _BAD_NAME.search(text):
        raise faults.business(f"{field} can't contain a colon, tab or newline", field)
    return text.strip()


def active(record: Record, old: Record | None, name_key: str) -> None:
    """Deactivating appends " (deleted)" to the name; reactivating takes it off again."""
    flag = record.get("Active", True)
    if not isinstance(flag, bool):
        raise faults.validation("2010", "Request has invalid or unsupported property", "Active")
    record["Active"] = flag
    current = record[name_key]
    if not flag and not current.endswith(DELETED_SUFFIX):
        record[name_key] = current + DELETED_SUFFIX
    elif flag and current.endswith(DELETED_SUFFIX) and old is not None and not old["Active"]:
        record[name_key] = current.removesuffix(DELETED_SUFFIX)


def day(text: Any, field: str) -> date:
    """A date field (yyyy-mm-dd), refused with 2010 when it is not one."""
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise faults.validation(
            "2010",
            "Request has invalid or unsupported property",
            f"{field} is not a date (yyyy-mm-dd): {text}",
            field,
        ) from None
