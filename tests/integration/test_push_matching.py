"""Matching a new JobRoutr customer to a same-named QuickBooks customer, end to end: the service as
installed (a real process), JobRoutr's signer, the emulator's own API as the judge of what reached
the books, and the operator's decision given as `appliance events review` gives it (the store's
``decide``). A name alone never links: something else must agree, or the operator decides."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col

from appliance.storage.db import session_scope
from appliance.storage.events import accept
from appliance.storage.models import Job
from appliance.storage.store import Store
from appliance.sync import events
from appliance.sync.push.customer import push as customer_push
from appliance.sync.push.invoice.push import push as invoice_push
from appliance.sync.push.outcome import Wait
from appliance.sync.push.payment import push as payment_push
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, running_gateway
from tests.harness.processes import wait_until
from tests.harness.pushing import Books
from tests.harness.store import recent_audit


@pytest.fixture(scope="module")
def gateway(books: RunningEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(books, tmp_path_factory.mktemp("matching")) as running:
        yield running


def qbo(books: RunningEmulator, qbo_id: str) -> dict[str, Any]:
    with books.api() as api:
        response = api.get(f"/customer/{qbo_id}")
        response.raise_for_status()
        return dict(response.json()["Customer"])


def in_qbo(books: RunningEmulator, **fields: Any) -> dict[str, Any]:
    """A customer the bookkeeper entered in QuickBooks."""
    with books.api() as api:
        response = api.post("/customer", json=fields)
        response.raise_for_status()
        return dict(response.json()["Customer"])


def made_inactive(books: RunningEmulator, record: dict[str, Any]) -> dict[str, Any]:
    with books.api() as api:
        body = {"Id": record["Id"], "SyncToken": record["SyncToken"], "sparse": True}
        response = api.post("/customer", json=body | {"Active": False})
        response.raise_for_status()
        return dict(response.json()["Customer"])


def named(books: RunningEmulator, name: str) -> list[dict[str, Any]]:
    rows = books.service.companies[books.realm].rows("Customer")
    return [r for r in rows if r["DisplayName"].casefold() == name.casefold()]


def customer(jobroutr_id: str, **data: Any) -> dict[str, Any]:
    return {
        "type": "customer.created",
        "timestamp": "2026-11-25T11:00:00Z",
        "data": {"id": jobroutr_id, **data},
    }


def tag() -> str:
    return uuid.uuid4().hex[:6]


def decide(gateway: Gateway, event_id: str, action: str, qbo_id: str | None = None) -> None:
    """The operator's answer, as `appliance events review` gives it."""
    store = Store.open(gateway.settings)
    try:
        events.decide(store, event_id, action, actor="operator:test", qbo_id=qbo_id)
    finally:
        store.close()


def decisions(gateway: Gateway, event_id: str) -> list[dict[str, Any]]:
    store = Store.open(gateway.settings)
    try:
        with store.session() as session:
            found = [e for e in recent_audit(session, 200) if e.action == "events.decide"]
            return [dict(e.detail) for e in found if event_id in e.detail.get("events", [])]
    finally:
        store.close()


def test_a_stranger_with_the_same_name_is_asked_about_and_nothing_changes_until_decided(
    gateway: Gateway, books: RunningEmulator
) -> None:
    name = f"Pat Lee {tag()}"
    stranger = in_qbo(
        books, DisplayName=name, PrimaryEmailAddr={"Address": "pat@lee-plumbing.example"}
    )
    before = qbo(books, stranger["Id"])
    event_id = gateway.send(customer(f"cus_{tag()}", display_name=name, email="pat@home.example"))

    review = gateway.in_review(event_id)["review"]
    assert review["reason"] == "name"
    assert review["candidate"]["qbo_id"] == stranger["Id"]
    assert review["candidate"]["email"] == "pat@lee-plumbing.example"
    assert review["create_as"] == f"{name} (2)"
    assert qbo(books, stranger["Id"]) == before, "nothing written before the operator decides"
    assert len(named(books, name)) == 1
    assert not named(books, f"{name} (2)")


