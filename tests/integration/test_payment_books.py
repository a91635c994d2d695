"""Payments reach QuickBooks' books (issue 20): each ``payment.*`` event pushed in-process
(tests/harness/pushing.py) against the emulator, and every state checked in its books: the
invoices' ``Balance`` and ``LinkedTxn``, the payment's ``UnappliedAmt``, method, reference and
deposit account; waits, redelivery and a lost answer, updates out of order, void, delete, 6540."""

from __future__ import annotations

import copy
import itertools
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from appliance.emulator.app import EmulatorConfig
from appliance.qbo.errors import ValidationError
from appliance.storage.choices import settings_row
from appliance.storage.db import session_scope
from appliance.sync.push.outcome import HINTS, Wait
from appliance.sync.push.payment import push
from tests.harness.emulator import RunningEmulator
from tests.harness.jobroutr import example
from tests.harness.pushing import Attempt, Books

_numbers = itertools.count(1)


def _books(base: Path, *, multicurrency: bool = False) -> tuple[RunningEmulator, Books]:
    kind = "uk" if multicurrency else "us-manual"
    emulator = RunningEmulator(EmulatorConfig(company=kind, multicurrency=multicurrency))
    emulator.__enter__()
    return emulator, Books(emulator, base, Path(tempfile.mkdtemp(prefix="jrp-", dir="/tmp")))


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Books]:
    emulator, made = _books(tmp_path_factory.mktemp("payments"))
    try:
        yield made
    finally:
        made.close()
        emulator.__exit__()
        shutil.rmtree(made.settings.admin_socket.parent, ignore_errors=True)


def _post(books: Books, path: str, body: dict[str, Any]) -> dict[str, Any]:
    with books.emulator.api() as api:
        made = api.post(path, json=body)
        assert made.status_code == 200, made.text
        return dict(next(iter(v for k, v in made.json().items() if k != "time")))


def customer(books: Books, jobroutr_id: str, **extra: Any) -> str:
    made = _post(books, "/customer", {"DisplayName": f"Payer {next(_numbers)}", **extra})
    books.link("customer", jobroutr_id, made["Id"])
    return str(made["Id"])


def invoice(books: Books, customer_qbo: str, amount: str, jobroutr_id: str | None, **extra: Any):
    detail: dict[str, Any] = {"ItemRef": {"value": "1"}}
    if "tax_code" in extra:  # outside the US every line needs one (the seeded code "4": untaxed)
        detail["TaxCodeRef"] = {"value": extra.pop("tax_code")}
    line = {"Amount": float(amount), "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": detail}  # fmt: skip
    made = _post(books, "/invoice", {"CustomerRef": {"value": customer_qbo}, "Line": [line],
                                      **extra})  # fmt: skip
    if jobroutr_id is not None:
        books.link("invoice", jobroutr_id, made["Id"])
    return str(made["Id"])


def payment(customer_id: str, amount: str, *applied: tuple[str, str], **extra: Any):
    data = copy.deepcopy(example("payment.created")["data"])
    data.update(
        id=f"pay_{next(_numbers)}", customer_id=customer_id, amount=amount,
        applied_to=[{"invoice_id": i, "amount": a} for i, a in applied], **extra,
    )  # fmt: skip
    return data


def one(attempts: list[Attempt]) -> Attempt:
    (attempt,) = attempts
    return attempt


def written(books: Books, data: dict[str, Any], kind: str = "payment.created", **kw: Any):
    attempt = one(books.push(push, [(kind, data)], **kw))
    assert attempt.error is None, attempt.error
    assert attempt.written is not None
    return attempt.written


def qbo(books: Books, entity: str, qbo_id: str) -> dict[str, Any]:
    return dict(books.company.get(entity, qbo_id))


def payments_of(books: Books, customer_qbo: str) -> list[dict[str, Any]]:
    rows = books.company.rows("Payment")
    return [r for r in rows if r["CustomerRef"]["value"] == customer_qbo]


def test_the_example_payment_pays_its_invoice_with_the_method_reference_and_date(
    books: Books,
) -> None:
    data = example("payment.created")["data"]
    who = customer(books, data["customer_id"])
    bill = invoice(books, who, "249.75", "inv_20261127_0007")
    done = written(books, data)
    paid = qbo(books, "Payment", done.qbo_id)
    assert paid["TotalAmt"] == 249.75
    assert paid["UnappliedAmt"] == 0
    assert paid["Line"][0]["LinkedTxn"] == [{"TxnId": bill, "TxnType": "Invoice"}]
    assert (paid["PaymentRefNum"], paid["TxnDate"]) == ("ch_3QF9k2Lx7Pq", "2026-11-28")
    assert paid["PaymentMethodRef"]["name"] == "Credit Card"
    assert (
        paid["PrivateNote"] == "Created by JobRoutr (payment pay_7Hq2)\nPaid on site, card reader"
    )
    assert paid["DepositToAccountRef"]["name"] == "Undeposited Funds"
    billed = qbo(books, "Invoice", bill)
    assert billed["Balance"] == 0
    assert {"TxnId": done.qbo_id, "TxnType": "Payment"} in billed["LinkedTxn"]
    assert done.link is not None
    assert (done.link.kind, done.link.jobroutr_id) == (
        "payment",
        "pay_7Hq2",
    )
    # A second card payment finds the method the first one created: one "Credit Card" in all.
    again = written(books, payment(data["customer_id"], "5.00"))
    assert qbo(books, "Payment", again.qbo_id)["PaymentMethodRef"] == paid["PaymentMethodRef"]
    methods = [m for m in books.company.rows("PaymentMethod") if m["Name"] == "Credit Card"]
    assert len(methods) == 1


