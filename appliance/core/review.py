"""Questions for the operator: a JobRoutr record the push will not write on its own.

A QuickBooks record of the same name that nothing else corroborates, a record the bookkeeper made
inactive, an item of another type: the push parks the event in ``review`` with a ``ReviewCase``
(the JobRoutr record and the QuickBooks candidate side by side, in the same fields, and what each
choice would do), and writes nothing until the operator decides (``Decision``): link it to the
candidate, create a new record under the name shown, or skip the event. The case and the decision
are kept in the event's ``details`` (``"review"``, ``"decision"``); docs/push.md tells the rules.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Final, Self

import msgspec

#: Why the push asks.
NAME: Final = "name"  # a QuickBooks record of the same name, and nothing else agrees
INACTIVE: Final = "inactive"  # the QuickBooks record was made inactive in QuickBooks
TYPE: Final = "type"  # the QuickBooks item is of another type (an inventory item, say)
REASONS: Final = (NAME, INACTIVE, TYPE)

#: What the operator may decide.
LINK: Final = "link"  # it is that QuickBooks record: link, and write JobRoutr's record over it
CREATE: Final = "create"  # it is someone else: create a new record under ``create_as``
SKIP: Final = "skip"  # write nothing; the event ends ``ignored``
ACTIONS: Final = (LINK, CREATE, SKIP)

#: The fields a summary shows, in order, with their labels (the console's side-by-side view).
LABELS: Final = {
    "qbo_id": "QuickBooks id",
    "name": "Name",
    "company_name": "Company",
    "email": "Email",
    "phone": "Phone",
    "mobile": "Mobile",
    "billing_address": "Billing address",
    "type": "Type",
    "price": "Price",
    "sku": "SKU",
    "description": "Description",
    "balance": "Open balance",
    "active": "Active",
}


class _Kept(msgspec.Struct, kw_only=True):
    """A part of an event's ``details``, kept there under ``KEY`` as plain JSON."""

    KEY: ClassVar[str]

    def to_builtins(self) -> dict[str, Any]:
        built: dict[str, Any] = msgspec.to_builtins(self)
        return built

    @classmethod
    def from_details(cls, details: dict[str, Any] | None) -> Self | None:
        """The part kept in an event's details, or None (none, or not readable)."""
        found = (details or {}).get(cls.KEY)
        if not isinstance(found, dict):
            return None
        try:
            return msgspec.convert(found, cls)
        except msgspec.ValidationError:
            return None


class ReviewCase(_Kept, kw_only=True):
    """One question: the JobRoutr record and the QuickBooks candidate, each a summary of the
    same fields (``summary``), why it asks, and what each of ``choices`` (action: words) does."""

    kind: str  # customer | product
    reason: str  # one of REASONS
    message: str  # why it asks, a sentence an office manager understands
    jobroutr: dict[str, str]
    candidate: dict[str, str] | None = None  # with "qbo_id"
    #: The name a new record would be created under (the documented disambiguation), shown to
    #: the operator before anything is written; None when creating is not a choice.
    create_as: str | None = None
    choices: dict[str, str] = msgspec.field(default_factory=dict)
    KEY: ClassVar[str] = "review"

    @property
    def candidate_id(self) -> str | None:
        return self.candidate.get("qbo_id") if self.candidate else None


class Decision(_Kept, kw_only=True):
    """The operator's answer to a case: ``link`` (to ``qbo_id``), ``create`` (under ``name``),
    or ``skip``; who and when."""

    action: str
    by: str
    at: datetime
    qbo_id: str | None = None
    name: str | None = None
    KEY: ClassVar[str] = "decision"


# Summaries: the same fields for both sides ------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    found = str(value).strip()
    return found or None


def one_line(address: Any) -> str | None:
    """An address (the contract's shape) on one line: "12 Oak St, Springfield, IL 62701, US"."""
    if not isinstance(address, dict):
        return None
    region = " ".join(p for p in (_text(address.get(k)) for k in ("region", "postal_code")) if p)
    parts = [_text(address.get(k)) for k in ("line1", "line2", "city")] + [region or None]
    parts.append(_text(address.get("country")))
    joined = ", ".join(p for p in parts if p)
    return joined or None


def customer_name(data: dict[str, Any]) -> str:
    """As the contract says: display_name, else company_name, else "given family"."""
    given = " ".join(str(data[k]).strip() for k in ("given_name", "family_name") if data.get(k))
    return str(data.get("display_name") or data.get("company_name") or given).strip()


def summary(kind: str, data: dict[str, Any], qbo_id: str | None = None) -> dict[str, str]:
    """A record in the contract's shape (an event's data, or a mirror row's) as a case shows it:
    the fields of ``LABELS`` it has, as text, in that order."""
    found: dict[str, Any] = {"qbo_id": qbo_id}
    if kind == "customer":
        found |= {
            "name": customer_name(data),
            "company_name": data.get("company_name"),
            "email": data.get("email"),
            "phone": data.get("phone"),
            "mobile": data.get("mobile"),
            "billing_address": one_line(data.get("billing_address")),
            "balance": data.get("balance"),
        }
    else:
        found |= {
            "name": data.get("name"),
            "type": data.get("type", "service"),
            "price": data.get("price"),
            "sku": data.get("sku"),
            "description": data.get("description"),
        }
    found["active"] = data.get("active", True) is not False
    return {k: text for k in LABELS if (text := _text(found.get(k))) is not None}
