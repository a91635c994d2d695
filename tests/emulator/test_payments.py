"""Payments in the emulator (issue 17): the ``Payment`` entity applied to invoices, the invoices'
``Balance`` and ``LinkedTxn`` kept in step, the ``PaymentMethod`` list, and QBO's refusals.

Every figure is worked out by hand here (a 100.00 invoice, a 60.00 payment applying 40.00 leaves
the invoice 60.00 and the payment 20.00 unapplied), not by the emulator's own code.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from appliance.emulator.app import EmulatorConfig
from tests.harness.emulator import RunningEmulator
from tests.harness.processes import wait_until

UK_REALM = "4620816365000098"
PAYMENT_METHODS = [
    ("1", "Cash", "NON_CREDIT_CARD"),
    ("2", "Check", "NON_CREDIT_CARD"),
    ("3", "Visa", "CREDIT_CARD"),
    ("4", "MasterCard", "CREDIT_CARD"),
    ("5", "Discover", "CREDIT_CARD"),
    ("6", "American Express", "CREDIT_CARD"),
    ("7", "Diners Club", "CREDIT_CARD"),
]


@pytest.fixture(scope="module")
def running() -> Iterator[RunningEmulator]:
    with RunningEmulator() as emulator:  # US, automated sales tax
        made = httpx.put(f"{emulator.url}/_emulator/companies/{UK_REALM}", json={"kind": "uk"})
        assert made.status_code == 200, made.text
        yield emulator


@pytest.fixture
def api(running: RunningEmulator) -> Iterator[httpx.Client]:
    with running.api() as client:
        yield client


# Helpers -------------------------------------------------------------------------------------

_made = iter(range(1, 10_000))


def customer(api: httpx.Client, name: str = "Payer") -> dict[str, Any]:
    made = api.post("/customer", json={"DisplayName": f"{name} {next(_made)}"})
    assert made.status_code == 200, made.text
    return dict(made.json()["Customer"])


def invoice(api: httpx.Client, customer_id: str, amount: str = "100.00") -> dict[str, Any]:
    body = {
        "CustomerRef": {"value": customer_id},
        "Line": [
            {
                "Amount": float(amount),
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
            }
        ],
    }
    made = api.post("/invoice", json=body)
    assert made.status_code == 200, made.text
    return dict(made.json()["Invoice"])


def applied(invoice_id: str, amount: float) -> dict[str, Any]:
    return {"Amount": amount, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}


def pay(api: httpx.Client, customer_id: str, total: float, *lines: dict[str, Any], **extra: Any):
    body = {"TotalAmt": total, "CustomerRef": {"value": customer_id}, "Line": list(lines), **extra}
    return api.post("/payment", json=body)


def paid(api: httpx.Client, customer_id: str, total: float, *lines: dict[str, Any], **extra: Any):
    made = pay(api, customer_id, total, *lines, **extra)
    assert made.status_code == 200, made.text
    return dict(made.json()["Payment"])


def read(api: httpx.Client, entity: str, rid: str) -> dict[str, Any]:
    found = api.get(f"/{entity.lower()}/{rid}")
    assert found.status_code == 200, found.text
    return dict(found.json()[entity])


def rows(api: httpx.Client, statement: str) -> list[dict[str, Any]]:
    response = api.get("/query", params={"query": statement})
    assert response.status_code == 200, response.text
    entity = statement.split()[3]
    return list(response.json()["QueryResponse"].get(entity, []))


def account(api: httpx.Client, name: str) -> dict[str, Any]:
    return rows(api, f"select * from Account where Name = '{name}'")[0]


def fault(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body = response.json()["Fault"]
    assert body["type"] == "ValidationFault"
    (error,) = body["Error"]
    return dict(error)


def refused(response: httpx.Response, code: str, *words: str) -> None:
    error = fault(response)
    assert error["code"] == code, error
    for word in words:
        assert word in error["Detail"], error


def head(record: dict[str, Any]) -> dict[str, Any]:
    return {"Id": record["Id"], "SyncToken": record["SyncToken"]}


# Creating a payment --------------------------------------------------------------------------


def test_a_payment_applied_to_an_invoice_lowers_its_balance_and_links_the_two(
    api: httpx.Client,
) -> None:
    who = customer(api)
    bill = invoice(api, who["Id"])
    assert (bill["TotalAmt"], bill["Balance"], bill["LinkedTxn"]) == (100, 100, [])
    payment = paid(api, who["Id"], 60.00, applied(bill["Id"], 40.00), PaymentRefNum="CHK-1001")
    assert payment["TotalAmt"] == 60
    assert payment["UnappliedAmt"] == 20  # 60.00 - 40.00
    assert payment["Line"] == [
        {"Amount": 40, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Invoice"}]}
    ]
    assert payment["CustomerRef"] == {"value": who["Id"], "name": who["DisplayName"]}
    assert payment["DepositToAccountRef"] == {"value": "4", "name": "Undeposited Funds"}
    assert payment["CurrencyRef"] == {"value": "USD", "name": "United States Dollar"}
    assert payment["TxnDate"] == bill["TxnDate"]  # today, as the invoice's default
    assert payment["ProcessPayment"] is False
    assert payment["PaymentRefNum"] == "CHK-1001"
    assert (payment["SyncToken"], payment["domain"], payment["sparse"]) == ("0", "QBO", False)
    assert read(api, "Payment", payment["Id"]) == payment

    after = read(api, "Invoice", bill["Id"])
    assert after["Balance"] == 60  # 100.00 - 40.00
    assert after["TotalAmt"] == 100
    assert after["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "Payment"}]
    assert after["SyncToken"] == "1"  # the payment changed it, as QBO counts a change
    # The customer owes 100.00 - 40.00 applied - 20.00 held as credit.
    assert read(api, "Customer", who["Id"])["Balance"] == 40


def test_the_receivables_and_the_deposit_account_follow_the_payments(api: httpx.Client) -> None:
    receivable = account(api, "Accounts Receivable (A/R)")["CurrentBalance"]
    undeposited = account(api, "Undeposited Funds")["CurrentBalance"]
    checking = account(api, "Checking")
    who = customer(api)
    bill = invoice(api, who["Id"], "250.00")
    assert account(api, "Accounts Receivable (A/R)")["CurrentBalance"] == pytest.approx(
        receivable + 250
    )
    paid(api, who["Id"], 100.00, applied(bill["Id"], 100.00))
    paid(
        api,
        who["Id"],
        30.00,
        applied(bill["Id"], 30.00),
        DepositToAccountRef={"value": checking["Id"]},
    )
    assert account(api, "Accounts Receivable (A/R)")["CurrentBalance"] == pytest.approx(
        receivable + 120  # 250 - 100 - 30
    )
    assert account(api, "Undeposited Funds")["CurrentBalance"] == pytest.approx(undeposited + 100)
    assert account(api, "Checking")["CurrentBalance"] == pytest.approx(
        checking["CurrentBalance"] + 30
    )


def test_a_payment_without_lines_is_all_unapplied_credit(api: httpx.Client) -> None:
    who = customer(api)
    payment = paid(api, who["Id"], 25.00)
    assert (payment["TotalAmt"], payment["UnappliedAmt"], payment["Line"]) == (25, 25, [])
    assert read(api, "Customer", who["Id"])["Balance"] == -25


def test_one_payment_can_pay_two_invoices(api: httpx.Client) -> None:
    who = customer(api)
    first, second = invoice(api, who["Id"], "100.00"), invoice(api, who["Id"], "50.00")
    payment = paid(api, who["Id"], 150.00, applied(first["Id"], 100), applied(second["Id"], 50))
    assert payment["UnappliedAmt"] == 0
    assert read(api, "Invoice", first["Id"])["Balance"] == 0
    assert read(api, "Invoice", second["Id"])["Balance"] == 0
    assert read(api, "Customer", who["Id"])["Balance"] == 0


def test_payment_methods_are_seeded_readable_and_checked(
    running: RunningEmulator, api: httpx.Client
) -> None:
    found = rows(api, "select * from PaymentMethod")
    assert [(m["Id"], m["Name"], m["Type"]) for m in found] == sorted(
        PAYMENT_METHODS, key=lambda m: m[1].casefold()
    )
    assert read(api, "PaymentMethod", "3")["Name"] == "Visa"
    with running.api(realm=UK_REALM) as uk:
        assert len(rows(uk, "select * from PaymentMethod")) == len(PAYMENT_METHODS)
    who = customer(api)
    made = paid(api, who["Id"], 10.00, PaymentMethodRef={"value": "2"})
    assert made["PaymentMethodRef"] == {"value": "2", "name": "Check"}
    refused(pay(api, who["Id"], 10.00, PaymentMethodRef={"value": "99"}), "2500", "99")
    refused(
        api.post(
            "/customer", json={"DisplayName": "Method 99", "PaymentMethodRef": {"value": "99"}}
        ),
        "2500",
    )
    with_method = api.post(
        "/customer", json={"DisplayName": "Method Visa", "PaymentMethodRef": {"value": "3"}}
    )
    assert with_method.status_code == 200, with_method.text


def test_a_client_adds_a_payment_method_with_a_name_of_its_own(api: httpx.Client) -> None:
    made = api.post("/paymentmethod", json={"Name": "Bitcoin"})
    assert made.status_code == 200, made.text
    method = made.json()["PaymentMethod"]
    assert (method["Name"], method["Type"], method["Active"]) == (
        "Bitcoin",
        "NON_CREDIT_CARD",
        True,
    )
    assert read(api, "PaymentMethod", method["Id"])["Name"] == "Bitcoin"
    refused(api.post("/paymentmethod", json={"Name": "bitcoin"}), "6240")
    refused(api.post("/paymentmethod", json={"Name": "Cash"}), "6240")
    refused(api.post("/paymentmethod", json={"Name": "Gold", "Type": "BARTER"}), "2170")


def test_the_sandbox_invoices_that_are_paid_have_their_payments(api: httpx.Client) -> None:
    # Seeded invoices 1 (437.50) and 6 (335.25) are paid in full, as in Intuit's sandbox.
    found = rows(api, "select * from Payment where TotalAmt > '300'")
    seeded = {p["Line"][0]["LinkedTxn"][0]["TxnId"]: p for p in found if p["Id"] in ("1", "2")}
    assert sorted(seeded) == ["1", "6"]
    assert [seeded[i]["TotalAmt"] for i in ("1", "6")] == [437.50, 335.25]
    paid_invoice = read(api, "Invoice", "1")
    assert paid_invoice["LinkedTxn"] == [{"TxnId": seeded["1"]["Id"], "TxnType": "Payment"}]
    # Changing the paid invoice keeps it paid (it used to be owed in full again).
    sparse = {**head(paid_invoice), "sparse": True, "PrivateNote": "Thank you"}
    changed = api.post("/invoice", json=sparse)
    assert changed.status_code == 200, changed.text
    assert changed.json()["Invoice"]["Balance"] == 0


# What a payment may not do --------------------------------------------------------------------


def test_a_payment_that_does_not_add_up_is_refused_and_nothing_is_saved(
    api: httpx.Client,
) -> None:
    who, other = customer(api), customer(api, "Other")
    bill = invoice(api, who["Id"])
    theirs = invoice(api, other["Id"])
    # More applied than the payment's total.
    refused(pay(api, who["Id"], 30.00, applied(bill["Id"], 40.00)), "6000", "more than")
    # More than the invoice still owes.
    refused(pay(api, who["Id"], 150.00, applied(bill["Id"], 120.00)), "6000", "open balance")
    # Another customer's invoice.
    refused(pay(api, who["Id"], 10.00, applied(theirs["Id"], 10.00)), "6000", "another customer")
    # Nothing applied, or less than nothing.
    refused(pay(api, who["Id"], 10.00, applied(bill["Id"], 0)), "6000", "more than zero")
    refused(pay(api, who["Id"], 10.00, applied(bill["Id"], -5)), "6000", "more than zero")
    refused(pay(api, who["Id"], -10.00), "6000", "negative")
    # An invoice the company does not have.
    error = fault(pay(api, who["Id"], 10.00, applied("99999", 10.00)))
    assert (error["code"], error["element"]) == ("2500", "LinkedTxn")
    # Required fields.
    refused(api.post("/payment", json={"TotalAmt": 5}), "2020", "CustomerRef")
    refused(api.post("/payment", json={"CustomerRef": {"value": who["Id"]}}), "2020", "TotalAmt")
    # PaymentRefNum at most 21 characters.
    refused(pay(api, who["Id"], 10.00, PaymentRefNum="x" * 22), "6000", "PaymentRefNum")
    assert paid(api, who["Id"], 1.00, PaymentRefNum="x" * 21)["PaymentRefNum"] == "x" * 21
    # None of the refused payments touched the invoices.
    assert read(api, "Invoice", bill["Id"])["Balance"] == 100
    assert read(api, "Invoice", bill["Id"])["SyncToken"] == "0"
    assert read(api, "Invoice", theirs["Id"])["Balance"] == 100


def test_the_deposit_account_must_be_a_bank_or_other_current_asset(api: httpx.Client) -> None:
    who = customer(api)
    services = account(api, "Services")  # an Income account
    error = fault(pay(api, who["Id"], 10.00, DepositToAccountRef={"value": services["Id"]}))
    assert (error["code"], error["element"]) == ("6000", "DepositToAccountRef")
    assert "Bank or Other Current Asset" in error["Detail"]
    refused(pay(api, who["Id"], 10.00, DepositToAccountRef={"value": "9999"}), "2500", "9999")
    checking = account(api, "Checking")
    made = paid(api, who["Id"], 10.00, DepositToAccountRef={"value": checking["Id"]})
    assert made["DepositToAccountRef"] == {"value": checking["Id"], "name": "Checking"}


# Changing a payment ---------------------------------------------------------------------------


def test_an_update_replaces_the_lines_and_moves_what_is_applied(api: httpx.Client) -> None:
    who = customer(api)
    first, second = invoice(api, who["Id"], "100.00"), invoice(api, who["Id"], "80.00")
    payment = paid(api, who["Id"], 70.00, applied(first["Id"], 70.00))
    assert read(api, "Invoice", first["Id"])["Balance"] == 30
    # A full update: the lines are replaced, so the first invoice is owed in full again.
    body = {
        **head(payment),
        "TotalAmt": 70.00,
        "CustomerRef": {"value": who["Id"]},
        "Line": [applied(second["Id"], 50.00)],
    }
    moved = api.post("/payment", json=body)
    assert moved.status_code == 200, moved.text
    updated = moved.json()["Payment"]
    assert (updated["SyncToken"], updated["UnappliedAmt"]) == ("1", 20)  # 70 - 50
    one, two = read(api, "Invoice", first["Id"]), read(api, "Invoice", second["Id"])
    assert (one["Balance"], one["LinkedTxn"]) == (100, [])
    assert (two["Balance"], two["LinkedTxn"]) == (
        30,
        [{"TxnId": payment["Id"], "TxnType": "Payment"}],
    )
    assert one["SyncToken"] == "2"  # applied, then unapplied
    # A sparse update keeps the lines it does not mention.
    sparse = {**head(updated), "sparse": True, "PrivateNote": "Paid at the counter"}
    noted = api.post("/payment", json=sparse).json()["Payment"]
    assert (noted["SyncToken"], noted["Line"], noted["PrivateNote"]) == (
        "2",
        updated["Line"],
        "Paid at the counter",
    )
    assert read(api, "Invoice", second["Id"])["SyncToken"] == two["SyncToken"]  # untouched
    # A stale SyncToken is QBO's 5010, and changes nothing.
    refused(api.post("/payment", json={**sparse, "PrivateNote": "late"}), "5010")
    # Applying more than the invoice owes counts what this payment already applies to it.
    raised = api.post("/payment", json={**head(noted), "sparse": True, "TotalAmt": 80.00,
                                        "Line": [applied(second["Id"], 80.00)]})  # fmt: skip
    assert raised.status_code == 200, raised.text
    assert read(api, "Invoice", second["Id"])["Balance"] == 0
    refused(
        api.post("/payment", json={**head(raised.json()["Payment"]), "sparse": True,
                                   "TotalAmt": 90.00, "Line": [applied(second["Id"], 81.00)]}),
        "6000",
        "open balance",
    )  # fmt: skip


def test_a_payment_sent_back_as_read_changes_nothing(api: httpx.Client) -> None:
    who = customer(api)
    bill = invoice(api, who["Id"])
    payment = paid(
        api, who["Id"], 30.00, applied(bill["Id"], 30.00), PaymentMethodRef={"value": "1"}
    )
    again = api.post("/payment", json=payment)
    assert again.status_code == 200, again.text
    assert again.json()["Payment"]["SyncToken"] == "0"
    assert read(api, "Invoice", bill["Id"])["SyncToken"] == "1"  # only the payment's first write
    bill = read(api, "Invoice", bill["Id"])
    assert api.post("/invoice", json=bill).json()["Invoice"]["SyncToken"] == bill["SyncToken"]


def test_a_voided_payment_keeps_its_record_with_nothing_applied(
    running: RunningEmulator, api: httpx.Client
) -> None:
    who = customer(api)
    bill = invoice(api, who["Id"])
    payment = paid(api, who["Id"], 60.00, applied(bill["Id"], 40.00), PrivateNote="Cash sale")
    voided = api.post(
        "/payment",
        params={"operation": "update", "include": "void"},
        json={**head(payment), "sparse": True},
    )
    assert voided.status_code == 200, voided.text
    record = voided.json()["Payment"]
    assert (record["TotalAmt"], record["UnappliedAmt"]) == (0, 0)
    assert [line["Amount"] for line in record["Line"]] == [0]
    assert record["PrivateNote"] == "Voided - Cash sale"
    assert record["SyncToken"] == "1"
    after = read(api, "Invoice", bill["Id"])
    assert (after["Balance"], after["LinkedTxn"], after["SyncToken"]) == (100, [], "2")
    assert read(api, "Customer", who["Id"])["Balance"] == 100
    # With nothing applied any more, the invoice can be voided.
    gone = api.post("/invoice", params={"operation": "void"}, json=head(after))
    assert gone.status_code == 200, gone.text


def test_a_deleted_payment_is_gone_and_its_invoice_owed_again(
    running: RunningEmulator, api: httpx.Client
) -> None:
    who = customer(api)
    bill = invoice(api, who["Id"])
    since = bill["MetaData"]["CreateTime"]
    payment = paid(api, who["Id"], 100.00, applied(bill["Id"], 100.00))
    deleted = api.post("/payment", params={"operation": "delete"}, json=head(payment))
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["Payment"] == {"domain": "QBO", "status": "Deleted", "Id": payment["Id"]}
    fault(api.get(f"/payment/{payment['Id']}"))
    after = read(api, "Invoice", bill["Id"])
    assert (after["Balance"], after["LinkedTxn"]) == (100, [])
    assert read(api, "Customer", who["Id"])["Balance"] == 100
    # Change data capture shows the payment deleted and the invoice changed.
    cdc = api.get("/cdc", params={"entities": "Payment,Invoice", "changedSince": since})
    assert cdc.status_code == 200, cdc.text
    answers = cdc.json()["CDCResponse"][0]["QueryResponse"]
    payments = {p["Id"]: p for p in answers[0]["Payment"]}
    assert payments[payment["Id"]]["status"] == "Deleted"
    assert bill["Id"] in {i["Id"] for i in answers[1]["Invoice"]}
    # The records endpoint of the control API lists what is left.
    listed = httpx.get(f"{running.url}/_emulator/companies/{running.realm}/Payment").json()
    assert payment["Id"] not in {p["Id"] for p in listed}


# The invoice's side ---------------------------------------------------------------------------


def test_an_invoice_with_payments_cannot_be_deleted_or_voided(api: httpx.Client) -> None:
    who = customer(api)
    bill = invoice(api, who["Id"])
    payment = paid(api, who["Id"], 10.00, applied(bill["Id"], 10.00))
    bill = read(api, "Invoice", bill["Id"])
    for operation in ("delete", "void"):
        refused(
            api.post("/invoice", params={"operation": operation}, json=head(bill)),
            "6000",
            "payments applied",
        )
    assert read(api, "Invoice", bill["Id"])["Balance"] == 90
    api.post("/payment", params={"operation": "delete"}, json=head(payment)).raise_for_status()
    bill = read(api, "Invoice", bill["Id"])
    assert api.post("/invoice", params={"operation": "delete"}, json=head(bill)).status_code == 200


def test_an_invoice_update_keeps_what_is_paid_and_ignores_sent_payment_links(
    api: httpx.Client,
) -> None:
    who = customer(api)
    bill = invoice(api, who["Id"])
    payment = paid(api, who["Id"], 40.00, applied(bill["Id"], 40.00))
    bill = read(api, "Invoice", bill["Id"])
    line = {k: v for k, v in bill["Line"][0].items() if k not in ("Id", "LineNum")}

    def lines(amount: float) -> list[dict[str, Any]]:
        return [{**line, "Amount": amount}]

    sparse = {**head(bill), "sparse": True}
    # A new total below what is already paid is refused.
    refused(api.post("/invoice", json={**sparse, "Line": lines(30.00)}), "6000", "40")
    # A new total at least what is paid: Balance is the new total less what is paid.
    lower = api.post(
        "/invoice",
        json={
            **sparse,
            "Line": lines(75.00),
            "LinkedTxn": [{"TxnId": "999", "TxnType": "Payment"}],
        },
    )
    assert lower.status_code == 200, lower.text
    changed = lower.json()["Invoice"]
    assert (changed["TotalAmt"], changed["Balance"]) == (75, 35)  # 75 - 40
    assert changed["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "Payment"}]
    assert read(api, "Customer", who["Id"])["Balance"] == 35


# Deposited payments ---------------------------------------------------------------------------


def test_a_deposited_payment_cannot_change(running: RunningEmulator, api: httpx.Client) -> None:
    who = customer(api)
    bill = invoice(api, who["Id"])
    payment = paid(api, who["Id"], 50.00, applied(bill["Id"], 50.00))
    switch = f"{running.url}/_emulator/companies/{running.realm}/payments"
    marked = httpx.post(f"{switch}/{payment['Id']}/deposit")
    assert marked.status_code == 200, marked.text
    assert marked.json() == {"realm_id": running.realm, "payment_id": payment["Id"],
                             "deposited": True}  # fmt: skip
    assert httpx.post(f"{switch}/99999/deposit").status_code == 404
    expected = {
        "Message": "Deposited Transaction cannot be changed",
        "code": "6540",
    }
    for params, body in (
        ({}, {**head(payment), "sparse": True, "PrivateNote": "changed"}),
        ({"operation": "update", "include": "void"}, {**head(payment), "sparse": True}),
        ({"operation": "delete"}, head(payment)),
    ):
        error = fault(api.post("/payment", params=params, json=body))
        assert {k: error[k] for k in expected} == expected, error
        assert "deposited" in error["Detail"]
    assert read(api, "Payment", payment["Id"]) == payment


def test_a_payment_stays_deposited_across_a_restart(tmp_path: Path) -> None:
    config = EmulatorConfig(state_file=tmp_path / "emulator.json")
    with RunningEmulator(config) as first:
        token = first.token()
        with first.api(token) as api:
            payment = paid(api, customer(api)["Id"], 5.00)
        switch = f"{first.url}/_emulator/companies/{first.realm}/payments/{payment['Id']}/deposit"
        httpx.post(switch).raise_for_status()
    with (
        RunningEmulator(EmulatorConfig(state_file=config.state_file)) as again,
        again.api(token) as api,
    ):
        refused(api.post("/payment", params={"operation": "delete"}, json=head(payment)), "6540")


# Queries, batches and webhooks ----------------------------------------------------------------


def test_payments_are_queried_by_customer_date_and_time(api: httpx.Client) -> None:
    who = customer(api)
    first = paid(api, who["Id"], 5.00, TxnDate="2026-01-15")
    second = paid(api, who["Id"], 7.00, TxnDate="2026-02-15")
    both = rows(api, f"select * from Payment where CustomerRef = '{who['Id']}'")
    assert [p["Id"] for p in both] == [first["Id"], second["Id"]]
    later = rows(
        api,
        f"select * from Payment where CustomerRef = '{who['Id']}' and TxnDate > '2026-02-01'",
    )
    assert [p["Id"] for p in later] == [second["Id"]]
    stamp = first["MetaData"]["CreateTime"]
    recent = rows(api, f"select * from Payment where MetaData.LastUpdatedTime >= '{stamp}'")
    assert {first["Id"], second["Id"]} <= {p["Id"] for p in recent}
    count = api.get("/query", params={"query": "select count(*) from Payment"})
    assert count.json()["QueryResponse"]["totalCount"] >= 2


def test_payments_in_a_batch_are_created_and_voided(api: httpx.Client) -> None:
    who = customer(api)
    bill = invoice(api, who["Id"])
    body = {
        "TotalAmt": 20.00,
        "CustomerRef": {"value": who["Id"]},
        "Line": [applied(bill["Id"], 20)],
    }
    made = api.post(
        "/batch", json={"BatchItemRequest": [{"bId": "p1", "operation": "create", "Payment": body}]}
    )
    payment = made.json()["BatchItemResponse"][0]["Payment"]
    assert payment["UnappliedAmt"] == 0
    voided = api.post(
        "/batch",
        json={"BatchItemRequest": [{"bId": "v1", "operation": "update", "optionsData": "void",
                                    "Payment": {**head(payment), "sparse": True}}]},
    )  # fmt: skip
    assert voided.json()["BatchItemResponse"][0]["Payment"]["TotalAmt"] == 0
    assert read(api, "Invoice", bill["Id"])["Balance"] == 100


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: list[bytes]

    def do_POST(self) -> None:
        self.received.append(self.rfile.read(int(self.headers["content-length"])))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_payment_changes_are_notified_by_webhook(
    running: RunningEmulator, api: httpx.Client
) -> None:
    received: list[bytes] = []
    server = http.server.HTTPServer(
        ("127.0.0.1", 0), type("Handler", (_Receiver,), {"received": received})
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hooks = f"{running.url}/_emulator/webhooks"
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/qbo"
        httpx.put(hooks, json={"url": url, "delay_seconds": 0.1}).raise_for_status()
        who = customer(api)
        bill = invoice(api, who["Id"])
        payment = paid(api, who["Id"], 10.00, applied(bill["Id"], 10.00))

        def events() -> set[tuple[str, str]]:
            seen = set()
            for body in received:
                for event in json.loads(body):
                    seen.add((event["type"], event["intuitentityid"]))
            return seen

        wanted = {("qbo.payment.created.v1", payment["Id"]), ("qbo.invoice.updated.v1", bill["Id"])}
        wait_until(lambda: wanted <= events(), timeout=10, what="the payment's webhooks")
    finally:
        httpx.put(hooks, json={"url": ""}).raise_for_status()
        server.shutdown()
