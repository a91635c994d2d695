"""A QBO TaxCode as the store keeps it: its sales rates with their percents, and their sum."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from appliance.storage.mirror import MirrorRow
from appliance.sync.fields import Skip
from appliance.sync.tax_codes import tax_code_row

RATES = {
    "4": {"Id": "4", "Name": "AZ State tax", "RateValue": Decimal("5.6"), "Active": True},
    "5": {"Id": "5", "Name": "Tucson City", "RateValue": Decimal("2.6"), "Active": False},
    "9": {"Id": "9", "Name": "20.0% S", "RateValue": 20},
}


def code(qbo_id: str, name: str, sales: list[str], **more: Any) -> dict[str, Any]:
    details = [{"TaxRateRef": {"value": r}, "TaxTypeApplicable": "TaxOnAmount"} for r in sales]
    return {"Id": qbo_id, "Name": name, "SalesTaxRateList": {"TaxRateDetail": details}, **more}


def test_a_group_code_lists_each_sales_rate_and_its_percent_is_their_exact_sum() -> None:
    row = tax_code_row(code("3", "Tucson", ["4", "5"], TaxGroup=True, Taxable=True), RATES)
    assert isinstance(row, MirrorRow)
    assert row.columns["rates"] == [
        {"qbo_id": "4", "name": "AZ State tax", "percent": "5.6"},
        {"qbo_id": "5", "name": "Tucson City", "percent": "2.6"},  # an inactive rate counts
    ]
    assert row.columns["percent"] == "8.2"
    assert (row.columns["tax_group"], row.columns["taxable"]) == (True, True)
    assert row.data["percent"] == "8.2"


def test_a_whole_number_rate_keeps_its_digits() -> None:
    row = tax_code_row(code("10", "20.0% S", ["9"]), RATES)
    assert isinstance(row, MirrorRow)
    assert row.columns["percent"] == "20"


def test_the_us_pseudo_codes_have_no_rates_and_no_percent() -> None:
    row = tax_code_row({"Id": "NON", "Name": "NON", "Taxable": False, "Active": True}, RATES)
    assert isinstance(row, MirrorRow)
    assert (row.columns["rates"], row.columns["percent"]) == ([], None)
    assert row.columns["taxable"] is False
    assert "percent" not in row.data


def test_an_inactive_code_is_kept_as_inactive() -> None:
    row = tax_code_row(code("10", "20.0% S", ["9"], Active=False), RATES)
    assert isinstance(row, MirrorRow)
    assert row.columns["active"] is False


def test_a_code_naming_a_rate_quickbooks_did_not_list_is_skipped_not_given_a_wrong_percent() -> (
    None
):
    row = tax_code_row(code("11", "Mystery", ["4", "77"]), RATES)
    assert row == Skip(
        "11", "Mystery", "names a tax rate (77) QuickBooks did not list with a value"
    )


def test_a_code_for_purchases_only_is_skipped() -> None:
    record = {
        "Id": "12",
        "Name": "20.0% ECG",
        "PurchaseTaxRateList": {"TaxRateDetail": [{"TaxRateRef": {"value": "9"}}]},
    }
    assert tax_code_row(record, RATES) == Skip("12", "20.0% ECG", "is for purchases only")


def test_a_code_without_a_name_is_skipped() -> None:
    assert tax_code_row({"Id": "13"}, RATES) == Skip("13", None, "has no name")
