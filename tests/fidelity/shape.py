"""Compare the shape of a recorded QBO JSON body with the emulator's, never the values.

A body is reduced to a ``Shape``: the JSON types seen at each place, the fields of objects and
the elements of arrays. Array elements are merged into one shape per kind - lines by their
``DetailType``, batch items by their ``bId``, anything else together - so a page of 41 recorded
customers compares with a page of the emulator's customers even though the records differ: a
field any recorded customer has must appear on some emulated customer.

``compare(recorded, emulated)`` lists the differences, as ``<path>: <what>`` strings:

* envelopes (the top level, ``Fault``/``Error``, ``fault``/``error``, ``QueryResponse``, batch
  items, ``CDCResponse``): the key sets must be equal - missing and unexpected keys;
* entities and everything inside them: fields the recording has that the emulator omits
  (except ``ALLOWED_MISSING``); extra emulated fields are fine, a record may carry more;
* everywhere: JSON types (null, bool, number, string, object, array) - the emulator must not
  produce a type the recording does not have at that place (ids and SyncTokens strings, amounts
  numbers, ...).

An empty emulated array says nothing about its elements (the data differs), so it is not a
difference; a missing array element kind is, when the emulated array has elements.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: Fields the emulator deliberately does not produce, each with the reason. An entry is a field
#: name or the end of a path (``Line[].LinkedTxn``). Keep this list short: a field that belongs
#: here only for one recording's data goes into that test's own allowance instead.
ALLOWED_MISSING: dict[str, str] = {
    "Lat": "geocoded latitude QBO adds to older addresses (often 'INVALID'); new ones lack it",
    "Long": "geocoded longitude, as Lat",
    "LastModifiedByRef": "MetaData: the QBO user who made the change; the emulator has no users",
    "CustomExtensions": "custom-field extensions on 2026 lines (always [] in the recordings)",
    "V4IDPseudonym": "opaque pseudonym from Intuit's identity service on 2026 customer reads",
    "ClientEntityId": "Intuit-internal id on 2026 customer reads (always '0')",
}

#: Where key sets must match exactly (paths with array element kinds written as ``[]``).
ENVELOPES: frozenset[str] = frozenset(
    {
        "$",
        "$.Fault",
        "$.Fault.Error[]",
        "$.fault",
        "$.fault.error[]",
        "$.QueryResponse",
        "$.BatchItemResponse[]",
        "$.BatchItemResponse[].Fault",
        "$.BatchItemResponse[].Fault.Error[]",
        "$.BatchItemResponse[].QueryResponse",
        "$.CDCResponse[]",
        "$.CDCResponse[].QueryResponse[]",
    }
)

_KIND = re.compile(r"\[[^\]]*\]")


_JSON_TYPES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (type(None), "null"),
    (bool, "bool"),  # before number: bool is an int
    ((int, float), "number"),
    (str, "string"),
    (dict, "object"),
    (list, "array"),
)


def json_type(value: Any) -> str:
    for kind, name in _JSON_TYPES:
        if isinstance(value, kind):
            return name
    return type(value).__name__  # not JSON (e.g. Decimal): never equal to a recorded type


@dataclass
class Shape:
    types: set[str] = field(default_factory=set)
    fields: dict[str, Shape] = field(default_factory=dict)
    items: dict[str, Shape] = field(default_factory=dict)  # element kind -> merged shape

    def add(self, value: Any) -> Shape:
        self.types.add(json_type(value))
        if isinstance(value, dict):
            for key, inner in value.items():
                self.fields.setdefault(key, Shape()).add(inner)
        elif isinstance(value, list):
            for element in value:
                self.items.setdefault(element_kind(element), Shape()).add(element)
        return self


def element_kind(element: Any) -> str:
    """How array elements are grouped: invoice lines by DetailType, batch items by bId."""
    if isinstance(element, dict):
        if isinstance(element.get("DetailType"), str):
            return f"DetailType={element['DetailType']}"
        if isinstance(element.get("bId"), str):
            return f"bId={element['bId']}"
    return ""


def shape_of(*values: Any) -> Shape:
    shape = Shape()
    for value in values:
        shape.add(value)
    return shape


def _generic(path: str) -> str:
    return _KIND.sub("[]", path)


def _allowed(path: str, allowed: frozenset[str]) -> bool:
    """An entry is a field name (``Lat``) or the end of a path (``Line[].LinkedTxn``)."""
    generic = _generic(path)
    return any(generic.endswith("." + entry) for entry in allowed)


def compare(
    recorded: Any,
    emulated: Any,
    *,
    allowed_missing: Iterable[str] = ALLOWED_MISSING,
    envelopes: Iterable[str] = ENVELOPES,
    path: str = "$",
) -> list[str]:
    """Differences between the recorded body and the emulated one (empty when they agree)."""
    differences: list[str] = []
    _compare(
        shape_of(recorded),
        shape_of(emulated),
        path,
        allowed=frozenset(allowed_missing),
        envelopes=frozenset(envelopes),
        out=differences,
    )
    return differences


def _compare(
    rec: Shape,
    emu: Shape,
    path: str,
    *,
    allowed: frozenset[str],
    envelopes: frozenset[str],
    out: list[str],
) -> None:
    unexpected = emu.types - rec.types
    if unexpected:
        out.append(
            f"{path}: type {'/'.join(sorted(emu.types))} where the recording has "
            f"{'/'.join(sorted(rec.types))}"
        )
    if "object" in rec.types and "object" in emu.types:
        for key, inner in rec.fields.items():
            if key not in emu.fields:
                if _generic(path) in envelopes or not _allowed(f"{path}.{key}", allowed):
                    kinds = "/".join(sorted(inner.types))
                    out.append(f"{path}.{key}: missing (recorded {kinds})")
                continue
            _compare(
                inner,
                emu.fields[key],
                f"{path}.{key}",
                allowed=allowed,
                envelopes=envelopes,
                out=out,
            )
        if _generic(path) in envelopes:
            for key in emu.fields.keys() - rec.fields.keys():
                out.append(f"{path}.{key}: unexpected key (not in the recording)")
    if "array" in rec.types and "array" in emu.types and emu.items:
        for kind, inner in rec.items.items():
            where = f"{path}[{kind}]"
            if kind in emu.items:
                _compare(
                    inner, emu.items[kind], where, allowed=allowed, envelopes=envelopes, out=out
                )
            else:
                out.append(f"{where}: no such element (recorded {len(rec.items)} kind(s))")


# Conventions every QBO body keeps, whatever the recording at hand happens to contain -----------

#: Amounts and quantities: JSON numbers (FACTS §9), never strings.
NUMBERS = frozenset(
    {
        "Amount", "TotalAmt", "Balance", "BalanceWithJobs", "UnitPrice", "Qty", "PurchaseCost",
        "QtyOnHand", "CurrentBalance", "CurrentBalanceWithSubAccounts", "TotalTax", "LineNum",
    }
)  # fmt: skip
STRINGS = frozenset({"Id", "SyncToken", "DocNumber", "TxnDate", "DueDate", "code"})


def convention_problems(body: Any, path: str = "$") -> list[str]:
    """Ids, SyncTokens, ref values and fault codes are strings; amounts are numbers."""
    problems: list[str] = []
    if isinstance(body, dict):
        for key, value in body.items():
            where = f"{path}.{key}"
            if key in NUMBERS and json_type(value) != "number":
                problems.append(f"{where}: {json_type(value)}, not a number")
            elif key in STRINGS and json_type(value) != "string":
                problems.append(f"{where}: {json_type(value)}, not a string")
            elif (
                key.endswith("Ref")
                and isinstance(value, dict)
                and json_type(value.get("value")) != "string"
            ):
                problems.append(f"{where}.value: {json_type(value.get('value'))}, not a string")
            problems += convention_problems(value, where)
    elif isinstance(body, list):
        for index, element in enumerate(body):
            problems += convention_problems(element, f"{path}[{index}]")
    return problems