def test_the_operator_links_and_jobroutr_s_record_is_written_over_the_candidate(
    gateway: Gateway, books: RunningEmulator
) -> None:
    name = f"Sam Ortiz {tag()}"
    candidate = in_qbo(books, DisplayName=name)
    event_id = gateway.send(customer("cus_sam_" + tag(), display_name=name, email="sam@x.example"))
    gateway.in_review(event_id)

    decide(gateway, event_id, "link")
    [result] = gateway.settle(event_id)
    assert result["status"] == "done"
    assert result["qbo_id"] == candidate["Id"]
    assert qbo(books, candidate["Id"])["PrimaryEmailAddr"]["Address"] == "sam@x.example"
    [audited] = decisions(gateway, event_id)
    assert (audited["decision"], audited["reason"], audited["qbo_id"]) == (
        "link",
        "name",
        candidate["Id"],
    )


def test_the_operator_creates_a_new_customer_under_the_name_shown(
    gateway: Gateway, books: RunningEmulator
) -> None:
    name = f"Ana Cruz {tag()}"
    stranger = in_qbo(books, DisplayName=name, PrimaryEmailAddr={"Address": "ana@old.example"})
    before = qbo(books, stranger["Id"])
    event_id = gateway.send(
        customer("cus_ana_" + tag(), display_name=name, email="ana@new.example")
    )
    shown = gateway.in_review(event_id)["review"]["create_as"]

    decide(gateway, event_id, "create")
    [result] = gateway.settle(event_id)
    assert result["status"] == "done"
    assert result["qbo_id"] != stranger["Id"]
    made = qbo(books, result["qbo_id"])
    assert made["DisplayName"] == shown == f"{name} (2)"
    assert made["PrimaryEmailAddr"]["Address"] == "ana@new.example"
    assert qbo(books, stranger["Id"]) == before, "the stranger is left alone"
    [audited] = decisions(gateway, event_id)
    assert (audited["decision"], audited["name"]) == ("create", shown)


def test_the_operator_skips_and_nothing_is_written(
    gateway: Gateway, books: RunningEmulator
) -> None:
    name = f"Kim Park {tag()}"
    stranger = in_qbo(books, DisplayName=name)
    before = qbo(books, stranger["Id"])
    count = len(books.service.companies[books.realm].rows("Customer"))
    event_id = gateway.send(customer("cus_kim_" + tag(), display_name=name, phone="555-0100"))
    gateway.in_review(event_id)

    decide(gateway, event_id, "skip")
    [result] = gateway.settle(event_id)
    assert result["status"] == "ignored"
    assert result["qbo_id"] is None
    assert qbo(books, stranger["Id"]) == before
    assert len(books.service.companies[books.realm].rows("Customer")) == count
    [audited] = decisions(gateway, event_id)
    assert audited["decision"] == "skip"


ADDRESS = {"line1": "12 Oak St.", "city": "Springfield", "region": "IL", "postal_code": "62701"}


@pytest.mark.parametrize(
    ("theirs", "ours"),
    [
        (
            {"PrimaryEmailAddr": {"Address": "Office@Smith.example "}},
            {"email": "office@smith.example"},
        ),
        ({"Mobile": {"FreeFormNumber": "+1 (503) 555-0142"}}, {"phone": "503.555.0142"}),
        (
            {"BillAddr": {"Line1": "12 OAK ST", "City": "springfield", "PostalCode": "62701"}},
            {"billing_address": ADDRESS},
        ),
    ],
    ids=["email", "phone", "address"],
)
def test_a_same_named_customer_something_else_agrees_with_is_linked_without_asking(
    gateway: Gateway, books: RunningEmulator, theirs: dict[str, Any], ours: dict[str, Any]
) -> None:
    name = f"Smith Roofing {tag()}"
    existing = in_qbo(books, DisplayName=name, **theirs)
    event_id = gateway.send(customer("cus_roof_" + tag(), display_name=f" {name.upper()} ", **ours))
    [result] = gateway.settle(event_id)
    assert result["status"] == "done"
    assert result["qbo_id"] == existing["Id"]
    assert len(named(books, name)) == 1
    assert not decisions(gateway, event_id)


def test_three_john_smiths_become_three_quickbooks_customers_without_asking(
    gateway: Gateway, books: RunningEmulator
) -> None:
    assert not named(books, "John Smith"), "the emulator's books have no John Smith"
    sent = [
        gateway.send(customer(f"cus_js{n}", display_name="John Smith", email=f"js{n}@example.com"))
        for n in (1, 2, 3)
    ]
    results = gateway.settle(*sent)
    assert [r["status"] for r in results] == ["done"] * 3, results
    written = {qbo(books, r["qbo_id"])["DisplayName"]: r["qbo_id"] for r in results}
    assert sorted(written) == ["John Smith", "John Smith (2)", "John Smith (3)"]
    emails = sorted(qbo(books, i)["PrimaryEmailAddr"]["Address"] for i in written.values())
    assert emails == ["js1@example.com", "js2@example.com", "js3@example.com"]


