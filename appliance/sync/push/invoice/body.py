"""JobRoutr's invoice as a QBO body: what every company kind gets (customer, lines with the
amounts JobRoutr figured, dates, number, memo, e-mail, our note). How the company keeps tax,
discounts and currencies adds to it (``company``)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from appliance.sync.fields import field

CENT = Decimal("0.01")
#: QBO's limit for the customer memo (FACTS §11); the contract keeps ``memo`` within it too.
CUSTOMER_MEMO_MAX = 1000


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """Quantity x unit price in Decimal, rounded half-up to cents (as invoices are)."""
    return (quantity * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Any, default: Decimal = Decimal(0)) -> Decimal:
    """A decimal string of the bill as Decimal (``default`` when absent or not a number: intake
    has checked the figures, this only keeps an older event from stopping the push)."""
    if value is None or isinstance(value, bool):
        return default
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        return default
    return result if result.is_finite() else default


def invoice_marker(jobroutr_id: str) -> str:
    return f"Created by JobRoutr (invoice {jobroutr_id})"


def sales_line(line: dict[str, Any], item_qbo_ids: dict[str, str]) -> dict[str, Any]:
    """One line: its ``amount`` exactly as JobRoutr figured it (never re-rounded); quantity x
    price only for an older event that carries none."""
    quantity = Decimal(str(line["quantity"]))
    price = Decimal(str(line["unit_price"]))
    entry: dict[str, Any] = {
        "DetailType": "SalesItemLineDetail",
        "Amount": money(line.get("amount"), line_amount(quantity, price)),
        "SalesItemLineDetail": {
            "ItemRef": {"value": item_qbo_ids[str(line["product_id"])]},
            "Qty": quantity,
            "UnitPrice": price,
        },
    }
    if field(line, "description"):
        entry["Description"] = field(line, "description")
    if field(line, "service_date"):
        entry["SalesItemLineDetail"]["ServiceDate"] = field(line, "service_date")
    return entry


def invoice_body(
    data: dict[str, Any], customer_qbo_id: str, item_qbo_ids: dict[str, str]
) -> dict[str, Any]:
    """The fields every company kind gets; ``company.CompanyWay`` adds tax, discount, currency."""
    body: dict[str, Any] = {
        "CustomerRef": {"value": customer_qbo_id},
        "Line": [sales_line(line, item_qbo_ids) for line in data.get("lines", [])],
        "TxnDate": data["issue_date"],
        "PrivateNote": invoice_marker(str(data["id"])),
    }
    if field(data, "number"):
        body["DocNumber"] = field(data, "number")
    if field(data, "due_date"):
        body["DueDate"] = field(data, "due_date")
    memo = field(data, "memo")
    if memo:
        body["CustomerMemo"] = {"value": memo[:CUSTOMER_MEMO_MAX]}
    if field(data, "email"):
        body["BillEmail"] = {"Address": field(data, "email")}
    if field(data, "currency"):
        body["CurrencyRef"] = {"value": str(field(data, "currency")).upper()}
    return body
