"""The invoice body written the company's way (sync/push/invoice/company.py), without QuickBooks:
what each tax model sends, and what is refused or waited for before anything is written."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from appliance.core.books import Books, TaxModel
from appliance.sync.push.invoice import invoice_body, readback
from appliance.sync.push.invoice.company import RATE_NEED, CompanyWay, apply, waiting_words
from appliance.sync.push.outcome import Refused, Wait


def books(model: TaxModel, **changes: Any) -> Books:
    values: dict[str, Any] = {
        "realm_id": "1", "country": "US" if model != TaxModel.PER_LINE else "GB",
        "tax_model": model, "home_currency": "USD", "multicurrency": False,
        "allow_discount": True, "custom_txn_numbers": True,
    }  # fmt: skip
    return Books(**{**values, **changes})


def bill(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "inv_1", "customer_id": "cus_1", "issue_date": "2026-12-01",
        "lines": [
            {"product_id": "p", "quantity": "1", "unit_price": "100.00", "amount": "100.00",
             "tax_rate_id": "r8"},
            {"product_id": "p", "quantity": "0.5", "unit_price": "10.01", "amount": "5.01"},
        ],
        "tax": {"mode": "exclusive", "rates": [
            {"id": "r8", "name": "State 8%", "percent": "8", "amount": "8.00"}]},
        "totals": {"subtotal": "105.01", "discount": "0.00", "tax": "8.00", "total": "113.01"},
    }  # fmt: skip
    return {**data, **changes}


def write(data: dict[str, Any], way: CompanyWay) -> dict[str, Any]:
    return apply(data, invoice_body(data, "c1", {"p": "i1"}), way)


def codes(body: dict[str, Any]) -> list[str | None]:
    return [
        line["SalesItemLineDetail"].get("TaxCodeRef", {}).get("value")
        for line in body["Line"]
        if line["DetailType"] == "SalesItemLineDetail"
    ]


def test_ast_sends_the_bills_tax_as_the_override_and_the_service_address() -> None:
    address = {"line1": "1 Main", "city": "Seattle", "region": "WA", "country": "US"}
    body = write(bill(service_address=address), CompanyWay(books(TaxModel.AST), {}, None, None))
    assert codes(body) == ["TAX", "NON"]
    assert body["TxnTaxDetail"] == {"TotalTax": Decimal("8.00")}
    assert body["ShipAddr"]["City"] == "Seattle"
    assert [line["Amount"] for line in body["Line"]] == [Decimal("100.00"), Decimal("5.01")]


def test_us_manual_sends_one_code_and_refuses_rates_mapped_to_two() -> None:
    way = CompanyWay(books(TaxModel.US_MANUAL), {"r8": "2", "r5": "3"}, None, None)
    body = write(bill(), way)
    assert codes(body) == ["TAX", "NON"]
    assert body["TxnTaxDetail"] == {"TxnTaxCodeRef": {"value": "2"}}
    two = bill()
    two["lines"][1]["tax_rate_id"] = "r5"
    two["tax"]["rates"].append({"id": "r5", "name": "City 5%", "percent": "5", "amount": "0.25"})
    with pytest.raises(Refused) as refused:
        write(two, way)
    assert refused.value.failure.code == "tax-rates"
    assert "'City 5%' and 'State 8%'" in refused.value.failure.message
    same = CompanyWay(books(TaxModel.US_MANUAL), {"r8": "3", "r5": "3"}, None, None)
    assert write(two, same)["TxnTaxDetail"] == {"TxnTaxCodeRef": {"value": "3"}}


def test_outside_the_us_every_line_has_a_code_and_the_mode_is_sent() -> None:
    way = CompanyWay(books(TaxModel.PER_LINE, home_currency="GBP"), {"r8": "1"}, None, "4")
    data = bill(currency="GBP")
    data["tax"]["mode"] = "inclusive"
    body = write(data, way)
    assert codes(body) == ["1", "4"]
    assert body["GlobalTaxCalculation"] == "TaxInclusive"
    untaxed = bill(currency="GBP", tax=None)
    untaxed["lines"][0].pop("tax_rate_id")
    assert write(untaxed, way)["GlobalTaxCalculation"] == "NotApplicable"


def test_an_unmapped_rate_and_missing_settings_wait_on_what_wakes_them() -> None:
    way = CompanyWay(books(TaxModel.PER_LINE), {"r8": None}, None, None)
    data = bill(discount={"percent": "10"}, totals={"subtotal": "105.01", "discount": "10.50",
                                                     "tax": "7.16", "total": "101.67"})  # fmt: skip
    with pytest.raises(Wait) as waiting:
        write(data, way)
    assert "a tax code for JobRoutr's tax rate 'State 8%'" in waiting.value.reason
    assert waiting.value.waits_on == ["settings:invoices", "taxrate:r8"]


def test_a_discount_is_one_discount_line_with_tax_after_it_in_the_us() -> None:
    way = CompanyWay(books(TaxModel.US_MANUAL), {"r8": "2"}, "86", None)
    data = bill(discount={"percent": "10", "before_tax": True},
                totals={"subtotal": "105.01", "discount": "10.50", "tax": "7.16",
                        "total": "101.67"})  # fmt: skip
    body = write(data, way)
    assert body["Line"][-1] == {
        "DetailType": "DiscountLineDetail",
        "Amount": Decimal("10.50"),
        "DiscountLineDetail": {"DiscountAccountRef": {"value": "86"}, "PercentBased": True,
                               "DiscountPercent": Decimal(10)},
    }  # fmt: skip
    assert body["ApplyTaxAfterDiscount"] is True
    off = CompanyWay(books(TaxModel.US_MANUAL, allow_discount=False), {"r8": "2"}, "86", None)
    with pytest.raises(Refused) as refused:
        write(data, off)
    assert refused.value.failure.code == "discount-off"


@pytest.mark.parametrize(
    ("multicurrency", "customer", "currency", "code"),
    [(False, None, "EUR", "currency-off"), (True, "USD", "EUR", "currency-customer"),
     (True, "EUR", "USD", "currency-customer")],
)  # fmt: skip
def test_a_currency_the_company_or_customer_cannot_take_is_refused(
    multicurrency: bool, customer: str | None, currency: str, code: str
) -> None:
    way = CompanyWay(
        books(TaxModel.AST, multicurrency=multicurrency), {}, None, None, customer_currency=customer
    )
    with pytest.raises(Refused) as refused:
        write(bill(currency=currency, exchange_rate="1.1"), way)
    assert refused.value.failure.code == code
    assert refused.value.failure.hint


def test_a_foreign_invoice_carries_its_exchange_rate() -> None:
    way = CompanyWay(books(TaxModel.AST, multicurrency=True), {}, None, None, "EUR")
    body = write(bill(currency="EUR", exchange_rate="1.08"), way)
    assert body["CurrencyRef"] == {"value": "EUR"}
    assert body["ExchangeRate"] == Decimal("1.08")


def test_the_read_back_compares_total_and_tax_to_the_cent() -> None:
    record = {"Id": "7", "DocNumber": "1042", "TotalAmt": 113.01, "Balance": 113.01,
              "TxnTaxDetail": {"TotalTax": 8}}  # fmt: skip
    assert readback.mismatch(record, bill()) is None
    assert readback.figures(record) | {"read_at": None} == {
        "doc_number": "1042", "total": "113.01", "tax": "8.00", "balance": "113.01",
        "state": "open", "read_at": None,
    }  # fmt: skip
    off = {**record, "TotalAmt": 113.02, "TxnTaxDetail": {"TotalTax": 8.01}}
    assert readback.mismatch(off, bill()) == {
        "qbo": {"total": "113.02", "tax": "8.01"},
        "jobroutr": {"total": "113.01", "tax": "8.00"},
    }
    assert readback.state({**record, "Balance": 0}) == "paid"
    assert readback.state({**record, "PrivateNote": "Voided - x", "TotalAmt": 0}) == "voided"
    older = {k: v for k, v in bill().items() if k != "totals"}  # before the bill had totals
    assert readback.mismatch(off, older) is None


def test_the_customer_memo_is_kept_within_quickbooks_limit() -> None:
    way = CompanyWay(books(TaxModel.AST), {}, None, None)
    assert len(write(bill(memo="m" * 1200), way)["CustomerMemo"]["value"]) == 1000


def test_ast_with_no_tax_charged_sends_every_line_non_and_no_override() -> None:
    untaxed = bill(totals={"subtotal": "105.01", "discount": "0.00", "tax": "0.00",
                           "total": "105.01"})  # fmt: skip
    untaxed["tax"]["rates"][0].update(percent="0", amount="0.00")
    body = write(untaxed, CompanyWay(books(TaxModel.AST), {}, None, None))
    assert codes(body) == ["NON", "NON"]
    assert "TxnTaxDetail" not in body


def test_tax_on_a_bill_for_a_us_company_without_sales_tax_is_refused() -> None:
    with pytest.raises(Refused) as refused:
        write(bill(), CompanyWay(books(TaxModel.NONE), {}, None, None))
    assert refused.value.failure.code == "tax-off"
    inclusive = bill()
    inclusive["tax"]["mode"] = "inclusive"
    with pytest.raises(Refused) as refused:
        write(inclusive, CompanyWay(books(TaxModel.US_MANUAL), {"r8": "2"}, None, None))
    assert refused.value.failure.code == "tax-inclusive"


def test_what_an_invoice_waits_for_is_one_sentence_with_where_to_give_it() -> None:
    rates = [(f"{RATE_NEED}'VAT 20%'", "taxrate:vat20"), (f"{RATE_NEED}'Zero-rated'", "taxrate:0")]
    assert waiting_words(rates) == (
        "tax codes for JobRoutr's tax rates 'VAT 20%' and 'Zero-rated'. "
        "Run `appliance taxes map` to map them."
    )
    settings = [("the tax code for untaxed lines", "s"), ("the discount account", "s")]
    assert waiting_words(settings[:1]) == (
        "the tax code for untaxed lines. Run `appliance taxes` to set it."
    )
    assert waiting_words(settings) == (
        "the tax code for untaxed lines and the discount account. "
        "Run `appliance taxes` to set them."
    )