def test_an_inactive_customer_with_the_same_name_and_email_is_not_made_active_again(
    gateway: Gateway, books: RunningEmulator
) -> None:
    name = f"Harbor Marina {tag()}"
    email = "dock@harbor.example"
    gone = made_inactive(
        books, in_qbo(books, DisplayName=name, PrimaryEmailAddr={"Address": email})
    )
    before = qbo(books, gone["Id"])
    event_id = gateway.send(customer("cus_marina_" + tag(), company_name=name, email=email))

    review = gateway.in_review(event_id)["review"]
    assert review["reason"] == "inactive"
    assert review["candidate"]["qbo_id"] == gone["Id"]
    assert qbo(books, gone["Id"]) == before
    assert qbo(books, gone["Id"])["Active"] is False

    # Linking is how the operator allows it: made active again, JobRoutr's record over it.
    decide(gateway, event_id, "link")
    [result] = gateway.settle(event_id)
    assert (result["status"], result["qbo_id"]) == ("done", gone["Id"])
    back = qbo(books, gone["Id"])
    assert back["Active"] is True
    assert back["DisplayName"] == name


# A job taken up again after a crash (tests/harness/pushing.py: in-process, on the same emulator)


@pytest.fixture(scope="module")
def pushed(books: RunningEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Books]:
    base = tmp_path_factory.mktemp("resumed")
    sockets = Path(tempfile.mkdtemp(prefix="jra-", dir="/tmp"))
    found = Books(books, base, sockets)
    try:
        yield found
    finally:
        found.close()
        shutil.rmtree(sockets, ignore_errors=True)


def test_a_customer_created_before_a_crash_is_linked_by_its_job_not_asked_about(
    pushed: Books,
) -> None:
    name = f"Rowan Hale {tag()}"  # nothing but a name: a stranger's would be asked about
    data = {"id": f"cus_rowan_{tag()}", "display_name": name}
    event_id = f"evt_{uuid.uuid4().hex}"
    [first] = pushed.push(customer_push, [("customer.created", data)], event_id=event_id)
    assert first.written is not None, first.error
    pushed.unlink("customer", data["id"])  # the worker died before the link was recorded

    [again] = pushed.push(customer_push, [("customer.created", data)], event_id=event_id)
    assert again.error is None, again.error
    assert again.written is not None
    assert again.written.qbo_id == first.written.qbo_id
    assert len([r for r in pushed.company.rows("Customer") if r["DisplayName"] == name]) == 1


def test_a_numbered_customer_created_before_a_crash_is_not_numbered_again(pushed: Books) -> None:
    name = f"John Smith {tag()}"
    other = in_qbo(pushed.emulator, DisplayName=name)
    pushed.link("customer", f"cus_other_{tag()}", other["Id"])  # another JobRoutr customer's
    data = {"id": f"cus_js_{tag()}", "display_name": name, "email": "js@example.com"}
    event_id = f"evt_{uuid.uuid4().hex}"
    [first] = pushed.push(customer_push, [("customer.created", data)], event_id=event_id)
    assert first.written is not None, first.error
    assert pushed.company.get("Customer", first.written.qbo_id)["DisplayName"] == f"{name} (2)"
    pushed.unlink("customer", data["id"])

    # "(2)" is taken now (by this very customer): the same requestid is answered with it.
    [again] = pushed.push(customer_push, [("customer.created", data)], event_id=event_id)
    assert again.written is not None, again.error
    assert again.written.qbo_id == first.written.qbo_id
    assert not named(pushed.emulator, f"{name} (3)")


def test_a_link_to_a_customer_another_jobroutr_customer_took_meanwhile_is_refused(
    gateway: Gateway, books: RunningEmulator
) -> None:
    name = f"Lee Chan {tag()}"
    candidate = in_qbo(books, DisplayName=name, PrimaryEmailAddr={"Address": "lee@chan.example"})
    first = gateway.send(customer("cus_lee_" + tag(), display_name=name, email="lee@other.example"))
    gateway.in_review(first)
    # Meanwhile the QuickBooks customer's own JobRoutr record arrives (the same email): linked.
    [theirs] = gateway.settle(
        gateway.send(customer("cus_leec_" + tag(), display_name=name, email="lee@chan.example"))
    )
    assert theirs["qbo_id"] == candidate["Id"]
    before = qbo(books, candidate["Id"])

    decide(gateway, first, "link")
    [result] = gateway.settle(first)
    assert result["status"] == "failed"
    assert result["error"]["code"] == "linked"
    assert "retry" in result["error"]["hint"].lower()
    assert qbo(books, candidate["Id"]) == before


