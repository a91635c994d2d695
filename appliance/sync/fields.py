"""Small pure helpers shared by the record kinds' mappings, both ways (JobRoutr -> QBO body, QBO
record -> our row): trimmed text, references, addresses, QBO's timestamps; and ``Skip``, what a
QBO record that cannot be kept maps to instead of a row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from appliance.storage.mirror import MirrorRow

COUNTRIES = {"USA": "US", "UNITED STATES": "US", "CAN": "CA", "CANADA": "CA", "GBR": "GB",
             "UNITED KINGDOM": "GB", "AUS": "AU", "AUSTRALIA": "AU"}  # fmt: skip


@dataclass(frozen=True)
class Skip:
    """A QBO record an import does not bring in, and why."""

    qbo_id: str
    name: str | None
    reason: str


Mapped = MirrorRow | Skip


def text(value: Any) -> str | None:
    """Trimmed text, None for anything else or nothing but spaces."""
    return value.strip() if isinstance(value, str) and value.strip() else None


def field(data: dict[str, Any], key: str) -> str | None:
    return text(data.get(key))


def sub(record: dict[str, Any], key: str, inner: str) -> str | None:
    value = record.get(key)
    return text(value.get(inner)) if isinstance(value, dict) else None


def ref(record: dict[str, Any], key: str) -> str | None:
    """A QBO reference's id (``{"value": "12"}``)."""
    return sub(record, key, "value")


def when(record: dict[str, Any]) -> datetime | None:
    """The record's ``MetaData.LastUpdatedTime``, if it is a timestamp."""
    stamp = sub(record, "MetaData", "LastUpdatedTime")
    try:
        return datetime.fromisoformat(stamp) if stamp else None
    except ValueError:
        return None


def clean(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def flag(record: dict[str, Any], key: str) -> bool | None:
    """A boolean field, None when it is absent or not a boolean."""
    value = record.get(key)
    return value if isinstance(value, bool) else None


def _country(value: Any) -> str | None:
    found = text(value)
    if found is None:
        return None
    upper = found.upper()
    if upper in COUNTRIES:
        return COUNTRIES[upper]
    return upper if len(upper) == 2 and upper.isalpha() else None


#: A QBO address's fields and ours.
ADDRESS = {
    "Line1": "line1",
    "Line2": "line2",
    "City": "city",
    "CountrySubDivisionCode": "region",
    "PostalCode": "postal_code",
    "Country": "country",
}


def address_to_qbo(value: Any) -> dict[str, str]:
    """JobRoutr's address as QBO's (the fields it has)."""
    value = value if isinstance(value, dict) else {}
    return {qbo: found for qbo, ours in ADDRESS.items() if (found := field(value, ours))}


def address_from_qbo(value: Any) -> dict[str, str] | None:
    """QBO's address as ours (countries as ISO codes), None when it has nothing."""
    if not isinstance(value, dict):
        return None
    address = {
        ours: _country(value.get(qbo)) if ours == "country" else text(value.get(qbo))
        for qbo, ours in ADDRESS.items()
    }
    kept = {k: v for k, v in address.items() if v is not None}
    return kept or None
