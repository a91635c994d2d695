"""Exact links and QuickBooks' decisions, end to end: the service as installed, JobRoutr's signer,
and the emulator's own API as the judge. An event with ``qbo_id`` is about exactly that QuickBooks
record; a record the bookkeeper made inactive is not revived without the operator; an inventory
item keeps its type and stock; a customer who owes money is not archived (docs/push.md)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from appliance.storage import review
from appliance.storage.store import Store
from tests.harness.bookkeeper import Bookkeeper
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, running_gateway
from tests.harness.processes import wait_until


@pytest.fixture(scope="module")
def gateway(books: RunningEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(books, tmp_path_factory.mktemp("exact")) as running:
        yield running


@pytest.fixture
def keeper(books: RunningEmulator) -> Bookkeeper:
    return Bookkeeper(books)


def event(kind: str, **data: Any) -> dict[str, Any]:
    """A JobRoutr event stamped now (a later one is newer than an earlier one)."""
    return {"type": kind, "timestamp": datetime.now(UTC).isoformat(), "data": data}


def jid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def count(books: RunningEmulator, entity: str) -> int:
    return len(books.service.companies[books.realm].rows(entity))


def failed(gateway: Gateway, doc: dict[str, Any]) -> dict[str, Any]:
    (result,) = gateway.settle(gateway.send(doc))
    assert result["status"] == "failed", result
    return dict(result["error"])


def test_a_qbo_id_links_exactly_that_customer_even_under_another_name(
    gateway: Gateway, books: RunningEmulator, keeper: Bookkeeper
) -> None:
    theirs = keeper.customer(f"Hartley Plumbing {uuid.uuid4().hex[:6]}")
    # A same-named customer that is not the one JobRoutr means.
    keeper.customer(f"Hartley Residence {theirs['Id']}")
    before = count(books, "Customer")
    cus = jid("cus")
    doc = event(
        "customer.created",
        id=cus,
        display_name=f"Hartley Residence {theirs['Id']}x",
        email="ann@hartley.example",
        qbo_id=theirs["Id"],
    )
    (result,) = gateway.settle(gateway.send(doc))
    assert result["status"] == "done", result
    assert gateway.link("customer", cus) == theirs["Id"]
    assert count(books, "Customer") == before, "linked, nothing created"
    record = keeper.read("Customer", theirs["Id"])
    assert record["DisplayName"] == f"Hartley Residence {theirs['Id']}x"
    assert record["PrimaryEmailAddr"]["Address"] == "ann@hartley.example"

    # Another JobRoutr customer naming the same QuickBooks customer is refused, naming the first.
    error = failed(
        gateway, event("customer.created", id=jid("cus"), display_name="Ann H", qbo_id=theirs["Id"])
    )
    assert error["code"] == "qbo-id-taken"
    assert f"QuickBooks customer {theirs['Id']}" in error["message"]
    assert cus in error["message"]
    # The linked customer is never re-pointed to another QuickBooks id.
    other = keeper.customer(f"Someone Else {uuid.uuid4().hex[:6]}")
    error = failed(
        gateway, event("customer.updated", id=cus, display_name="Ann H", qbo_id=other["Id"])
    )
    assert error["code"] == "qbo-id-changed"
    assert theirs["Id"] in error["message"]
    assert other["Id"] in error["message"]
    assert keeper.read("Customer", theirs["Id"])["DisplayName"] == record["DisplayName"]


def test_an_unknown_qbo_id_fails_with_its_sentence_and_creates_nothing(
    gateway: Gateway, books: RunningEmulator
) -> None:
    before = count(books, "Customer")
    error = failed(
        gateway, event("customer.created", id=jid("cus"), display_name="Nobody", qbo_id="987654")
    )
    assert error["code"] == "qbo-id-unknown"
    assert error["message"] == (
        "JobRoutr says this customer is QuickBooks customer 987654, but QuickBooks has no such "
        "customer."
    )
    assert "appliance events skip" in error["hint"]
    assert count(books, "Customer") == before


def test_a_qbo_id_of_the_wrong_kind_of_item_fails_with_its_sentence(
    gateway: Gateway, books: RunningEmulator, keeper: Bookkeeper
) -> None:
    items = books.service.companies[books.realm].rows("Item")
    service = next(i for i in items if i["Type"] == "Service" and i.get("Active", True))
    category = next((i for i in items if i["Type"] == "Category"), None)
    error = failed(
        gateway,
        event(
            "product.created",
            id=jid("prd"),
            name="Stock",
            price="1.00",
            type="inventory",
            qbo_id=service["Id"],
        ),
    )
    assert error["code"] == "qbo-id-kind"
    assert (
        f"QuickBooks item {service['Id']}, but that item is a service, not an inventory item"
        in (error["message"])
    )
    if category is not None:
        error = failed(
            gateway,
            event(
                "product.created", id=jid("prd"), name="Cat", price="1.00", qbo_id=category["Id"]
            ),
        )
        assert error["code"] == "qbo-id-kind"
        assert "is a category, not a product or service" in error["message"]
    assert keeper.read("Item", service["Id"])["SyncToken"] == service["SyncToken"]


def test_a_customer_made_inactive_in_quickbooks_is_not_revived_until_the_operator_says(
    gateway: Gateway, books: RunningEmulator, keeper: Bookkeeper
) -> None:
    name = f"Dormant Landscaping {uuid.uuid4().hex[:6]}"
    theirs = keeper.customer(name)
    cus = jid("cus")
    created = event(
        "customer.created",
        id=cus,
        display_name=name,
        email="d@dormant.example",
        qbo_id=theirs["Id"],
    )
    (first,) = gateway.settle(gateway.send(created))
    assert first["status"] == "done", first
    # The bookkeeper, in QuickBooks: the appliance's mirror row still says active, with the
    # SyncToken of its own write; the update's stale SyncToken makes it read the record again.
    keeper.change_customer(theirs["Id"], Active=False)
    inactive = keeper.read("Customer", theirs["Id"])

    update = gateway.send(
        event(
            "customer.updated",
            id=cus,
            display_name=name,
            email="d@dormant.example",
            phone="555-0100",
        )
    )
    wait_until(lambda: gateway.event(update)["status"] == "review", what="the update to ask")
    shown = gateway.event(update)
    assert shown["review"]["reason"] == "inactive"
    assert shown["review"]["candidate"]["qbo_id"] == theirs["Id"]
    record = keeper.read("Customer", theirs["Id"])
    assert record["Active"] is False
    assert record["SyncToken"] == inactive["SyncToken"], "nothing written"

    store = Store.open(gateway.settings)
    try:
        review.decide(store.engine, update, "link", actor="operator")
    finally:
        store.close()
    (result,) = gateway.settle(update)
    assert result["status"] == "done", result
    record = keeper.read("Customer", theirs["Id"])
    assert record["Active"] is True
    assert record["DisplayName"] == name
    assert record["PrimaryPhone"]["FreeFormNumber"] == "555-0100"


def test_an_exact_link_to_an_inactive_customer_asks_too(
    gateway: Gateway, keeper: Bookkeeper
) -> None:
    name = f"Closed Account {uuid.uuid4().hex[:6]}"
    theirs = keeper.customer(name)
    keeper.change_customer(theirs["Id"], Active=False)
    sent = gateway.send(
        event("customer.created", id=jid("cus"), display_name=name, qbo_id=theirs["Id"])
    )
    wait_until(lambda: gateway.event(sent)["status"] == "review", what="the link to ask")
    assert gateway.event(sent)["review"]["reason"] == "inactive"
    assert keeper.read("Customer", theirs["Id"])["Active"] is False


def test_an_inventory_item_keeps_its_type_and_stock_through_product_events(
    gateway: Gateway, books: RunningEmulator, keeper: Bookkeeper
) -> None:
    items = books.service.companies[books.realm].rows("Item")
    stock = next(i for i in items if i["Type"] == "Inventory" and i.get("Active", True))
    before = keeper.read("Item", stock["Id"])
    prd = jid("prd")
    sends = [
        event(
            "product.created",
            id=prd,
            name=f"{before['Name']} XL",
            description="Bigger, louder.",
            price="299.00",
            type="inventory",
            qbo_id=stock["Id"],
        ),
        # JobRoutr calls it non-inventory now: the item's type is still QuickBooks' to decide.
        event(
            "product.updated",
            id=prd,
            name=f"{before['Name']} XL",
            price="310.00",
            type="non_inventory",
            sku="NEW-SKU",
            qbo_id=stock["Id"],
        ),
    ]
    for doc in sends:
        (result,) = gateway.settle(gateway.send(doc))
        assert result["status"] == "done", result
    after = keeper.read("Item", stock["Id"])
    assert after["Type"] == "Inventory"
    assert after["TrackQtyOnHand"] is True
    assert Decimal(str(after["QtyOnHand"])) == Decimal(str(before["QtyOnHand"]))
    for key in ("IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef"):
        assert after.get(key) == before.get(key)
    assert after.get("Sku") == before.get("Sku")
    assert after["Name"] == f"{before['Name']} XL"
    assert Decimal(str(after["UnitPrice"])) == Decimal("310.00")
    assert not after.get("Description"), "JobRoutr's record no longer has one"
    assert gateway.link("product", prd) == stock["Id"]


def test_archiving_a_customer_who_owes_money_fails_with_its_reason_and_is_not_retried(
    gateway: Gateway, keeper: Bookkeeper
) -> None:
    name = f"Owes Us {uuid.uuid4().hex[:6]}"
    theirs = keeper.customer(name)
    keeper.invoice(f"OB-{theirs['Id']}", "250.00", customer=theirs["Id"])
    cus = jid("cus")
    (first,) = gateway.settle(
        gateway.send(event("customer.created", id=cus, display_name=name, qbo_id=theirs["Id"]))
    )
    assert first["status"] == "done", first

    (result,) = gateway.settle(
        gateway.send(event("customer.updated", id=cus, display_name=name, active=False))
    )
    assert result["status"] == "failed", result
    assert result["attempts"] == 1, "not retried"
    error = result["error"]
    assert error["code"] == "open-balance"
    owed = Decimal(str(keeper.read("Customer", theirs["Id"])["Balance"]))
    assert owed >= Decimal("250.00")  # with the sales tax QuickBooks added
    assert f"open balance of {owed:,.2f}" in error["message"]
    assert "write off the balance" in error["hint"]
    assert keeper.read("Customer", theirs["Id"])["Active"] is True


def test_a_customer_archived_then_restored_in_jobroutr_is_made_active_again_without_asking(
    gateway: Gateway, keeper: Bookkeeper
) -> None:
    name = f"Seasonal Client {uuid.uuid4().hex[:6]}"
    cus = jid("cus")
    for active in (True, False, True):  # JobRoutr's own archive, then its restore
        doc = event("customer.updated", id=cus, display_name=name, active=active)
        (result,) = gateway.settle(gateway.send(doc))
        assert result["status"] == "done", result
        assert keeper.read("Customer", result["qbo_id"])["Active"] is active