def test_a_create_whose_name_was_taken_meanwhile_is_refused_and_a_retry_asks_again(
    gateway: Gateway, books: RunningEmulator
) -> None:
    name = f"Ivy Moss {tag()}"
    in_qbo(books, DisplayName=name)
    event_id = gateway.send(customer("cus_ivy_" + tag(), display_name=name, email="ivy@x.example"))
    assert gateway.in_review(event_id)["review"]["create_as"] == f"{name} (2)"
    in_qbo(books, DisplayName=f"{name} (2)")  # the bookkeeper, between the question and the answer

    decide(gateway, event_id, "create")
    [result] = gateway.settle(event_id)
    assert result["status"] == "failed"
    assert result["error"]["code"] == "6240"
    assert f"{name} (2)" in result["error"]["message"]
    assert "asked again" in result["error"]["hint"]

    store = Store.open(gateway.settings)
    try:
        events.retry(store, [event_id], actor="operator:test")
    finally:
        store.close()
    assert gateway.in_review(event_id)["review"]["create_as"] == f"{name} (3)"


# What waits for a customer in review


def invoice_for(customer_id: str) -> dict[str, Any]:
    line = {"product_id": "prd_any", "description": "x", "quantity": "1", "unit_price": "10.00",
            "amount": "10.00"}  # fmt: skip
    return {
        "type": "invoice.created",
        "timestamp": "2026-11-25T12:00:00Z",
        "data": {"id": f"inv_{tag()}", "customer_id": customer_id, "issue_date": "2026-11-25",
                 "lines": [line], "totals": {"subtotal": "10.00", "discount": "0.00",
                                             "tax": "0.00", "total": "10.00"}},
    }  # fmt: skip


def test_an_invoice_for_a_customer_in_review_says_it_waits_for_the_operator(
    gateway: Gateway, books: RunningEmulator
) -> None:
    name = f"Noor Haddad {tag()}"
    in_qbo(books, DisplayName=name)
    customer_id = "cus_noor_" + tag()
    gateway.in_review(gateway.send(customer(customer_id, display_name=name)))
    invoice_event = gateway.send(invoice_for(customer_id))
    wait_until(lambda: gateway.event(invoice_event)["status"] == "waiting", what="the invoice")
    store = Store.open(gateway.settings)
    try:
        shown = events.show(store, invoice_event)
    finally:
        store.close()
    assert shown is not None
    assert f"customer {customer_id}" in str(shown.waiting_for)
    assert "its customer waits for your decision: `appliance events review`" in str(
        shown.waiting_for
    )


def test_an_invoice_does_not_give_up_on_a_customer_in_review(pushed: Books) -> None:
    customer_id = "cus_wait_" + tag()
    accept(
        pushed.store.engine,
        event_id=f"evt_{uuid.uuid4().hex}",
        event_type="customer.created",
        payload=customer(customer_id, display_name="Anyone"),
        realm_id=pushed.realm,
        occurred_at=None,
        known=True,
    )
    with session_scope(pushed.store.engine) as session:
        session.exec(
            update(Job)
            .where(col(Job.record_key) == f"customer:{customer_id}")
            .values(state="review")
        )
    [waited] = pushed.push(invoice_push, [("invoice.created", invoice_for(customer_id)["data"])])
    assert isinstance(waited.error, Wait), waited.error
    assert waited.error.give_up_after is None
    assert "waits for your decision" in waited.error.reason

    payment = {"id": f"pay_{tag()}", "customer_id": customer_id, "amount": "10.00",
               "date": "2026-11-26", "applied_to": []}  # fmt: skip
    [paid] = pushed.push(payment_push, [("payment.created", payment)])
    assert isinstance(paid.error, Wait), paid.error
    assert paid.error.give_up_after is None
    assert "its customer waits for your decision" in paid.error.reason

    # Any other customer not linked yet is still given up on after the dependency wait.
    [other] = pushed.push(invoice_push, [("invoice.created", invoice_for("cus_none")["data"])])
    assert isinstance(other.error, Wait), other.error
    assert other.error.give_up_after is not None