def test_a_payment_pays_two_invoices_and_an_overpayment_stays_a_credit(books: Books) -> None:
    who = customer(books, "cus_two")
    first, second = (
        invoice(books, who, "100.00", "inv_two_a"),
        invoice(books, who, "50.00", "inv_two_b"),
    )
    applied = (("inv_two_a", "100.00"), ("inv_two_b", "30.00"))
    data = payment("cus_two", "175.00", *applied, method="check", reference="1042")
    paid = qbo(books, "Payment", written(books, data).qbo_id)
    assert (qbo(books, "Invoice", first)["Balance"], qbo(books, "Invoice", second)["Balance"]) == (
        0,
        20,
    )
    assert paid["UnappliedAmt"] == 45
    assert paid["PaymentMethodRef"] == {"value": "2", "name": "Check"}


def test_the_deposit_account_the_operator_chose_takes_the_payment(books: Books) -> None:
    bank = next(a for a in books.company.rows("Account") if a["AccountType"] == "Bank")
    with session_scope(books.store.engine) as session:
        row = settings_row(session, books.realm)
        row.deposit_account_id = bank["Id"]
        session.add(row)
    try:
        customer(books, "cus_bank")
        paid = qbo(books, "Payment", written(books, payment("cus_bank", "20.00")).qbo_id)
    finally:
        with session_scope(books.store.engine) as session:
            row = settings_row(session, books.realm)
            row.deposit_account_id = None
            session.add(row)
    assert paid["DepositToAccountRef"]["value"] == bank["Id"]


def test_a_payment_waits_for_its_invoice_then_pays_it(books: Books) -> None:
    who = customer(books, "cus_early")
    data = payment("cus_early", "80.00", ("inv_late", "80.00"))
    early = one(books.push(push, [("payment.created", data)]))
    assert isinstance(early.error, Wait)
    assert early.error.waits_on == ["invoice:inv_late"]
    assert payments_of(books, who) == []
    bill = invoice(books, who, "80.00", "inv_late")
    written(books, data)
    assert qbo(books, "Invoice", bill)["Balance"] == 0


def test_a_redelivered_payment_or_one_whose_answer_was_lost_is_written_once(books: Books) -> None:
    who = customer(books, "cus_once")
    invoice(books, who, "60.00", "inv_once")
    data = payment("cus_once", "60.00", ("inv_once", "60.00"), reference="once-1")
    first = written(books, data)
    # The worker died before recording the link; the operator's retry (a new requestid) finds
    # the payment by our mark instead of writing it again, and so does a newer version.
    books.unlink("payment", data["id"])
    again = written(books, data, event_id=f"evt_retry_{data['id']}")
    assert again.qbo_id == first.qbo_id
    books.unlink("payment", data["id"])
    newer = {**data, "amount": "65.00", "reference": "once-1b"}
    assert written(books, newer, event_id=f"evt_newer_{data['id']}").qbo_id == first.qbo_id
    assert qbo(books, "Payment", first.qbo_id)["UnappliedAmt"] == 5
    # JobRoutr's redelivery of the same event: the link answers it.
    assert written(books, data).qbo_id == first.qbo_id
    # A lost answer: the client sends it again under the same requestid.
    rule = {"kind": "drop_after", "count": 1, "path_contains": "/payment", "method": "POST"}
    httpx.post(books.emulator.url + "/_emulator/faults", json=rule).raise_for_status()
    other = payment("cus_once", "7.00", reference="once-2")
    written(books, other)
    assert len(payments_of(books, who)) == 2


def test_an_update_replaces_the_payment_and_an_older_one_changes_nothing(books: Books) -> None:
    who = customer(books, "cus_upd")
    first, second = (
        invoice(books, who, "40.00", "inv_upd_a"),
        invoice(books, who, "40.00", "inv_upd_b"),
    )
    data = payment("cus_upd", "40.00", ("inv_upd_a", "40.00"), reference="r-1")
    now = datetime.now(UTC)
    # The update arrives first: it creates the payment.
    changed = {**data, "applied_to": [{"invoice_id": "inv_upd_b", "amount": "30.00"}],
               "reference": None}  # fmt: skip
    made = written(books, changed, "payment.updated", at=now)
    late = written(books, data, "payment.created", at=now - timedelta(minutes=5))
    assert late.qbo_id == made.qbo_id
    assert "superseded" in late.note
    paid = qbo(books, "Payment", made.qbo_id)
    assert paid["UnappliedAmt"] == 10
    assert "PaymentRefNum" not in paid
    assert (qbo(books, "Invoice", first)["Balance"], qbo(books, "Invoice", second)["Balance"]) == (
        40,
        10,
    )
    newer = written(books, data, "payment.updated", at=now + timedelta(minutes=5))
    assert newer.qbo_id == made.qbo_id
    assert (qbo(books, "Invoice", first)["Balance"], qbo(books, "Invoice", second)["Balance"]) == (
        0,
        40,
    )
    assert qbo(books, "Payment", made.qbo_id)["PaymentRefNum"] == "r-1"


