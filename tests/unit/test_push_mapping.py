"""How JobRoutr's records become QBO bodies, and the requestid rules (pure functions)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from appliance.sync.push import (
    customer_body,
    display_name,
    invoice_body,
    invoice_marker,
    item_body,
    line_amount,
    request_id,
)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        ({"display_name": " Shown ", "company_name": "Co", "given_name": "A"}, "Shown"),
        ({"company_name": "O'Neil Lawn & Garden", "given_name": "Dana"}, "O'Neil Lawn & Garden"),
        ({"given_name": "Dana", "family_name": "O'Neil"}, "Dana O'Neil"),
        ({"family_name": "Solo"}, "Solo"),
    ],
)
def test_display_name_follows_the_contract(data: dict, name: str) -> None:
    assert display_name(data) == name


def test_customer_body_maps_every_owned_field_and_sends_no_empty_ones() -> None:
    body = customer_body(
        {
            "id": "cus_1",
            "given_name": "Dana",
            "email": "d@example.com",
            "phone": "",
            "billing_address": {"line1": "1 Main", "city": "Portland", "country": "US"},
            "taxable": False,
            "active": False,
        },
        "Dana",
    )
    assert body == {
        "DisplayName": "Dana",
        "GivenName": "Dana",
        "PrimaryEmailAddr": {"Address": "d@example.com"},
        "BillAddr": {"Line1": "1 Main", "City": "Portland", "Country": "US"},
        "Taxable": False,
        "Active": False,
    }


def test_item_body_uses_decimal_price_type_and_accounts() -> None:
    body = item_body(
        {"name": "Gutter", "price": "145.10", "type": "non_inventory", "sku": "G-1"}, "79", "80"
    )
    assert body["UnitPrice"] == Decimal("145.10")
    assert body["Type"] == "NonInventory"
    assert body["IncomeAccountRef"] == {"value": "79"}
    assert body["ExpenseAccountRef"] == {"value": "80"}
    assert "Description" not in body
    assert item_body({"name": "S", "price": "1"}, None, None)["Type"] == "Service"


@pytest.mark.parametrize(
    ("quantity", "price", "amount"),
    [
        ("1", "145.00", "145.00"),
        ("0.5", "145.00", "72.50"),
        ("0.5", "1.01", "0.51"),  # half a cent rounds up, as on an invoice
        ("3", "0.333", "1.00"),
        ("0.25", "0.01", "0.00"),
    ],
)
def test_line_amount_is_quantity_times_price_rounded_half_up_to_cents(
    quantity: str, price: str, amount: str
) -> None:
    assert line_amount(Decimal(quantity), Decimal(price)) == Decimal(amount)


def test_invoice_body_names_linked_records_and_carries_our_note() -> None:
    data = {
        "id": "inv_7",
        "number": "JR-1",
        "customer_id": "cus_1",
        "issue_date": "2026-11-27",
        "memo": "Thanks",
        "email": "b@example.com",
        "lines": [{"product_id": "prd_1", "quantity": "2", "unit_price": "10.005"}],
    }
    body = invoice_body(data, "58", {"prd_1": "12"})
    assert body["CustomerRef"] == {"value": "58"}
    assert body["DocNumber"] == "JR-1"
    assert body["TxnDate"] == "2026-11-27"
    assert "DueDate" not in body
    assert body["CustomerMemo"] == {"value": "Thanks"}
    assert body["BillEmail"] == {"Address": "b@example.com"}
    assert body["PrivateNote"] == invoice_marker("inv_7")
    [line] = body["Line"]
    assert line["Amount"] == Decimal("20.01")
    assert line["SalesItemLineDetail"] == {
        "ItemRef": {"value": "12"},
        "Qty": Decimal(2),
        "UnitPrice": Decimal("10.005"),
    }


def test_request_ids_are_stable_per_event_step_and_generation_and_fit_qbo() -> None:
    first = request_id("evt_" + "x" * 120, 0, "new")
    assert first == request_id("evt_" + "x" * 120, 0, "new")
    assert len(first) <= 36  # QBO: 50 for single calls, 36 for batch
    others = {
        request_id("evt_" + "x" * 120, 1, "new"),
        request_id("evt_" + "x" * 120, 0, "mt1"),
        request_id("evt_y", 0, "new"),
    }
    assert first not in others
    assert len(others) == 3
