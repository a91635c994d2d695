"""The pull API tells JobRoutr what QuickBooks holds of an invoice and what became of a mismatch:
the service in-process (its own runtime and push workers) on the emulator's US company, which
figures sales tax itself, so an invoice billed without tax comes back with QuickBooks' tax added.

The invoice is written and compared by a tiny stand-in push registered for ``invoice.created``
(the real writer and its read-back have their own tests), so what is tested here is how the
service records, shows and serves what the comparison decided."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from appliance.config import Settings
from appliance.core.kinds import CUSTOMER, INVOICE
from appliance.gateway.app import create_app
from appliance.gateway.runtime import Runtime
from appliance.storage import credentials
from appliance.storage.events import accept
from appliance.storage.models import Link
from appliance.storage.store import Store
from appliance.storage.types import utcnow
from appliance.sync.figures import invoice_figures
from appliance.sync.push import steps
from appliance.sync.push.job import KindPush, PushJob, Written
from appliance.sync.push.registry import BY_EVENT
from tests.harness.emulator import RunningEmulator
from tests.harness.processes import wait_until
from tests.harness.runtime import connect

BILL = {
    "id": "inv_mm",
    "number": "MM-1",
    "customer_id": "cus_mm",
    "issue_date": "2026-11-27",
    "lines": [{"product_id": "prd_mm", "quantity": "1", "unit_price": "100.00"}],
    "totals": {"subtotal": "100.00", "tax": "0.00", "total": "100.00"},
}


async def reconciling(job: PushJob) -> Written:
    """A tiny invoice push of its own (the seeded customer 1 and product 3, the bill's lines, no
    tax asked for), then QuickBooks' totals read back and compared with the bill's."""
    body = {
        "CustomerRef": {"value": "1"},
        "DocNumber": job.data["number"],
        "TxnDate": job.data["issue_date"],
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": Decimal(line["quantity"]) * Decimal(line["unit_price"]),
                "SalesItemLineDetail": {
                    "ItemRef": {"value": "3"},
                    "Qty": Decimal(line["quantity"]),
                    "UnitPrice": Decimal(line["unit_price"]),
                },
            }
            for line in job.data["lines"]
        ],
    }
    record = await job.qbo.write(job.realm, INVOICE.entity, body, requestid=job.rid(steps.CREATE))
    qbo_id = str(record["Id"])
    figures = invoice_figures(record, utcnow())
    bill = job.data["totals"]
    written = Written(qbo_id, job.link(INVOICE, qbo_id), figures=figures)
    if (figures["total"], figures["tax"]) == (bill["total"], bill["tax"]):
        return written
    mismatch = {
        "qbo": {"total": figures["total"], "tax": figures["tax"]},
        "jobroutr": {"total": bill["total"], "tax": bill["tax"]},
    }
    return replace(written, mismatch=mismatch)


@dataclass
class Pulling:
    client: TestClient[Any]
    store: Store
    books: RunningEmulator

    def get(self, path: str) -> dict[str, Any]:
        response = self.client.get(path)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def link(self) -> dict[str, Any]:
        return self.get("/api/v1/links/invoice/inv_mm")

    def qbo(self, path: str, body: dict[str, Any], **params: str) -> dict[str, Any]:
        with self.books.api() as api:
            response = api.post(path, json=body, params=params)
            response.raise_for_status()
            return dict(response.json())

    def invoice(self, qbo_id: str) -> dict[str, Any]:
        with self.books.api() as api:
            return dict(api.get(f"/invoice/{qbo_id}").json()["Invoice"])


def _connect(settings: Settings, realm: str) -> None:
    async def main() -> None:
        store = Store.open(settings)
        runtime = Runtime(settings, store)
        try:
            await connect(runtime, realm)
        finally:
            await runtime.aclose()
            store.close()

    asyncio.run(main())


@pytest.fixture
def pulling(
    app_settings: Settings, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Pulling]:
    _connect(app_settings, emulator.realm)
    monkeypatch.setitem(
        BY_EVENT, "invoice.created", KindPush(INVOICE, ("invoice.created",), reconciling)
    )
    store = Store.open(app_settings)
    try:
        with store.session() as session:
            _, key = credentials.create_api_key(session, label="test")
            # The bill's customer is in QuickBooks already (seeded: 1).
            session.add(
                Link(realm_id=emulator.realm, kind=CUSTOMER.name, jobroutr_id="cus_mm", qbo_id="1")
            )
            session.commit()
        with TestClient(create_app(app_settings, store)) as client:
            client.headers["Authorization"] = f"Bearer {key}"
            yield Pulling(client, store, emulator)
    finally:
        store.close()


def test_a_taxed_invoice_is_a_mismatch_and_the_link_says_what_quickbooks_holds_now(
    pulling: Pulling, emulator: RunningEmulator
) -> None:
    accept(
        pulling.store.engine,
        event_id="evt_mm",
        event_type="invoice.created",
        payload={"type": "invoice.created", "data": BILL},
        realm_id=emulator.realm,
        occurred_at=None,
        known=True,
    )
    wait_until(
        lambda: pulling.get("/api/v1/events/evt_mm")["status"] not in ("queued", "running"),
        what="the invoice to be pushed",
    )
    event = pulling.get("/api/v1/events/evt_mm")
    assert event["status"] == "mismatch", event
    qbo_id = event["qbo_id"]
    record = pulling.invoice(qbo_id)
    taxed = str(record["TxnTaxDetail"]["TotalTax"])
    assert event["mismatch"]["qbo"]["total"] == f"{record['TotalAmt']:.2f}"
    assert event["mismatch"]["jobroutr"] == {"total": "100.00", "tax": "0.00"}
    assert event["mismatch"]["accepted_at"] is None
    assert event["error"] is None

    link = pulling.link()
    assert link["qbo_id"] == qbo_id
    assert (link["doc_number"], link["state"]) == ("MM-1", "open")
    assert link["total"] == link["balance"] == event["mismatch"]["qbo"]["total"]
    assert float(link["tax"]) == float(taxed)
    first_read = datetime.fromisoformat(link["as_of"])

    # Paid in QuickBooks: the next pull says so, read live.
    payment = pulling.qbo(
        "/payment",
        {
            "TotalAmt": record["TotalAmt"],
            "CustomerRef": {"value": "1"},
            "Line": [
                {
                    "Amount": record["TotalAmt"],
                    "LinkedTxn": [{"TxnId": qbo_id, "TxnType": "Invoice"}],
                }
            ],
        },
    )["Payment"]
    paid = pulling.link()
    assert (paid["state"], paid["balance"]) == ("paid", "0.00")
    assert datetime.fromisoformat(paid["as_of"]) >= first_read

    # The payment removed and the invoice voided by the bookkeeper.
    pulling.qbo("/payment", {"Id": payment["Id"], "SyncToken": payment["SyncToken"]},
                operation="delete")  # fmt: skip
    fresh = pulling.invoice(qbo_id)
    pulling.qbo("/invoice", {"Id": qbo_id, "SyncToken": fresh["SyncToken"]}, operation="void")
    voided = pulling.link()
    assert (voided["state"], voided["total"]) == ("voided", "0.00")

    # QuickBooks slow to answer: the figures last read, and when they were read.
    runtime = pulling.client.app.state.runtime
    runtime.figures.timeout = 0.3
    stall = {"kind": "stall", "path_contains": "/invoice/", "method": "GET", "stall_seconds": 2}
    httpx.post(emulator.url + "/_emulator/faults", json=stall).raise_for_status()
    assert pulling.link() == voided  # the stored figures, as_of the last read
    # The read went on: its late answer is kept for the next pull.
    last = datetime.fromisoformat(voided["as_of"])
    wait_until(lambda: _read_at(pulling) > last, what="the late read to be stored")

    # Deleted in QuickBooks: said so, with the figures read last.
    runtime.figures.timeout = 3.0
    fresh = pulling.invoice(qbo_id)
    pulling.qbo("/invoice", {"Id": qbo_id, "SyncToken": fresh["SyncToken"]}, operation="delete")
    deleted = pulling.link()
    assert (deleted["state"], deleted["doc_number"], deleted["total"]) == (
        "deleted", "MM-1", "0.00",
    )  # fmt: skip


def _read_at(pulling: Pulling) -> datetime:
    with pulling.store.session() as session:
        row = session.get(Link, (pulling.books.realm, INVOICE.name, "inv_mm"))
        assert row is not None
        assert row.figures is not None
        return datetime.fromisoformat(row.figures["read_at"])


def test_a_customer_link_has_only_its_ids_and_an_unknown_invoice_is_404(pulling: Pulling) -> None:
    assert pulling.get("/api/v1/links/customer/cus_mm") == {
        "kind": "customer",
        "jobroutr_id": "cus_mm",
        "qbo_id": "1",
    }
    missing = pulling.client.get("/api/v1/links/invoice/inv_nowhere")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
