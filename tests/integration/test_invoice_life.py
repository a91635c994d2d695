"""An invoice's life as the contract's examples tell it, through the installed service and the
emulator's books (../shared/jobroutr/examples): created, updated with a 10 % discount, paid on
site by card, a void refused while the payment stands, the payment voided, then the invoice
voided. Each state is checked in QuickBooks' own records: lines, totals, Balance, LinkedTxn,
UnappliedAmt, the deposit account."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from appliance.emulator.app import EmulatorConfig
from appliance.storage import changes
from appliance.storage.store import Store
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, choose_default_accounts, running_gateway
from tests.harness.jobroutr import example
from tests.harness.processes import run_appliance, wait_until

INVOICE = "inv_20261127_0007"
PAYMENT = "pay_7Hq2"


@pytest.fixture(scope="module")
def books() -> Iterator[RunningEmulator]:
    with RunningEmulator(EmulatorConfig()) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def gateway(books: RunningEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    life = tmp_path_factory.mktemp("life")
    with running_gateway(books, life, APPLIANCE_FEED_INTERVAL_SECONDS="1") as running:
        choose_default_accounts(running)
        listed = run_appliance("accounts", "--kind", "discount", "--json", env=running.env)
        assert listed.returncode == 0, listed.stderr
        discount = json.loads(listed.stdout)[0]["qbo_id"]
        chosen = run_appliance("taxes", "discount-account", discount, env=running.env)
        assert chosen.returncode == 0, chosen.stderr
        yield running


def record(books: RunningEmulator, entity: str, qbo_id: str) -> dict[str, Any]:
    return dict(books.service.companies[books.realm].get(entity, qbo_id))


def money(value: object) -> Decimal:
    return Decimal(str(value))


def later(doc: dict[str, Any], kind: str, at: str) -> dict[str, Any]:
    return {"type": kind, "timestamp": at, "data": {"id": doc["data"]["id"]}}


def test_created_updated_paid_void_refused_payment_voided_invoice_voided(
    gateway: Gateway, books: RunningEmulator
) -> None:
    created, updated = example("invoice.created"), example("invoice.updated")
    paid = example("payment.created")
    first = gateway.settle(
        gateway.send(example("customer.created")),
        gateway.send(example("product.created")),
        gateway.send(created),
    )
    assert [e["status"] for e in first] == ["done"] * 3, first
    qbo_id = gateway.link("invoice", INVOICE)
    assert qbo_id is not None
    assert money(record(books, "Invoice", qbo_id)["TotalAmt"]) == money(
        created["data"]["totals"]["total"]
    )

    # Updated: a line added and a 10 % discount; the same QBO invoice, all lines replaced.
    [changed] = gateway.settle(gateway.send(updated))
    assert changed["status"] == "done", changed
    assert gateway.link("invoice", INVOICE) == qbo_id
    invoice = record(books, "Invoice", qbo_id)
    sales = [line for line in invoice["Line"] if line["DetailType"] == "SalesItemLineDetail"]
    assert [money(line["Amount"]) for line in sales] == [
        money(line["amount"]) for line in updated["data"]["lines"]
    ]
    assert money(invoice["TotalAmt"]) == money(updated["data"]["totals"]["total"])  # 249.75
    assert any(line["DetailType"] == "DiscountLineDetail" for line in invoice["Line"])
    assert invoice["CustomerMemo"]["value"] == updated["data"]["memo"]

    # Paid on site: the invoice's balance is 0, the payment is linked to it, Undeposited Funds.
    [payment_event] = gateway.settle(gateway.send(paid))
    assert payment_event["status"] == "done", payment_event
    payment_id = gateway.link("payment", PAYMENT)
    assert payment_id is not None
    payment = record(books, "Payment", payment_id)
    assert money(payment["TotalAmt"]) == Decimal("249.75")
    assert money(payment.get("UnappliedAmt", 0)) == 0
    assert payment["PaymentRefNum"] == paid["data"]["reference"]
    deposit = record(books, "Account", payment["DepositToAccountRef"]["value"])
    assert deposit["Name"] == "Undeposited Funds"
    invoice = record(books, "Invoice", qbo_id)
    assert money(invoice["Balance"]) == 0
    assert {"TxnId": payment_id, "TxnType": "Payment"} in [
        {"TxnId": str(t["TxnId"]), "TxnType": t["TxnType"]} for t in invoice.get("LinkedTxn", [])
    ]
    link = gateway.http.get(f"/api/v1/links/invoice/{INVOICE}").json()
    assert (link["state"], money(link["balance"])) == ("paid", Decimal(0))

    # The job is cancelled: the void is refused while the payment stands, nothing changes.
    void_event = gateway.send(later(created, "invoice.voided", "2026-11-29T08:05:00Z"))
    [refused] = gateway.settle(void_event)
    assert refused["status"] == "failed", refused
    assert "payment" in refused["error"]["message"].lower()
    assert refused["error"]["hint"]
    assert money(record(books, "Invoice", qbo_id)["TotalAmt"]) == Decimal("249.75")

    # The payment is voided, then the void retried: the invoice is kept, zeroed.
    [unpaid] = gateway.settle(gateway.send(later(paid, "payment.voided", "2026-11-29T08:10:00Z")))
    assert unpaid["status"] == "done", unpaid
    assert money(record(books, "Payment", payment_id)["TotalAmt"]) == 0
    assert money(record(books, "Invoice", qbo_id)["Balance"]) == Decimal("249.75")
    retried = run_appliance("events", "retry", void_event, env=gateway.env)
    assert retried.returncode == 0, retried.stderr
    [voided] = gateway.settle(void_event)
    assert voided["status"] == "done", voided
    invoice = record(books, "Invoice", qbo_id)
    assert money(invoice["TotalAmt"]) == 0
    assert str(invoice.get("PrivateNote", "")).startswith("Voided")
    link = gateway.http.get(f"/api/v1/links/invoice/{INVOICE}").json()
    assert link["state"] == "voided"

    # The change feed reads QuickBooks every second here: none of that was the bookkeeper...
    polled_after(gateway, datetime.now(UTC))
    assert gateway.http.get("/api/v1/changes").json()["items"] == []
    # ...but a rename in QuickBooks is, and comes back within a poll.
    customer_id = gateway.link("customer", "cus_4f1c2a")
    assert customer_id is not None
    with books.api() as api:
        current = api.get(f"/customer/{customer_id}").json()["Customer"]
        change = {"Id": customer_id, "sparse": True, "SyncToken": current["SyncToken"],
                  "DisplayName": "O'Neil Lawn & Garden LLC"}  # fmt: skip
        renamed = api.post("/customer", json=change)
        assert renamed.status_code == 200, renamed.text
    polled_after(gateway, datetime.now(UTC))
    items = gateway.http.get("/api/v1/changes").json()["items"]
    assert [(i["kind"], i["jobroutr_id"], i["change"]) for i in items] == [
        ("customer", "cus_4f1c2a", "renamed")
    ]


def polled_after(gateway: Gateway, moment: datetime) -> None:
    """Wait until the change feed has polled QuickBooks after ``moment``."""

    def polled() -> bool:
        store = Store.open(gateway.settings)
        try:
            info = store.connection_info()
            assert info is not None
            state = changes.feed_state(store.engine, info.realm_id)
        finally:
            store.close()
        return (
            state is not None
            and state.last_polled_at is not None
            and (state.last_polled_at > moment)
        )

    wait_until(polled, timeout=30, what="a poll of the change feed")
