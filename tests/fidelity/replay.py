"""Replaying a recorded exchange on the emulator: sending it, and mapping the sandbox's ids.

The recordings come from Intuit sandboxes whose ids are not the emulator's, so a replay never
trusts a recorded id: it finds the emulator's record with the same DisplayName/Name (the seeded
company rebuilds the same sandbox) or creates the record first, and sends that record's id and
SyncToken instead.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import httpx

from tests.fidelity.recordings import Exchange
from tests.fidelity.shape import ALLOWED_MISSING
from tests.harness.emulator import RunningEmulator

_UNSET: Any = object()

#: Records the Nango sandbox had renamed by the time it was recorded, by their seeded name.
#: update-item.test.json renames item 1 ("Services" in every sandbox) to "Test Item Updated",
#: and create-invoice.test.json then refers to item 1 by that name.
SANDBOX_RENAMES = {"Test Item Updated": "Services"}

#: Invoice fields that depend on a recorded invoice's data, not on the API: what one invoice
#: has and another lacks. Used where an emulated invoice stands in for a different recorded one.
INVOICE_DATA: dict[str, str] = {
    "InvoiceLink": "the customer-facing link exists for some invoices only (none on create)",
    "PrivateNote": "a memo someone typed",
    "CustomerMemo": "a message someone typed",
    "SalesTermRef": "payment terms chosen on that invoice (terms are not seeded)",
    "TxnTaxDetail.TxnTaxCodeRef": "sales tax is not modelled (company.py docstring)",
    "TxnTaxDetail.TaxLine": "sales tax is not modelled (company.py docstring)",
    "Line[].LinkedTxn": "lines copied from an estimate; the emulator has no estimates",
    "BillAddr.Line2": "that customer's address has more lines",
    "BillAddr.Line3": "that customer's address has more lines",
    "BillAddr.Line4": "that customer's address has more lines",
}

#: The 2026 invoice fields the emulator adds when it writes an invoice. The seeded invoices
#: stand for older sandbox data that never had them, so only reads of seeded invoices allow them.
INVOICE_2026_GAPS: dict[str, str] = {
    "FreeFormAddress": "seeded invoices predate the 2026 fields",
    "ShipFromAddr": "seeded invoices predate the 2026 fields",
}


def allowing(*extra: dict[str, str]) -> set[str]:
    """The global allow-list plus a test's own (each entry documented where it is defined)."""
    names = set(ALLOWED_MISSING)
    for more in extra:
        names |= set(more)
    return names


def send(
    api: httpx.Client,
    exchange: Exchange,
    *,
    path: str | None = None,
    params: dict[str, str] | None = None,
    body: Any = _UNSET,
) -> httpx.Response:
    """The recorded request again, with the path, parameters or JSON body replaced if given."""
    if body is _UNSET:
        content = exchange.request_body.encode() if exchange.request_body else None
    else:
        content = json.dumps(body).encode()
    headers = {}
    if exchange.method == "POST":
        headers["Content-Type"] = exchange.request_content_type or "application/json"
    return api.request(
        exchange.method,
        "/" + (exchange.path if path is None else path),
        params=exchange.params if params is None else params,
        content=content,
        headers=headers,
    )


def company_of(emulator: RunningEmulator) -> Any:
    return emulator.service.companies[emulator.realm]


def named(emulator: RunningEmulator, entity: str, name: str) -> dict[str, Any]:
    """The emulator's record of ``entity`` with this DisplayName / Name / FullyQualifiedName."""
    name = SANDBOX_RENAMES.get(name, name)
    for row in company_of(emulator).rows(entity):
        if name in (row.get("DisplayName"), row.get("Name"), row.get("FullyQualifiedName")):
            return dict(row)
    raise LookupError(f"the emulator has no {entity} named {name!r}")


def ref(emulator: RunningEmulator, entity: str, recorded: dict[str, Any]) -> dict[str, str]:
    """A reference to the emulator's record that a recorded ``{"value", "name"}`` points at."""
    return {"value": named(emulator, entity, recorded["name"])["Id"]}


def invoice_like(emulator: RunningEmulator, recorded: dict[str, Any]) -> dict[str, Any]:
    """A create request for an invoice like the recorded one: customer, lines, memo, e-mail."""
    lines = []
    for line in recorded["Line"]:
        if line["DetailType"] != "SalesItemLineDetail":
            continue
        detail = line["SalesItemLineDetail"]
        mapped = {"ItemRef": ref(emulator, "Item", detail["ItemRef"])}
        mapped.update({k: detail[k] for k in ("Qty", "UnitPrice") if k in detail})
        lines.append(
            {
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": mapped,
                **{k: line[k] for k in ("Amount", "Description") if k in line},
            }
        )
    body = {"CustomerRef": ref(emulator, "Customer", recorded["CustomerRef"]), "Line": lines}
    body.update({k: recorded[k] for k in ("TxnDate", "CustomerMemo", "BillEmail") if k in recorded})
    return body


def current(api: httpx.Client, entity: str, rid: str) -> dict[str, Any]:
    response = api.get(f"/{entity.lower()}/{rid}")
    response.raise_for_status()
    return dict(response.json()[entity])


def advance_clock(emulator: RunningEmulator, seconds: float) -> None:
    httpx.post(
        emulator.url + "/_emulator/clock", json={"advance_seconds": seconds}
    ).raise_for_status()


def faults(body: Any) -> list[tuple[str, str]]:
    """(code, type) of each error, in QBO's shape or the gateway's lower-case one."""
    fault = body.get("Fault") or body.get("fault") or {}
    errors = fault.get("Error") or fault.get("error") or []
    return [(str(error.get("code")), str(fault.get("type"))) for error in errors]


def media_type(value: str | None) -> str:
    """A Content-Type compared as QBO's clients do: case and spaces do not matter."""
    return (value or "").replace(" ", "").lower()


def days_between(first: str, second: str) -> int:
    return (date.fromisoformat(second) - date.fromisoformat(first)).days
