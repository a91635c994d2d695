"""Payments end to end (issue 20): the service as installed, JobRoutr's signed events, and the
emulator's books as the judge. A payment sent before its invoice waits and is then applied; one
sent while a change of its invoice is still queued waits for that change; redelivered, it is
written once; its link answers the pull API; voided, its invoice is owed again."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, choose_default_accounts, running_gateway
from tests.harness.jobroutr import example
from tests.harness.processes import run_appliance, wait_until


@pytest.fixture(scope="module")
def us_books() -> Iterator[RunningEmulator]:
    with RunningEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def gateway(
    us_books: RunningEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    with running_gateway(us_books, tmp_path_factory.mktemp("payments")) as running:
        choose_default_accounts(running)
        yield running


def _qbo(books: RunningEmulator, entity: str, qbo_id: str) -> dict[str, Any]:
    return dict(books.service.companies[books.realm].get(entity, qbo_id))


def _waiting_for(gateway: Gateway, event_id: str) -> str:
    """What the event waits for, as `appliance events --status waiting` says it."""
    shown = run_appliance("events", "--status", "waiting", "--json", env=gateway.env)
    assert shown.returncode == 0, shown.stderr
    items = json.loads(shown.stdout)["items"]
    return " ".join(str(e.get("waiting_for")) for e in items if e.get("event_id") == event_id)


def _payment(amount: str, invoice_amount: str, **data: Any) -> dict[str, Any]:
    doc = copy.deepcopy(example("payment.created"))
    doc["data"].update(amount=amount, **data)
    doc["data"]["applied_to"][0]["amount"] = invoice_amount
    return doc


def test_a_payment_before_its_invoice_waits_then_pays_it_once(
    gateway: Gateway, us_books: RunningEmulator
) -> None:
    paying = gateway.send(_payment("249.75", "217.50"))
    wait_until(lambda: gateway.event(paying)["status"] == "waiting", what="the payment to wait")
    assert "invoice inv_20261127_0007 to reach QuickBooks" in _waiting_for(gateway, paying)
    sent = [gateway.send(example(n)) for n in ("customer.created", "product.created")]
    sent.append(gateway.send(example("invoice.created")))
    results = gateway.settle(*sent, paying)
    assert [r["status"] for r in results] == ["done"] * 4, [r["error"] for r in results]
    paid = _qbo(us_books, "Payment", str(results[-1]["qbo_id"]))
    assert Decimal(str(paid["UnappliedAmt"])) == Decimal("32.25")
    assert gateway.link("payment", "pay_7Hq2") == paid["Id"]
    invoice = _qbo(us_books, "Invoice", str(results[2]["qbo_id"]))
    assert Decimal(str(invoice["Balance"])) == 0
    assert {"TxnId": paid["Id"], "TxnType": "Payment"} in invoice["LinkedTxn"]

    # JobRoutr sends it again (a new delivery): still one payment.
    count = len(us_books.service.companies[us_books.realm].rows("Payment"))
    [again] = gateway.settle(gateway.send(_payment("249.75", "217.50")))
    assert again["status"] == "done"
    assert len(us_books.service.companies[us_books.realm].rows("Payment")) == count

    # Voided: the payment is kept with nothing applied; the invoice is owed again.
    voided = {"type": "payment.voided", "timestamp": "2026-11-29T08:00:00Z",
              "data": {"id": "pay_7Hq2"}}  # fmt: skip
    [void] = gateway.settle(gateway.send(voided))
    assert void["status"] == "done", void
    assert Decimal(str(_qbo(us_books, "Payment", paid["Id"])["TotalAmt"])) == 0
    assert Decimal(str(_qbo(us_books, "Invoice", invoice["Id"])["Balance"])) == Decimal("217.50")


def test_a_payment_waits_for_a_change_of_its_invoice_still_queued(
    gateway: Gateway, us_books: RunningEmulator
) -> None:
    product = {"type": "product.created", "timestamp": "2026-12-01T09:00:00Z",
               "data": {"id": "prd_visit", "name": "Second visit", "price": "100.00"}}  # fmt: skip
    changed = copy.deepcopy(example("invoice.created"))
    changed["timestamp"] = "2026-12-01T10:00:00Z"
    changed["data"].update(
        id="inv_queued",
        number="Q-1",
        lines=[{"product_id": "prd_visit", "description": "Second visit", "quantity": "1",
                "unit_price": "100.00", "amount": "100.00"}],
        totals={"subtotal": "100.00", "discount": "0.00", "tax": "0.00", "total": "100.00"},
    )  # fmt: skip
    # The invoice is in QuickBooks already (an earlier version), but its change is still queued:
    # it waits for its new product.
    first = copy.deepcopy(changed)
    first["timestamp"] = "2026-12-01T09:30:00Z"
    first["data"]["lines"][0]["product_id"] = "prd_gutter"
    [linked] = gateway.settle(gateway.send(first))
    assert linked["status"] == "done", linked
    invoice_event = gateway.send(changed)
    wait_until(lambda: gateway.event(invoice_event)["status"] == "waiting", what="the invoice")
    paying = _payment("100.00", "100.00", id="pay_queued", reference="q-1")
    paying["data"]["applied_to"][0]["invoice_id"] = "inv_queued"
    payment_event = gateway.send(paying)
    wait_until(lambda: gateway.event(payment_event)["status"] == "waiting", what="the payment")
    assert "the change queued for invoice inv_queued" in _waiting_for(gateway, payment_event)
    results = gateway.settle(gateway.send(product), invoice_event, payment_event)
    assert [r["status"] for r in results] == ["done"] * 3, [r["error"] for r in results]
    invoice = _qbo(us_books, "Invoice", str(results[1]["qbo_id"]))
    assert Decimal(str(invoice["TotalAmt"])) == Decimal("100.00")
    assert Decimal(str(invoice["Balance"])) == 0


def test_a_payment_that_overtook_its_invoices_change_waits_for_the_invoice_to_owe_it(
    gateway: Gateway, us_books: RunningEmulator
) -> None:
    """JobRoutr's deliveries cross: the payment of an invoice's new total arrives before the
    invoice.updated that raised it. QuickBooks would refuse to apply more than the invoice owes
    (6000), so the payment waits for the invoice, and is applied once the update is written."""
    listed = run_appliance("accounts", "--kind", "discount", "--json", env=gateway.env)
    assert listed.returncode == 0, listed.stderr
    discounts = json.loads(listed.stdout)[0]["qbo_id"]  # the update gives a discount
    chosen = run_appliance("taxes", "discount-account", discounts, env=gateway.env)
    assert chosen.returncode == 0, chosen.stderr
    created = copy.deepcopy(example("invoice.created"))
    created["timestamp"] = "2026-12-02T09:00:00Z"
    created["data"].update(id="inv_overtaken", number="OT-1")
    [first] = gateway.settle(gateway.send(created))
    assert first["status"] == "done", first
    updated = copy.deepcopy(example("invoice.updated"))  # total 249.75 (it was 217.50)
    updated["timestamp"] = "2026-12-02T10:00:00Z"
    updated["data"].update(id="inv_overtaken", number="OT-1")
    paying = _payment("249.75", "249.75", id="pay_overtaken", reference="ot-1")
    paying["data"]["applied_to"][0]["invoice_id"] = "inv_overtaken"
    payment_event = gateway.send(paying)
    wait_until(lambda: gateway.event(payment_event)["status"] == "waiting", what="the payment")
    assert "invoice inv_overtaken to owe" in _waiting_for(gateway, payment_event)
    invoice_id = str(first["qbo_id"])
    assert Decimal(str(_qbo(us_books, "Invoice", invoice_id)["Balance"])) == Decimal("217.50")
    results = gateway.settle(gateway.send(updated), payment_event)
    assert [r["status"] for r in results] == ["done", "done"], [r["error"] for r in results]
    invoice = _qbo(us_books, "Invoice", invoice_id)
    assert Decimal(str(invoice["TotalAmt"])) == Decimal("249.75")
    assert Decimal(str(invoice["Balance"])) == 0


def test_the_operator_picks_the_deposit_account_with_the_cli_and_payments_go_there(
    gateway: Gateway, us_books: RunningEmulator
) -> None:
    env = gateway.env
    listed = run_appliance("accounts", "--kind", "deposit", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    fit = json.loads(listed.stdout)
    assert fit
    assert {a["account_type"] for a in fit} <= {"Bank", "Other Current Asset"}
    shown = run_appliance("settings", "show", env=env)
    assert "Payments deposited to:   Undeposited Funds" in shown.stdout
    income = json.loads(run_appliance("accounts", "--kind", "income", "--json", env=env).stdout)
    wrong = run_appliance("settings", "set", "--deposit-account", income[0]["qbo_id"], env=env)
    assert wrong.returncode == 1
    assert "a deposit account for payments must be Bank or Other Current Asset" in wrong.stderr
    bank = next(a for a in fit if a["account_type"] == "Bank")
    chosen = run_appliance("settings", "set", "--deposit-account", bank["qbo_id"], "--json",
                           env=env)  # fmt: skip
    assert chosen.returncode == 0, chosen.stderr
    assert json.loads(chosen.stdout)["deposit_account"]["qbo_id"] == bank["qbo_id"]

    doc = _payment("12.00", "0", id="pay_banked", reference="bank-1")
    doc["data"]["applied_to"] = []
    [done] = gateway.settle(gateway.send(doc))
    assert done["status"] == "done", done
    paid = _qbo(us_books, "Payment", str(done["qbo_id"]))
    assert paid["DepositToAccountRef"]["value"] == bank["qbo_id"]

    back = run_appliance("settings", "set", "--undeposited-funds", env=env)
    assert back.returncode == 0, back.stderr
    assert "Payments deposited to:   Undeposited Funds" in back.stdout


def test_a_payment_quickbooks_has_deposited_fails_6540_with_a_hint(
    gateway: Gateway, us_books: RunningEmulator
) -> None:
    doc = _payment("15.00", "0", id="pay_deposited", reference="dep-1")
    doc["data"]["applied_to"] = []
    [done] = gateway.settle(gateway.send(doc))
    assert done["status"] == "done", done
    realm = us_books.realm
    deposit = f"{us_books.url}/_emulator/companies/{realm}/payments/{done['qbo_id']}/deposit"
    httpx.post(deposit).raise_for_status()
    deleted = {"type": "payment.deleted", "timestamp": "2026-11-30T08:00:00Z",
               "data": {"id": "pay_deposited"}}  # fmt: skip
    [failed] = gateway.settle(gateway.send(deleted))
    assert failed["status"] == "failed", failed
    assert failed["error"]["code"] == "6540"
    assert "undo the deposit in QuickBooks" in failed["error"]["hint"]
    assert _qbo(us_books, "Payment", str(done["qbo_id"]))["Id"] == done["qbo_id"]


def test_a_payment_voided_before_it_reached_quickbooks_is_not_written_by_a_late_create(
    gateway: Gateway, us_books: RunningEmulator
) -> None:
    """JobRoutr voided the payment, and the void overtook its create: the void is done with
    nothing to void, and the late (older) create must not put the payment into the books."""
    void = {"type": "payment.voided", "timestamp": "2026-12-03T12:00:00Z",
            "data": {"id": "pay_never"}}  # fmt: skip
    [voided] = gateway.settle(gateway.send(void))
    assert (voided["status"], voided["qbo_id"]) == ("done", None)
    late = _payment("249.75", "249.75", id="pay_never", reference="never-1")
    late["timestamp"] = "2026-12-03T11:00:00Z"
    [created] = gateway.settle(gateway.send(late))
    assert (created["status"], created["qbo_id"]) == ("done", None)
    refs = [
        p.get("PaymentRefNum") for p in us_books.service.companies[us_books.realm].rows("Payment")
    ]
    assert "never-1" not in refs
    assert gateway.http.get("/api/v1/links/payment/pay_never").status_code == 404
