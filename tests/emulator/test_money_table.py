"""The emulator's invoice totals in each of the five company kinds, against figures worked out by
hand (../shared/qbo/FACTS.md §11), never by the emulator's own code.

Every case sells the sandbox's "Design" (Id 4) and "Installation" (Id 7) at prices the case sets,
to a customer made for it, and checks ``TotalAmt``, ``TxnTaxDetail.TotalTax`` and ``Balance``
(and ``HomeTotalAmt`` for a foreign-currency invoice). The arithmetic is written out beside each
case. Tax is rounded to the cent per rate, half up. Outside the US tax is figured on the
discounted amounts; ``TaxInclusive`` amounts hold their tax: tax = amount x r / (100 + r).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.harness.emulator import RunningEmulator

KINDS = ("us-ast", "us-manual", "ca", "uk", "au")
#: A company of each kind, and one of each with multi-currency on.
REALMS = {kind: f"47190000000000{n}" for n, kind in enumerate(KINDS, 1)}
MULTI = {kind: f"47190000000001{n}" for n, kind in enumerate(KINDS, 1)}
#: The kinds' tax codes by name (FACTS §11; seed.KINDS); their ids are read from the company.
DESIGN, INSTALLATION = "4", "7"


@dataclass(frozen=True)
class Line:
    item: str
    qty: int
    price: str
    code: str | None = None  # a TaxCode Name (its Id is looked up), or TAX / NON in the US


@dataclass(frozen=True)
class Case:
    kind: str
    name: str
    lines: tuple[Line, ...]
    total: str
    tax: str
    txn_code: str | None = None  # US manual: the TxnTaxCodeRef, by code Name
    discount_percent: int | None = None
    tax_after_discount: bool | None = None
    inclusive: bool = False
    currency: tuple[str, str] | None = None  # (ISO code, ExchangeRate)
    home_total: str | None = None
    ship_to: dict[str, str] | None = None
    total_tax_override: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.name}"


L = Line
MIDDLEFIELD = {
    "Line1": "5647 Cypress Hill Ave.",
    "City": "Middlefield",
    "CountrySubDivisionCode": "CA",
    "PostalCode": "94303",
}
SEATTLE = {
    "Line1": "400 Broad St",
    "City": "Seattle",
    "CountrySubDivisionCode": "WA",
    "PostalCode": "98109",
}
PORTLAND = {
    "Line1": "1 SW Main St",
    "City": "Portland",
    "CountrySubDivisionCode": "OR",
    "PostalCode": "97204",
}
AUSTIN = {
    "Line1": "1100 Congress Ave",
    "City": "Austin",
    "CountrySubDivisionCode": "TX",
    "PostalCode": "78701",
}
# A taxable 300.00: four hours of Design at 75.00.
DESIGN_300 = (L(DESIGN, 4, "75", "TAX"),)
CASES = (
    # US, sales tax set up by hand: the lines say TAX or NON, the invoice names ONE code.
    Case("us-manual", "taxable", DESIGN_300, txn_code="California",
         tax="24.00", total="324.00"),  # 8 % of 300.00
    Case("us-manual", "not-taxable", (L(DESIGN, 4, "75", "NON"),), txn_code="California",
         tax="0", total="300.00"),
    Case("us-manual", "two-rates", DESIGN_300, txn_code="Tucson",
         tax="24.60", total="324.60"),  # 5.6 % = 16.80 and 2.6 % = 7.80 of 300.00
    Case("us-manual", "taxable-and-not",
         (L(DESIGN, 2, "75", "TAX"), L(INSTALLATION, 3, "50", "NON")), txn_code="California",
         tax="12.00", total="312.00"),  # 8 % of 150.00; 150.00 untaxed
    Case("us-manual", "discount-then-tax", DESIGN_300, txn_code="California",
         discount_percent=10, tax_after_discount=True,
         tax="21.60", total="291.60"),  # 300 - 30.00 = 270.00, 8 % = 21.60
    Case("us-manual", "tax-then-discount", DESIGN_300, txn_code="California",
         discount_percent=10, tax_after_discount=False,
         tax="24.00", total="294.00"),  # 8 % of 300 = 24.00; 300 - 30.00 + 24.00
    Case("us-manual", "foreign-currency", DESIGN_300, txn_code="California",
         currency=("EUR", "1.1"), tax="24.00", total="324.00",
         home_total="356.40"),  # 324.00 EUR x 1.1
    # US with automated sales tax: the rates of the ship-to address, from the emulator's own
    # table (README): CA 7.25 % + Santa Clara County 1.875 % in Middlefield, + Contra Costa
    # 2.5 % in San Pablo (the company's address); WA 6.5 % + Seattle 3.85 %; TX 6.25 % + Austin
    # 2 %; Oregon none. An explicit TotalTax is honoured (FACTS §11, USTAX).
    Case("us-ast", "taxable-ship-to", DESIGN_300, ship_to=MIDDLEFIELD,
         tax="27.38", total="327.38"),  # 21.75 + 5.625 -> 5.63
    Case("us-ast", "taxable-company-address", DESIGN_300,
         tax="29.25", total="329.25"),  # 21.75 + 7.50
    Case("us-ast", "two-rates", DESIGN_300, ship_to=SEATTLE,
         tax="31.05", total="331.05"),  # 19.50 + 11.55
    Case("us-ast", "no-sales-tax-state", DESIGN_300, ship_to=PORTLAND, tax="0", total="300.00"),
    Case("us-ast", "not-taxable", (L(DESIGN, 4, "75", "NON"),), ship_to=SEATTLE,
         tax="0", total="300.00"),
    Case("us-ast", "discount-then-tax", DESIGN_300, ship_to=SEATTLE, discount_percent=10,
         tax_after_discount=True,
         tax="27.95", total="297.95"),  # 270 x 6.5 % = 17.55, x 3.85 % = 10.395 -> 10.40
    Case("us-ast", "tax-then-discount", DESIGN_300, ship_to=SEATTLE, discount_percent=10,
         tax_after_discount=False, tax="31.05", total="301.05"),  # 300 - 30 + 31.05
    Case("us-ast", "override", DESIGN_300, ship_to=SEATTLE, total_tax_override="20.00",
         tax="20.00", total="320.00"),
    Case("us-ast", "override-two-lines",
         (L(DESIGN, 2, "75", "TAX"), L(INSTALLATION, 3, "50", "TAX")),
         total_tax_override="26.25", tax="26.25", total="326.25"),
    Case("us-ast", "foreign-currency", DESIGN_300, ship_to=AUSTIN, currency=("EUR", "1.1"),
         tax="24.75", total="324.75",  # 18.75 + 6.00
         home_total="357.23"),  # 324.75 x 1.1 = 357.225, half up
    # Canada: every line names its GST/HST code.
    Case("ca", "taxable", (L(DESIGN, 4, "75", "HST ON"),),
         tax="39.00", total="339.00"),  # 13 % of 300.00
    Case("ca", "not-taxable", (L(DESIGN, 4, "75", "Exempt"),), tax="0", total="300.00"),
    Case("ca", "two-rates", (L(DESIGN, 4, "75", "HST ON"), L(INSTALLATION, 2, "50", "GST")),
         tax="44.00", total="444.00"),  # 13 % of 300 = 39.00, 5 % of 100 = 5.00
    Case("ca", "inclusive", (L(DESIGN, 1, "339", "HST ON"),), inclusive=True,
         tax="39.00", total="339.00"),  # 339 x 13 / 113
    Case("ca", "discount", (L(DESIGN, 4, "75", "HST ON"),), discount_percent=10,
         tax="35.10", total="305.10"),  # 270.00 x 13 %
    Case("ca", "foreign-currency", (L(DESIGN, 4, "75", "HST ON"),), currency=("USD", "1.35"),
         tax="39.00", total="339.00", home_total="457.65"),  # 339.00 x 1.35
    # United Kingdom: VAT.
    Case("uk", "taxable", (L(DESIGN, 4, "75", "20.0% S"),), tax="60.00", total="360.00"),
    Case("uk", "not-taxable", (L(DESIGN, 4, "75", "Exempt"),), tax="0", total="300.00"),
    Case("uk", "zero-rated", (L(DESIGN, 4, "75", "0.0% Z"),), tax="0", total="300.00"),
    Case("uk", "two-rates", (L(DESIGN, 4, "75", "20.0% S"), L(INSTALLATION, 2, "50", "5.0% R")),
         tax="65.00", total="465.00"),  # 60.00 + 5.00
    Case("uk", "inclusive", (L(DESIGN, 1, "360", "20.0% S"),), inclusive=True,
         tax="60.00", total="360.00"),  # 360 x 20 / 120
    Case("uk", "inclusive-rounding", (L(DESIGN, 1, "100", "20.0% S"),), inclusive=True,
         tax="16.67", total="100.00"),  # 100 x 20 / 120 = 16.666...
    Case("uk", "discount", (L(DESIGN, 4, "75", "20.0% S"),), discount_percent=10,
         tax="54.00", total="324.00"),  # 270.00 x 20 %
    Case("uk", "foreign-currency", (L(DESIGN, 4, "75", "20.0% S"),), currency=("EUR", "0.85"),
         tax="60.00", total="360.00", home_total="306.00"),  # 360.00 x 0.85
    # Australia: GST.
    Case("au", "taxable", (L(DESIGN, 4, "75", "GST"),), tax="30.00", total="330.00"),
    Case("au", "not-taxable", (L(DESIGN, 4, "75", "GST-free"),), tax="0", total="300.00"),
    Case("au", "taxable-and-not",
         (L(DESIGN, 4, "75", "GST"), L(INSTALLATION, 2, "50", "GST-free")),
         tax="30.00", total="430.00"),
    Case("au", "inclusive", (L(DESIGN, 1, "330", "GST"),), inclusive=True,
         tax="30.00", total="330.00"),  # 330 x 10 / 110
    Case("au", "discount", (L(DESIGN, 4, "75", "GST"),), discount_percent=10,
         tax="27.00", total="297.00"),  # 270.00 x 10 %
    Case("au", "foreign-currency", (L(DESIGN, 4, "75", "GST"),), currency=("NZD", "0.92"),
         tax="30.00", total="330.00", home_total="303.60"),  # 330.00 x 0.92
)  # fmt: skip
_names = itertools.count(1)


@pytest.fixture(scope="module")
def books() -> Iterator[RunningEmulator]:
    with RunningEmulator() as running:
        for kind in KINDS:
            for realm, multi in ((REALMS[kind], False), (MULTI[kind], True)):
                made = httpx.put(
                    f"{running.url}/_emulator/companies/{realm}",
                    json={"kind": kind, "multicurrency": multi},
                )
                assert made.status_code == 200, made.text
        yield running


def _code_ids(api: httpx.Client) -> dict[str, str]:
    response = api.get("/query", params={"query": "select * from TaxCode"})
    assert response.status_code == 200, response.text
    return {c["Name"]: c["Id"] for c in response.json()["QueryResponse"]["TaxCode"]}


def _invoice_body(case: Case, customer: str, codes: dict[str, str]) -> dict[str, Any]:
    lines: list[dict[str, Any]] = []
    for line in case.lines:
        detail: dict[str, Any] = {
            "ItemRef": {"value": line.item},
            "Qty": line.qty,
            "UnitPrice": Decimal(line.price),
        }
        if line.code is not None:
            detail["TaxCodeRef"] = {"value": codes[line.code]}
        amount = Decimal(line.price) * line.qty
        lines.append(
            {"DetailType": "SalesItemLineDetail", "Amount": amount, "SalesItemLineDetail": detail}
        )
    if case.discount_percent is not None:
        lines.append(
            {
                "DetailType": "DiscountLineDetail",
                "DiscountLineDetail": {
                    "PercentBased": True,
                    "DiscountPercent": case.discount_percent,
                },
            }
        )
    body: dict[str, Any] = {"CustomerRef": {"value": customer}, "Line": lines, **case.extra}
    tax_detail: dict[str, Any] = {}
    if case.txn_code is not None:
        tax_detail["TxnTaxCodeRef"] = {"value": codes[case.txn_code]}
    if case.total_tax_override is not None:
        tax_detail["TotalTax"] = Decimal(case.total_tax_override)
    if tax_detail:
        body["TxnTaxDetail"] = tax_detail
    if case.tax_after_discount is not None:
        body["ApplyTaxAfterDiscount"] = case.tax_after_discount
    if case.inclusive:
        body["GlobalTaxCalculation"] = "TaxInclusive"
    if case.currency is not None:
        body["CurrencyRef"] = {"value": case.currency[0]}
        body["ExchangeRate"] = Decimal(case.currency[1])
    if case.ship_to is not None:
        body["ShipAddr"] = case.ship_to
    return body


def _customer(api: httpx.Client, case: Case) -> str:
    body: dict[str, Any] = {"DisplayName": f"Money table {case.id} {next(_names)}"}
    if case.currency is not None:
        body["CurrencyRef"] = {"value": case.currency[0]}
    made = api.post("/customer", json=body)
    assert made.status_code == 200, made.text
    return str(made.json()["Customer"]["Id"])


def _post(api: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    # Decimals go out as JSON numbers: "1.1", as a client writes them.
    text = json.dumps(body, default=float)
    return api.post(path, content=text, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_invoice_totals_match_the_hand_worked_figures(books: RunningEmulator, case: Case) -> None:
    realm = MULTI[case.kind] if case.currency else REALMS[case.kind]
    with books.api(realm=realm) as api:
        codes = _code_ids(api)
        customer = _customer(api, case)
        made = _post(api, "/invoice", _invoice_body(case, customer, codes))
        assert made.status_code == 200, made.text
        invoice = made.json()["Invoice"]
        assert Decimal(str(invoice["TotalAmt"])) == Decimal(case.total)
        assert Decimal(str(invoice["TxnTaxDetail"]["TotalTax"])) == Decimal(case.tax)
        assert Decimal(str(invoice["Balance"])) == Decimal(case.total)
        if case.home_total is not None:
            assert Decimal(str(invoice["HomeTotalAmt"])) == Decimal(case.home_total)
            assert invoice["CurrencyRef"]["value"] == case.currency[0]  # type: ignore[index]
        # What is read back is what the write answered.
        read = api.get(f"/invoice/{invoice['Id']}").json()["Invoice"]
        assert read["TotalAmt"] == invoice["TotalAmt"]
        assert read["TxnTaxDetail"] == invoice["TxnTaxDetail"]


def test_every_kind_and_every_kind_of_case_is_covered() -> None:
    """The table is the issue's grid: five kinds x (taxable or not, discount, inclusive, two
    rates, foreign currency) wherever the kind has the case."""
    assert {c.kind for c in CASES} == set(KINDS)
    for kind in KINDS:
        names = {c.name for c in CASES if c.kind == kind}
        assert "foreign-currency" in names
        assert {"not-taxable"} <= names
    for kind in ("ca", "uk", "au"):
        assert "inclusive" in {c.name for c in CASES if c.kind == kind}
