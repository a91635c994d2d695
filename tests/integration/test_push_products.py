"""Products without a ``qbo_id``, matched by name, end to end (the service as installed, the
emulator's books as the judge): a same-named item of the same type is linked; one of another
type (an inventory item), or one made inactive in QuickBooks, is a question for the operator and
nothing in QuickBooks changes until they answer; a name held by another JobRoutr product gets the
next free "(n)". An invoice for a product archived in JobRoutr says to re-activate it there; a
product naming an account of the wrong kind is refused at intake."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from appliance.storage.models import AuditEntry
from tests.harness.bills import figured
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, choose_default_accounts, running_gateway
from tests.harness.jobroutr import created
from tests.harness.processes import run_appliance
from tests.harness.store import decide, stored


@pytest.fixture(scope="module")
def gateway(books: RunningEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(books, tmp_path_factory.mktemp("products")) as running:
        choose_default_accounts(running)
        yield running


def product(
    jobroutr_id: str,
    name: str,
    *,
    kind: str = "service",
    price: str = "50.00",
    active: bool = True,
    at: str = "2026-11-25T10:00:00Z",
    event: str = "product.created",
    **more: Any,
) -> dict[str, Any]:
    data = {"id": jobroutr_id, "name": name, "type": kind, "price": price, "active": active}
    return {"type": event, "timestamp": at, "data": data | more}


def items(books: RunningEmulator) -> dict[str, dict[str, Any]]:
    """Every item in QuickBooks by Id, as the emulator holds it."""
    return {str(r["Id"]): dict(r) for r in books.service.companies[books.realm].rows("Item")}


def named(books: RunningEmulator, name: str) -> dict[str, Any]:
    [found] = [r for r in items(books).values() if r["Name"].casefold() == name.casefold()]
    return found


def deactivate(books: RunningEmulator, item: dict[str, Any]) -> None:
    """The bookkeeper makes the item inactive in QuickBooks."""
    change = {"Id": item["Id"], "SyncToken": item["SyncToken"], "sparse": True, "Active": False}
    with books.api() as api:
        api.post("/item", json=change).raise_for_status()


def decided(gateway: Gateway, event_id: str, action: str, qbo_id: str | None = None) -> dict:
    decide(gateway.settings, event_id, action, qbo_id=qbo_id)
    [result] = gateway.settle(event_id)
    return result


def test_a_non_inventory_product_named_like_an_inventory_item_asks_and_changes_nothing(
    gateway: Gateway, books: RunningEmulator
) -> None:
    fountain = named(books, "Rock Fountain")
    before = len(items(books))
    event = gateway.send(product("prd_rock", "Rock Fountain", kind="non_inventory", price="299"))
    shown = gateway.in_review(event)

    review = shown["review"]
    assert review["reason"] == "type"
    assert review["candidate"]["qbo_id"] == fountain["Id"]
    assert review["candidate"]["type"] == "inventory"
    assert review["create_as"] == "Rock Fountain (2)"
    assert "inventory" in review["message"]
    # Nothing was written: the item is as it was, type, stock, price and all.
    assert named(books, "Rock Fountain") == fountain
    assert len(items(books)) == before
    assert gateway.link("product", "prd_rock") is None

    # The operator creates a new one: under the name they were shown, the inventory item alone.
    result = decided(gateway, event, "create")
    assert result["status"] == "done", result
    made = items(books)[result["qbo_id"]]
    assert (made["Name"], made["Type"]) == ("Rock Fountain (2)", "NonInventory")
    assert gateway.link("product", "prd_rock") == made["Id"]
    assert named(books, "Rock Fountain") == fountain
    audited = [e for e in stored(gateway.settings, AuditEntry) if e.action == "events.decide"]
    assert any(event in json.dumps(e.detail) and "create" in json.dumps(e.detail) for e in audited)


def test_linking_to_an_inventory_item_keeps_its_type_and_stock_and_writes_name_and_price(
    gateway: Gateway, books: RunningEmulator
) -> None:
    pump = named(books, "Pump")
    event = gateway.send(
        product("prd_pump", "pump", kind="non_inventory", price="19.00", sku="P-1",
                description="Fountain pump, 1/4 hp")
    )  # fmt: skip
    assert gateway.in_review(event)["review"]["reason"] == "type"
    result = decided(gateway, event, "link")
    assert result["status"] == "done", result
    assert result["qbo_id"] == pump["Id"]
    assert gateway.link("product", "prd_pump") == pump["Id"]
    after = items(books)[pump["Id"]]
    assert after["Type"] == "Inventory"
    assert after["TrackQtyOnHand"] is True
    assert after["QtyOnHand"] == pump["QtyOnHand"]
    assert after["Name"] == "pump"
    assert after["Description"] == "Fountain pump, 1/4 hp"
    assert Decimal(str(after["UnitPrice"])) == Decimal("19.00")
    assert after.get("Sku") == pump.get("Sku")  # an inventory item: name, description, price
    assert after["IncomeAccountRef"] == pump["IncomeAccountRef"]


def test_skipping_the_question_writes_nothing(gateway: Gateway, books: RunningEmulator) -> None:
    pipes = named(books, "Sprinkler Pipes")
    event = gateway.send(product("prd_pipes", "Sprinkler Pipes", kind="non_inventory"))
    gateway.in_review(event)
    result = decided(gateway, event, "skip")
    assert result["status"] == "ignored"
    assert named(books, "Sprinkler Pipes") == pipes
    assert gateway.link("product", "prd_pipes") is None


def test_a_same_named_item_of_the_same_type_is_linked_without_a_question(
    gateway: Gateway, books: RunningEmulator
) -> None:
    design, drip = named(books, "Design"), named(books, "Drip Emitters")
    service = gateway.send(product("prd_design", "design", price="80.00"))
    goods = gateway.send(product("prd_drip", "Drip Emitters", kind="non_inventory", price="13"))
    results = gateway.settle(service, goods)
    assert [r["status"] for r in results] == ["done", "done"], results
    assert [r["qbo_id"] for r in results] == [design["Id"], drip["Id"]]
    assert Decimal(str(items(books)[design["Id"]]["UnitPrice"])) == Decimal("80.00")
    assert items(books)[drip["Id"]]["Type"] == "NonInventory"


def test_products_of_one_name_end_as_items_numbered_in_turn(
    gateway: Gateway, books: RunningEmulator
) -> None:
    first = gateway.send(product("prd_hedge_1", "Hedge Trimming"))
    [one] = gateway.settle(first)
    second = gateway.send(product("prd_hedge_2", "Hedge Trimming", price="60.00"))
    [two] = gateway.settle(second)
    third = gateway.send(product("prd_hedge_3", "hedge trimming ", price="70.00"))
    [three] = gateway.settle(third)
    assert [r["status"] for r in (one, two, three)] == ["done"] * 3
    assert len({one["qbo_id"], two["qbo_id"], three["qbo_id"]}) == 3
    written = items(books)
    assert [written[r["qbo_id"]]["Name"] for r in (one, two, three)] == [
        "Hedge Trimming",
        "Hedge Trimming (2)",
        "hedge trimming (3)",
    ]
    assert Decimal(str(written[two["qbo_id"]]["UnitPrice"])) == Decimal("60.00")


def test_a_long_name_is_cut_to_make_room_for_its_number(
    gateway: Gateway, books: RunningEmulator
) -> None:
    name = "Seasonal " + "x" * 91  # 100 characters, QBO's limit
    [one] = gateway.settle(gateway.send(product("prd_long_1", name)))
    [two] = gateway.settle(gateway.send(product("prd_long_2", name)))
    assert [one["status"], two["status"]] == ["done", "done"]
    assert items(books)[two["qbo_id"]]["Name"] == name[:96] + " (2)"


def test_an_item_made_inactive_in_quickbooks_is_not_revived_without_the_operator(
    gateway: Gateway, books: RunningEmulator
) -> None:
    income = named(books, "Design")["IncomeAccountRef"]
    with books.api() as api:
        made = api.post(
            "/item", json={"Name": "Leaf Blowing", "Type": "Service", "IncomeAccountRef": income}
        )
        made.raise_for_status()
        item = made.json()["Item"]
    deactivate(books, item)
    dormant = items(books)[item["Id"]]
    event = gateway.send(product("prd_leaf", "Leaf Blowing", price="40.00"))
    review = gateway.in_review(event)["review"]
    assert review["reason"] == "inactive"
    assert review["candidate"]["qbo_id"] == item["Id"]
    assert items(books)[item["Id"]] == dormant

    result = decided(gateway, event, "link")
    assert result["status"] == "done", result
    revived = items(books)[item["Id"]]
    assert (revived["Name"], revived["Active"]) == ("Leaf Blowing", True)
    assert Decimal(str(revived["UnitPrice"])) == Decimal("40.00")


def invoice_doc(jobroutr_id: str, product_id: str) -> dict[str, Any]:
    line = {"product_id": product_id, "quantity": "1", "unit_price": "45.00", "description": "x"}
    data = {"id": jobroutr_id, "customer_id": "cus_archive", "issue_date": "2026-11-26",
            "lines": [line]}  # fmt: skip
    return {"type": "invoice.created", "timestamp": "2026-11-26T09:00:00Z", "data": figured(data)}


def test_an_invoice_for_a_product_archived_in_jobroutr_says_to_reactivate_it_there(
    gateway: Gateway, books: RunningEmulator
) -> None:
    company = books.service.companies[books.realm]
    archived = product("prd_gone", "Moss Removal", price="45.00", active=False,
                       at="2026-11-25T11:00:00Z", event="product.updated")  # fmt: skip
    events = [
        gateway.send(created("cus_archive", "Archive Lane Homes")),
        gateway.send(product("prd_gone", "Moss Removal", price="45.00")),
        gateway.send(archived),
    ]
    assert [r["status"] for r in gateway.settle(*events)] == ["done"] * 3
    invoices = len(company.rows("Invoice"))

    [refused] = gateway.settle(gateway.send(invoice_doc("inv_archived", "prd_gone")))
    assert refused["status"] == "failed"
    error = refused["error"]
    assert error["code"] == "product-archived"
    assert "Moss Removal" in error["message"]
    assert "JobRoutr" in error["hint"]
    assert "QuickBooks" not in error["hint"]
    assert len(company.rows("Invoice")) == invoices  # nothing was sent

    # Re-activated in JobRoutr (it sends the product again), then the invoice retried: written.
    again = gateway.send(
        product("prd_gone", "Moss Removal", price="45.00", at="2026-11-25T12:00:00Z",
                event="product.updated")
    )  # fmt: skip
    assert gateway.settle(again)[0]["status"] == "done"
    retried = run_appliance("events", "retry", refused["event_id"], env=gateway.env)
    assert retried.returncode == 0, retried.stderr
    [written] = gateway.settle(refused["event_id"])
    assert written["status"] == "done", written


def test_an_item_made_inactive_in_quickbooks_keeps_the_quickbooks_hint(
    gateway: Gateway, books: RunningEmulator
) -> None:
    events = [
        gateway.send(created("cus_dormant", "Dormant Gardens")),
        gateway.send(product("prd_dormant", "Pond Skimming", price="45.00")),
    ]
    results = gateway.settle(*events)
    assert [r["status"] for r in results] == ["done"] * 2
    item = items(books)[results[1]["qbo_id"]]
    deactivate(books, item)
    doc = invoice_doc("inv_dormant", "prd_dormant")
    doc["data"]["customer_id"] = "cus_dormant"
    [refused] = gateway.settle(gateway.send(doc))
    assert refused["status"] == "failed"
    assert refused["error"]["code"] == "610"
    assert "QuickBooks" in refused["error"]["hint"]


def signed_post(gateway: Gateway, doc: dict[str, Any]) -> Any:
    event_id = f"evt_{uuid.uuid4().hex}"
    body = json.dumps(doc)
    stamp = datetime.now(UTC)
    return gateway.http.post(
        "/webhooks/jobroutr",
        content=body.encode(),
        headers={
            "webhook-id": event_id,
            "webhook-timestamp": str(int(stamp.timestamp())),
            "webhook-signature": gateway.signer.sign(event_id, stamp, body),
            "content-type": "application/json",
        },
    )


def test_a_product_naming_an_account_of_the_wrong_kind_is_refused_at_intake(
    gateway: Gateway, books: RunningEmulator
) -> None:
    accounts = books.service.companies[books.realm].rows("Account")
    cogs = next(a for a in accounts if a["AccountType"] == "Cost of Goods Sold")
    income = next(a for a in accounts if a["AccountType"] == "Income")

    wrong = signed_post(gateway, product("prd_acct", "Edging", income_account_id=str(cogs["Id"])))
    assert wrong.status_code == 422, wrong.text
    assert wrong.headers["content-type"].startswith("application/problem+json")
    problem = wrong.json()
    assert [p["name"] for p in problem["invalid_params"]] == ["data.income_account_id"]
    reason = problem["invalid_params"][0]["reason"]
    assert str(cogs["Id"]) in reason
    assert "Cost of Goods Sold" in reason

    swapped = signed_post(
        gateway, product("prd_acct", "Edging", expense_account_id=str(income["Id"]))
    )
    assert swapped.status_code == 422, swapped.text
    assert [p["name"] for p in swapped.json()["invalid_params"]] == ["data.expense_account_id"]

    right = signed_post(
        gateway,
        product("prd_acct", "Edging", income_account_id=str(income["Id"]),
                expense_account_id=str(cogs["Id"])),
    )  # fmt: skip
    assert right.status_code == 202, right.text
    # An account the imported chart does not hold is accepted (the push reports QuickBooks' 2500).
    unknown = signed_post(gateway, product("prd_acct_2", "Edging 2", income_account_id="99999"))
    assert unknown.status_code == 202, unknown.text
