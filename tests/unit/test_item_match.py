"""Which same-named QuickBooks item a new product is (``item_match``), the numbered name it gets
when it is none of them, what a link the operator chose writes, and the intake rule on a
product's accounts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from appliance.core import review
from appliance.core.events import validate
from appliance.sync.push.item_match import judge, kept_name, numbered
from appliance.sync.push.product import update_body


def item(qbo_id: str, item_type: str = "Service", *, active: bool = True) -> dict[str, Any]:
    name = "Mulch" if active else "Mulch (deleted)"
    return {"Id": qbo_id, "Name": name, "Type": item_type, "Active": active}


def test_numbers_are_appended_and_a_long_name_is_cut_to_fit_100_characters() -> None:
    assert numbered("Mulch", 2) == "Mulch (2)"
    assert numbered(" Mulch ", 13) == "Mulch (13)"
    long = "m" * 100
    assert numbered(long, 2) == "m" * 96 + " (2)"
    assert numbered(long, 10) == "m" * 95 + " (10)"
    assert len(numbered("a" * 99 + " b", 2)) <= 100
    assert numbered("a" * 95 + " " + "b" * 4, 2) == "a" * 95 + " (2)"  # no space before "("


def test_a_numbered_item_keeps_its_number_while_the_product_keeps_its_name() -> None:
    assert kept_name("Hedge", "Hedge (2)") == "Hedge (2)"
    assert kept_name("hedge ", "Hedge (13)") == "hedge (13)"  # JobRoutr's case, its number
    assert kept_name("m" * 100, "m" * 96 + " (2)") == "m" * 96 + " (2)"
    assert kept_name("Hedge Trim", "Hedge (2)") == "Hedge Trim"  # renamed in JobRoutr
    assert kept_name("Hedge", "Hedge") == "Hedge"
    assert kept_name("Hedge (2)", "Hedge (2)") == "Hedge (2)"
    assert kept_name("Hedge", "Hedge (1)") == "Hedge"
    assert kept_name("Hedge", None) == "Hedge"
    assert kept_name("Hedge", "Hedge (2) (deleted)") == "Hedge (2)"


def test_an_item_of_the_products_type_is_linked() -> None:
    assert judge([item("1")], set(), "Service", archived=False) == (item("1"), None)


def test_an_item_linked_to_another_product_is_someone_else() -> None:
    assert judge([item("1")], {"1"}, "Service", archived=False) is None
    assert judge([], set(), "Service", archived=False) is None


@pytest.mark.parametrize(
    ("found_type", "product_type"),
    [("Inventory", "NonInventory"), ("Inventory", "Service"), ("Service", "NonInventory"),
     ("NonInventory", "Service")],
)  # fmt: skip
def test_an_item_of_another_type_is_a_question(found_type: str, product_type: str) -> None:
    found = item("5", found_type)
    assert judge([found], set(), product_type, archived=False) == (found, review.TYPE)


def test_a_category_is_never_a_product() -> None:
    assert judge([item("7", "Category")], set(), "Service", archived=False) is None


def test_an_inactive_item_is_a_question_unless_the_product_is_archived_too() -> None:
    dormant = item("3", active=False)
    assert judge([dormant], set(), "Service", archived=False) == (dormant, review.INACTIVE)
    assert judge([dormant], set(), "Service", archived=True) == (dormant, None)


def test_an_inactive_item_is_left_alone_while_an_active_one_holds_the_name() -> None:
    held, dormant = item("1"), item("2", active=False)
    assert judge([held, dormant], {"1"}, "Service", archived=False) is None


def test_an_update_never_sends_the_type() -> None:
    data = {"name": "Mulch", "type": "non_inventory", "price": "5", "sku": "M"}
    assert update_body(data, "Service") == {
        "Name": "Mulch",
        "UnitPrice": Decimal(5),
        "Sku": "M",
        "Active": True,
    }


def test_an_inventory_item_takes_only_name_description_price_and_active() -> None:
    data = {
        "name": "Pump",
        "type": "non_inventory",
        "price": "19",
        "description": "Pump",
        "sku": "P",
        "taxable": True,
        "income_account_id": "1",
    }
    kept = {"Name": "Pump", "UnitPrice": Decimal(19), "Description": "Pump", "Active": True}
    assert update_body(data, "Inventory") == kept
    assert update_body(data | {"active": False}, "Inventory") == kept | {"Active": False}


def test_a_numbered_item_keeps_its_number_on_updates() -> None:
    data = {"name": "Hedge", "price": "5"}
    assert update_body(data, "Service", "Hedge (2)")["Name"] == "Hedge (2)"
    assert update_body(data, "Service", "Hedge (2) (deleted)")["Name"] == "Hedge (2)"
    assert update_body(data | {"name": "Hedges"}, "Service", "Hedge (2)")["Name"] == "Hedges"


def product(**data: Any) -> dict[str, Any]:
    base = {"id": "prd_1", "name": "Edging", "price": "10.00"}
    return {"type": "product.created", "timestamp": "2026-11-25T10:00:00Z", "data": base | data}


CHART = {"79": "Income", "80": "Cost of Goods Sold", "81": "Expense", "90": "Other Income"}


def test_a_products_account_of_the_wrong_kind_is_named_with_its_type() -> None:
    _, _, problems = validate(product(income_account_id="80"), accounts=CHART)
    assert [p.name for p in problems] == ["data.income_account_id"]
    assert "80" in problems[0].reason
    assert "Cost of Goods Sold" in problems[0].reason
    _, _, problems = validate(product(expense_account_id="90"), accounts=CHART)
    assert [p.name for p in problems] == ["data.expense_account_id"]
    assert "Other Income" in problems[0].reason


def test_accounts_of_the_right_kind_or_not_imported_are_accepted() -> None:
    right = product(income_account_id="90", expense_account_id="80")
    assert validate(right, accounts=CHART)[2] == []
    assert validate(product(expense_account_id="81"), accounts=CHART)[2] == []
    assert validate(product(income_account_id="12345"), accounts=CHART)[2] == []
    assert validate(product(income_account_id="80"))[2] == []  # no chart imported yet