def test_void_and_delete_reach_quickbooks_once_and_a_deposited_payment_fails_6540(
    books: Books,
) -> None:
    who = customer(books, "cus_end")
    bill = invoice(books, who, "90.00", "inv_end")
    voiding = payment("cus_end", "90.00", ("inv_end", "90.00"))
    made = written(books, voiding)
    written(books, {"id": voiding["id"]}, "payment.voided")
    assert written(books, {"id": voiding["id"]}, "payment.voided").note == "already voided"
    assert qbo(books, "Payment", made.qbo_id)["TotalAmt"] == 0
    assert qbo(books, "Invoice", bill)["Balance"] == 90
    deleting = payment("cus_end", "90.00", ("inv_end", "90.00"))
    gone = written(books, deleting)
    written(books, {"id": deleting["id"]}, "payment.deleted")
    assert "already deleted" in written(books, {"id": deleting["id"]}, "payment.deleted").note
    assert gone.qbo_id not in {p["Id"] for p in books.company.rows("Payment")}
    assert qbo(books, "Invoice", bill)["Balance"] == 90
    banked = payment("cus_end", "90.00", ("inv_end", "90.00"))
    deposited = written(books, banked)
    company = f"{books.emulator.url}/_emulator/companies/{books.realm}"
    httpx.post(f"{company}/payments/{deposited.qbo_id}/deposit").raise_for_status()
    refused = one(books.push(push, [("payment.deleted", {"id": banked["id"]})]))
    assert isinstance(refused.error, ValidationError)
    assert refused.error.qbo_code == "6540"
    assert "deposit" in HINTS["6540"]
    assert qbo(books, "Invoice", bill)["Balance"] == 0


def test_a_foreign_currency_payment_is_written_in_the_customers_currency_with_its_rate(
    tmp_path: Path,
) -> None:
    emulator, books = _books(tmp_path, multicurrency=True)
    try:
        who = customer(books, "cus_eur", CurrencyRef={"value": "EUR"})
        bill = invoice(books, who, "100.00", "inv_eur", CurrencyRef={"value": "EUR"},
                       ExchangeRate=0.86, tax_code="4")  # fmt: skip
        data = payment("cus_eur", "100.00", ("inv_eur", "100.00"), currency="EUR",
                       exchange_rate="0.87")  # fmt: skip
        paid = qbo(books, "Payment", written(books, data).qbo_id)
        assert paid["CurrencyRef"]["value"] == "EUR"
        assert paid["ExchangeRate"] == Decimal("0.87")
        assert qbo(books, "Invoice", bill)["Balance"] == 0
        pounds = one(
            books.push(push, [("payment.created", payment("cus_eur", "5.00", currency="GBP"))])
        )
        assert pounds.error is not None
        assert "customer is kept in EUR" in str(pounds.error)
    finally:
        books.close()
        emulator.__exit__()
        shutil.rmtree(books.settings.admin_socket.parent, ignore_errors=True)


def test_a_payment_deleted_in_quickbooks_is_written_anew_but_a_refused_update_never_is(
    books: Books,
) -> None:
    who = customer(books, "cus_gone")
    data = payment("cus_gone", "30.00", reference="gone-1")
    first = written(books, data)
    with books.emulator.api() as api:
        head = {"Id": first.qbo_id, "SyncToken": qbo(books, "Payment", first.qbo_id)["SyncToken"]}
        api.post("/payment", params={"operation": "delete"}, json=head).raise_for_status()
    later = datetime.now(UTC) + timedelta(minutes=1)
    anew = written(books, {**data, "amount": "31.00"}, "payment.updated", at=later)
    assert anew.qbo_id != first.qbo_id
    assert [p["Id"] for p in payments_of(books, who)] == [anew.qbo_id]
    # QuickBooks refuses the update (a deposit account it does not know, 2500): it fails, and
    # no second payment is written.
    with session_scope(books.store.engine) as session:
        row = settings_row(session, books.realm)
        row.deposit_account_id = "999"
        session.add(row)
    try:
        refused = one(books.push(push, [("payment.updated", {**data, "amount": "32.00"})],
                                 at=later + timedelta(minutes=1)))  # fmt: skip
    finally:
        with session_scope(books.store.engine) as session:
            row = settings_row(session, books.realm)
            row.deposit_account_id = None
            session.add(row)
    assert isinstance(refused.error, ValidationError)
    assert refused.error.qbo_code == "2500"
    assert [p["Id"] for p in payments_of(books, who)] == [anew.qbo_id]
