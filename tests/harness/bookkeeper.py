"""The bookkeeper at work in QuickBooks (the emulator's API, as QBO's own screens would write), and
the records JobRoutr had written there before: invoices linked as the push links them, with the
figures it read back, and customers in the mirror."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.core.kinds import CUSTOMER, INVOICE
from appliance.storage.mirror import MirrorRow, upsert
from appliance.storage.models import Link
from appliance.storage.store import Store
from appliance.storage.types import utcnow
from appliance.sync.figures import invoice_figures
from appliance.sync.push.customer import customer_row
from tests.harness.emulator import RunningEmulator

#: A seeded customer and service item of the emulator's default company.
CUSTOMER_ID = "1"
ITEM_ID = "3"


@dataclass
class Bookkeeper:
    emulator: RunningEmulator

    def post(self, path: str, body: dict[str, Any], **params: str) -> dict[str, Any]:
        with self.emulator.api() as api:
            response = api.post(path, json=body, params=params)
            assert response.status_code == 200, response.text
            return dict(response.json())

    def read(self, entity: str, qbo_id: str) -> dict[str, Any]:
        with self.emulator.api() as api:
            response = api.get(f"/{entity.lower()}/{qbo_id}")
            assert response.status_code == 200, response.text
            return dict(response.json()[entity])

    def invoice(self, number: str, amount: str = "100.00", customer: str = CUSTOMER_ID) -> Any:
        body = {
            "CustomerRef": {"value": customer},
            "DocNumber": number,
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": float(amount),
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": ITEM_ID},
                        "Qty": 1,
                        "UnitPrice": float(amount),
                    },
                }
            ],
        }
        return self.post("/invoice", body)["Invoice"]

    def void(self, qbo_id: str) -> None:
        record = self.read(INVOICE.entity, qbo_id)
        self.post("/invoice", {"Id": qbo_id, "SyncToken": record["SyncToken"]}, operation="void")

    def delete(self, entity: str, qbo_id: str) -> None:
        record = self.read(entity, qbo_id)
        body = {"Id": qbo_id, "SyncToken": record["SyncToken"]}
        self.post(f"/{entity.lower()}", body, operation="delete")

    def reprice(self, qbo_id: str, amount: str) -> None:
        """The bookkeeper changes the invoice's one line (a sparse update, all lines replaced)."""
        record = self.read(INVOICE.entity, qbo_id)
        line = {**record["Line"][0], "Amount": float(amount)}
        line["SalesItemLineDetail"] = {**line["SalesItemLineDetail"], "UnitPrice": float(amount)}
        body = {"Id": qbo_id, "SyncToken": record["SyncToken"], "sparse": True, "Line": [line]}
        self.post("/invoice", body)

    def pay(self, invoice_id: str, amount: str, customer: str = CUSTOMER_ID) -> Any:
        line = {
            "Amount": float(amount),
            "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}],
        }
        body = {"TotalAmt": float(amount), "CustomerRef": {"value": customer}, "Line": [line]}
        return self.post("/payment", body)["Payment"]

    def customer(self, name: str) -> Any:
        return self.post("/customer", {"DisplayName": name})["Customer"]

    def change_customer(self, qbo_id: str, **fields: Any) -> None:
        record = self.read(CUSTOMER.entity, qbo_id)
        body = {"Id": qbo_id, "SyncToken": record["SyncToken"], "sparse": True, **fields}
        self.post("/customer", body)


def link_invoice(store: Store, realm: str, jobroutr_id: str, record: dict[str, Any]) -> None:
    """As the push leaves an invoice it wrote: linked, with the figures QuickBooks answered."""
    with store.session() as session:
        row = session.get(Link, (realm, INVOICE.name, jobroutr_id)) or Link(
            realm_id=realm, kind=INVOICE.name, jobroutr_id=jobroutr_id, qbo_id=str(record["Id"])
        )
        row.figures = invoice_figures(record, utcnow())
        session.add(row)
        session.commit()


def mirror_customer(
    store: Store, realm: str, record: dict[str, Any], jobroutr_id: str | None = None
) -> None:
    """As an import (or a push, with ``jobroutr_id``) leaves a customer: in the mirror."""
    row = customer_row(record)
    assert isinstance(row, MirrorRow)
    upsert(store.engine, realm, CUSTOMER.plural, [row], None)
    if jobroutr_id is not None:
        with store.session() as session:
            session.add(
                Link(realm_id=realm, kind=CUSTOMER.name, jobroutr_id=jobroutr_id, qbo_id=row.qbo_id)
            )
            session.commit()


def link_figures(store: Store, realm: str, jobroutr_id: str) -> dict[str, Any]:
    with store.session() as session:
        row = session.get(Link, (realm, INVOICE.name, jobroutr_id))
        assert row is not None
        return dict(row.figures or {})
