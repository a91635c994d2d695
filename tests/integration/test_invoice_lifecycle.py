"""An invoice's life after its creation, end to end: the service as installed, JobRoutr's signed
``invoice.updated``, ``invoice.voided`` and ``invoice.deleted``, and the emulator's books as the
judge. QuickBooks holds the newest version whatever the order of delivery; a void zeroes the
invoice and a delete removes it, once, and neither touches an invoice with a payment applied."""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from appliance.sync.push.invoice.push import push
from appliance.sync.push.outcome import Refused
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, choose_default_accounts, running_gateway
from tests.harness.jobroutr import example
from tests.harness.processes import run_appliance
from tests.harness.pushing import Books
from tests.harness.store import choose_invoice_settings

DISCOUNTS_GIVEN = "86"  # the seeded income account "Discounts given" (DiscountsRefundsGiven)
CUSTOMER = "cus_4f1c2a"  # the examples' customer and product
PRODUCT = "prd_gutter"


@pytest.fixture(scope="module")
def gateway(books: RunningEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(books, tmp_path_factory.mktemp("lifecycle")) as running:
        choose_default_accounts(running)
        choose_invoice_settings(
            running.settings, books.realm, discount_account=DISCOUNTS_GIVEN, untaxed_code=None
        )
        sent = [running.send(example("customer.created")), running.send(example("product.created"))]
        assert [r["status"] for r in running.settle(*sent)] == ["done", "done"]
        yield running


def version(event_type: str, jobroutr_id: str, quantity: int, stamp: str) -> dict[str, Any]:
    """A version of a one-line invoice: ``quantity`` visits at 145.00, sent at ``stamp``."""
    amount = f"{145 * quantity}.00"
    data = {
        "id": jobroutr_id,
        "number": jobroutr_id.removeprefix("inv_")[:21],
        "customer_id": CUSTOMER,
        "issue_date": "2026-11-27",
        "memo": f"version with {quantity} visits",
        "lines": [{"product_id": PRODUCT, "description": "Gutter cleaning",
                   "quantity": str(quantity), "unit_price": "145.00", "amount": amount}],
        "totals": {"subtotal": amount, "discount": "0.00", "tax": "0.00", "total": amount},
    }  # fmt: skip
    return {"type": event_type, "timestamp": stamp, "data": data}


def ending(event_type: str, jobroutr_id: str, stamp: str) -> dict[str, Any]:
    return {"type": event_type, "timestamp": stamp, "data": {"id": jobroutr_id}}


def invoice(books: RunningEmulator, qbo_id: str) -> dict[str, Any] | None:
    """The invoice as QuickBooks holds it, None when it is gone."""
    with books.api() as api:
        response = api.get(f"/invoice/{qbo_id}")
    if response.status_code == 400 and '"610"' in response.text:
        return None
    response.raise_for_status()
    return dict(response.json()["Invoice"])


def invoice_count(books: RunningEmulator) -> int:
    return len(books.service.companies[books.realm].rows("Invoice"))


def link(gateway: Gateway, jobroutr_id: str) -> dict[str, Any]:
    response = gateway.http.get(f"/api/v1/links/invoice/{jobroutr_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def written(gateway: Gateway, doc: dict[str, Any]) -> str:
    """Send ``doc``, wait for it to end ``done``; the QBO id of the invoice."""
    [result] = gateway.settle(gateway.send(doc))
    assert result["status"] == "done", result
    return str(result["qbo_id"])


def fault(books: RunningEmulator, **rule: object) -> None:
    response = httpx.post(books.url + "/_emulator/faults", json=rule)
    assert response.status_code == 201, response.text


def money(value: Any) -> Decimal:
    return Decimal(str(value))


def test_an_update_with_a_discount_makes_quickbooks_hold_the_new_bill(
    gateway: Gateway, books: RunningEmulator
) -> None:
    qbo_id = written(gateway, example("invoice.created"))
    count = invoice_count(books)
    [updated] = gateway.settle(gateway.send(example("invoice.updated")))
    assert updated["status"] == "done", updated
    assert updated["qbo_id"] == qbo_id
    assert invoice_count(books) == count, "changed in place, not written twice"

    record = invoice(books, qbo_id)
    assert record is not None
    sales = [line for line in record["Line"] if line["DetailType"] == "SalesItemLineDetail"]
    assert [line["Description"] for line in sales] == [
        "Gutter cleaning, front and back",
        "Second visit after storm",
        "Downspout re-attached (north corner)",
    ]
    assert [money(line["Amount"]) for line in sales] == [
        Decimal("145.00"), Decimal("72.50"), Decimal("60.00")
    ]  # fmt: skip
    [discount] = [line for line in record["Line"] if line["DetailType"] == "DiscountLineDetail"]
    assert money(discount["Amount"]) == Decimal("27.75")
    assert money(discount["DiscountLineDetail"]["DiscountPercent"]) == 10
    assert money(record["TotalAmt"]) == money(record["Balance"]) == Decimal("249.75")
    assert record["CustomerMemo"]["value"].endswith("10% repeat-customer discount applied.")
    shown = link(gateway, "inv_20261127_0007")
    assert (shown["total"], shown["balance"], shown["state"]) == ("249.75", "249.75", "open")


def test_quickbooks_holds_the_newest_version_whatever_the_order_of_delivery(
    gateway: Gateway, books: RunningEmulator
) -> None:
    count = invoice_count(books)
    # The update comes first: it creates the invoice.
    qbo_id = written(gateway, version("invoice.updated", "inv_order", 2, "2026-11-27T10:00:00Z"))
    assert money(invoice(books, qbo_id)["TotalAmt"]) == Decimal("290.00")  # type: ignore[index]
    # The created (older) arrives after it, then an older update: neither changes anything.
    for late in (version("invoice.created", "inv_order", 1, "2026-11-27T09:00:00Z"),
                 version("invoice.updated", "inv_order", 3, "2026-11-27T09:30:00Z")):  # fmt: skip
        token = invoice(books, qbo_id)["SyncToken"]  # type: ignore[index]
        assert written(gateway, late) == qbo_id
        after = invoice(books, qbo_id)
        assert after is not None
        assert (after["SyncToken"], money(after["TotalAmt"])) == (token, Decimal("290.00"))
    # A newer update is applied, once, though its answer is lost (the client asks again under
    # the same requestid, and QuickBooks answers with its first answer).
    token = invoice(books, qbo_id)["SyncToken"]  # type: ignore[index]
    fault(books, kind="drop_after", path_contains="/invoice", method="POST", count=1)
    assert written(gateway, version("invoice.updated", "inv_order", 4, "2026-11-27T11:00:00Z")) == (
        qbo_id
    )
    newest = invoice(books, qbo_id)
    assert newest is not None
    assert money(newest["TotalAmt"]) == Decimal("580.00")
    assert int(newest["SyncToken"]) == int(token) + 1
    assert invoice_count(books) == count + 1


def test_a_stale_synctoken_is_read_again_and_the_update_applied_once_more(
    gateway: Gateway, books: RunningEmulator
) -> None:
    qbo_id = written(gateway, version("invoice.created", "inv_stale", 1, "2026-11-27T09:00:00Z"))
    # The bookkeeper saves the invoice between the push's read and its write (5010).
    fault(books, kind="edited", path_contains="/invoice", method="POST", count=1)
    assert written(gateway, version("invoice.updated", "inv_stale", 2, "2026-11-27T10:00:00Z")) == (
        qbo_id
    )
    record = invoice(books, qbo_id)
    assert record is not None
    assert money(record["TotalAmt"]) == Decimal("290.00")
    assert record["SyncToken"] == "2", "the bookkeeper's save, then ours: one write"
    # The same for a void.
    fault(books, kind="edited", path_contains="/invoice", method="POST", count=1)
    written(gateway, ending("invoice.voided", "inv_stale", "2026-11-27T11:00:00Z"))
    voided = invoice(books, qbo_id)
    assert voided is not None
    assert money(voided["TotalAmt"]) == 0
    assert voided["SyncToken"] == "4"


def test_a_void_zeroes_the_invoice_once_and_keeps_it_voided(
    gateway: Gateway, books: RunningEmulator
) -> None:
    qbo_id = written(gateway, version("invoice.created", "inv_void", 2, "2026-11-27T09:00:00Z"))
    # The void's answer is lost once: the client asks again under the same requestid.
    fault(books, kind="drop_after", path_contains="/invoice", method="POST", count=1)
    void = ending("invoice.voided", "inv_void", "2026-11-28T08:00:00Z")
    assert written(gateway, void) == qbo_id
    record = invoice(books, qbo_id)
    assert record is not None
    assert money(record["TotalAmt"]) == money(record["Balance"]) == 0
    assert record["PrivateNote"].startswith("Voided")
    assert record["SyncToken"] == "1", "voided once"
    shown = link(gateway, "inv_void")
    assert (shown["qbo_id"], shown["state"], shown["balance"]) == (qbo_id, "voided", "0.00")

    # JobRoutr sends it again (a new event id), and the first version arrives late: nothing
    # changes, and the invoice stays voided.
    for again in (ending("invoice.voided", "inv_void", "2026-11-28T08:00:00Z"),
                  version("invoice.created", "inv_void", 2, "2026-11-27T09:00:00Z")):  # fmt: skip
        assert written(gateway, again) == qbo_id
    assert invoice(books, qbo_id)["SyncToken"] == "1"  # type: ignore[index]
    # A newer change is refused with the reason: a voided invoice stays voided.
    [refused] = gateway.settle(
        gateway.send(version("invoice.updated", "inv_void", 3, "2026-11-29T08:00:00Z"))
    )
    assert refused["status"] == "failed"
    assert refused["error"]["code"] == "voided"
    assert invoice(books, qbo_id)["SyncToken"] == "1"  # type: ignore[index]


def test_a_delete_removes_the_invoice_once_and_it_is_not_brought_back(
    gateway: Gateway, books: RunningEmulator
) -> None:
    qbo_id = written(gateway, version("invoice.created", "inv_delete", 1, "2026-11-27T09:00:00Z"))
    count = invoice_count(books)
    fault(books, kind="drop_after", path_contains="/invoice", method="POST", count=1)
    assert written(gateway, ending("invoice.deleted", "inv_delete", "2026-11-28T08:00:00Z")) == (
        qbo_id
    )
    assert invoice(books, qbo_id) is None
    assert invoice_count(books) == count - 1
    shown = link(gateway, "inv_delete")
    assert (shown["qbo_id"], shown["state"]) == (qbo_id, "deleted")
    for again in (ending("invoice.deleted", "inv_delete", "2026-11-28T08:00:00Z"),
                  ending("invoice.voided", "inv_delete", "2026-11-28T07:00:00Z"),
                  version("invoice.created", "inv_delete", 1, "2026-11-27T09:00:00Z")):  # fmt: skip
        written(gateway, again)
    assert invoice_count(books) == count - 1, "nothing brought back"
    [refused] = gateway.settle(
        gateway.send(version("invoice.updated", "inv_delete", 2, "2026-11-29T08:00:00Z"))
    )
    assert refused["status"] == "failed"
    assert refused["error"]["code"] == "deleted"
    assert refused["error"]["hint"]
    assert invoice_count(books) == count - 1


def test_an_invoice_with_a_payment_applied_is_neither_voided_nor_deleted(
    gateway: Gateway, books: RunningEmulator
) -> None:
    qbo_id = written(gateway, version("invoice.created", "inv_paid", 2, "2026-11-27T09:00:00Z"))
    record = invoice(books, qbo_id)
    assert record is not None
    with books.api() as api:  # the customer pays part of it, recorded in QuickBooks
        made = api.post("/payment", json={
            "TotalAmt": 100, "CustomerRef": record["CustomerRef"],
            "Line": [{"Amount": 100, "LinkedTxn": [{"TxnId": qbo_id, "TxnType": "Invoice"}]}],
        })  # fmt: skip
        made.raise_for_status()
        payment = made.json()["Payment"]
    token = invoice(books, qbo_id)["SyncToken"]  # type: ignore[index]
    void = gateway.send(ending("invoice.voided", "inv_paid", "2026-11-28T08:00:00Z"))
    delete = gateway.send(ending("invoice.deleted", "inv_paid", "2026-11-28T09:00:00Z"))
    for result in gateway.settle(void, delete):
        assert result["status"] == "failed", result
        assert result["error"]["code"] == "has-payments"
        assert f"payment {payment['Id']}" in result["error"]["message"]
        assert "100.00" in result["error"]["message"]
        assert "void or delete the payment" in result["error"]["hint"].lower()
    after = invoice(books, qbo_id)
    assert after is not None
    assert (after["SyncToken"], money(after["Balance"])) == (token, Decimal("190.00"))

    # The payment voided in QuickBooks, the operator retries the void: done.
    with books.api() as api:
        api.post("/payment", params={"operation": "update", "include": "void"}, json={
            "Id": payment["Id"], "SyncToken": payment["SyncToken"], "sparse": True,
        }).raise_for_status()  # fmt: skip
    retried = run_appliance("events", "retry", void, env=gateway.env)
    assert retried.returncode == 0, retried.stderr
    [done] = gateway.settle(void)
    assert done["status"] == "done", done
    assert money(invoice(books, qbo_id)["TotalAmt"]) == 0  # type: ignore[index]
    assert link(gateway, "inv_paid")["state"] == "voided"


def test_a_void_for_an_invoice_that_never_reached_quickbooks_is_done_and_keeps_it_out(
    gateway: Gateway, books: RunningEmulator
) -> None:
    count = invoice_count(books)
    [void] = gateway.settle(
        gateway.send(ending("invoice.voided", "inv_never", "2026-11-28T08:00:00Z"))
    )
    assert (void["status"], void["qbo_id"]) == ("done", None)
    # The first version, older than the void, arrives late: it is not written.
    [late] = gateway.settle(
        gateway.send(version("invoice.created", "inv_never", 1, "2026-11-27T09:00:00Z"))
    )
    assert (late["status"], late["qbo_id"]) == ("done", None)
    assert invoice_count(books) == count
    assert gateway.http.get("/api/v1/links/invoice/inv_never").status_code == 404
    shown = run_appliance("events", "show", void["event_id"], "--json", env=gateway.env)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["status"] == "done"


def test_the_three_types_are_queued_not_ignored_and_a_void_needs_only_the_id(
    gateway: Gateway,
) -> None:
    updated = copy.deepcopy(example("invoice.updated"))
    updated["data"]["totals"]["total"] = "1.00"
    for doc, status in ((updated, 422),
                        (ending("invoice.deleted", "", "2026-11-28T08:00:00Z"), 422),
                        (example("invoice.voided"), 202)):  # fmt: skip
        body = json.dumps(doc)
        response = gateway.http.post(
            "/webhooks/jobroutr", content=body.encode(), headers=signed(gateway, body)
        )
        assert response.status_code == status, response.text
        if status == 202:
            assert response.json()["status"] == "queued"


def signed(gateway: Gateway, body: str) -> dict[str, str]:
    event_id = f"evt_{uuid.uuid4().hex}"
    stamp = datetime.now(UTC)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": gateway.signer.sign(event_id, stamp, body),
        "content-type": "application/json",
    }


def test_a_refused_void_names_the_jobroutr_payment_that_holds_the_invoice(
    books: RunningEmulator, tmp_path: Path
) -> None:
    """In-process (tests/harness/pushing.py): a payment JobRoutr sent is named by its id too."""
    pushing = Books(books, tmp_path, Path(tempfile.mkdtemp(prefix="jra-", dir="/tmp")))
    try:
        customer = books.service.companies[books.realm].rows("Customer")[0]
        item = next(i for i in books.service.companies[books.realm].rows("Item")
                    if i.get("Type") == "Service")  # fmt: skip
        pushing.link("customer", CUSTOMER, customer["Id"])
        pushing.link("product", PRODUCT, item["Id"])
        data = version("invoice.created", "inv_named", 1, "2026-11-27T09:00:00Z")["data"]
        [created] = pushing.push(push, [("invoice.created", data)])
        assert created.written is not None, created.error
        qbo_id = created.written.qbo_id
        with books.api() as api:
            made = api.post("/payment", json={
                "TotalAmt": 45, "CustomerRef": {"value": customer["Id"]},
                "Line": [{"Amount": 45, "LinkedTxn": [{"TxnId": qbo_id, "TxnType": "Invoice"}]}],
            })  # fmt: skip
            made.raise_for_status()
        payment = made.json()["Payment"]["Id"]
        pushing.link("payment", "pay_9", payment)
        [void] = pushing.push(push, [("invoice.voided", {"id": "inv_named"})])
        assert isinstance(void.error, Refused), void.error
        assert void.error.failure.code == "has-payments"
        assert f"payment {payment} (JobRoutr pay_9)" in void.error.failure.message
        assert "45.00 of 145.00 paid" in void.error.failure.message
        assert "was not voided" in void.error.failure.message
    finally:
        pushing.close()
        shutil.rmtree(pushing.settings.admin_socket.parent, ignore_errors=True)
