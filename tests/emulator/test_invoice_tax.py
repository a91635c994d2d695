"""Invoices figured as QBO figures them: sales tax in each company kind and discounts
(../shared/qbo/FACTS.md §11), through the emulator's HTTP API.

Every expected figure is worked out by hand here (in the comments next to it), never read from
the emulator's own tables or code: e.g. 8 % of 335.25 = 26.82.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.harness.emulator import RunningEmulator

REALMS = {
    kind: f"462081636510000{n}"
    for n, kind in enumerate(("us-ast", "us-manual", "ca", "uk", "au"), 1)
}
# Seeded records used below (the sandbox's ids, the same in every kind).
AMY, DYLAN, SHARA, SONNENSCHEIN = "1", "6", "22", "24"  # Bayshore CA; no address; Palo Alto CA
DESIGN, ROCK_FOUNTAIN, PUMP, INSTALLATION = "4", "5", "11", "7"  # Pump and Rock Fountain taxable


@pytest.fixture(scope="module")
def books() -> Iterator[RunningEmulator]:
    with RunningEmulator() as running:
        for kind, realm in REALMS.items():
            made = httpx.put(f"{running.url}/_emulator/companies/{realm}", json={"kind": kind})
            assert made.status_code == 200, made.text
        yield running


@pytest.fixture
def fresh() -> Iterator[RunningEmulator]:
    """A company whose Preferences a test changes (they are read-only through the API)."""
    with RunningEmulator() as running:
        for kind, realm in REALMS.items():
            made = httpx.put(f"{running.url}/_emulator/companies/{realm}", json={"kind": kind})
            assert made.status_code == 200, made.text
        yield running


def line(item: str, amount: str, code: str | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"ItemRef": {"value": item}}
    if code is not None:
        detail["TaxCodeRef"] = {"value": code}
    return {"Amount": amount, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail}


def discount(*, percent: str | None = None, amount: str | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"PercentBased": percent is not None}
    if percent is not None:
        detail["DiscountPercent"] = percent
    body: dict[str, Any] = {"DetailType": "DiscountLineDetail", "DiscountLineDetail": detail}
    if amount is not None:
        body["Amount"] = amount
    return body


def post(running: RunningEmulator, kind: str, body: dict[str, Any]) -> httpx.Response:
    with running.api(realm=REALMS[kind]) as api:
        return api.post("/invoice", json=body)


def make(running: RunningEmulator, kind: str, customer: str, lines: list[Any], **extra: Any):  # type: ignore[no-untyped-def]
    response = post(running, kind, {"CustomerRef": {"value": customer}, "Line": lines, **extra})
    assert response.status_code == 200, response.text
    return response.json()["Invoice"]


def d(value: Any) -> Decimal:
    return Decimal(str(value))


def totals(invoice: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal]:
    return d(invoice["TxnTaxDetail"]["TotalTax"]), d(invoice["TotalAmt"]), d(invoice["Balance"])


def tax_lines(invoice: dict[str, Any]) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    """(TaxRateRef, TaxPercent, NetAmountTaxable, Amount) of each TaxLine."""
    found = []
    for tax in invoice["TxnTaxDetail"].get("TaxLine", []):
        assert tax["DetailType"] == "TaxLineDetail"
        detail = tax["TaxLineDetail"]
        assert detail["PercentBased"] is True
        found.append(
            (
                detail["TaxRateRef"]["value"],
                d(detail["TaxPercent"]),
                d(detail["NetAmountTaxable"]),
                d(tax["Amount"]),
            )
        )
    return found


def fault(response: httpx.Response) -> tuple[str, str]:
    assert response.status_code == 400, response.text
    (error,) = response.json()["Fault"]["Error"]
    return error["code"], error["Detail"]


# US, sales tax set up by hand -------------------------------------------------------------------


def test_us_manual_figures_the_recorded_california_invoice_to_the_cent(
    books: RunningEmulator,
) -> None:
    invoice = make(
        books,
        "us-manual",
        SONNENSCHEIN,
        [line(ROCK_FOUNTAIN, "275", "TAX"), line(PUMP, "12.75", "TAX"), line("3", "47.50", "TAX")],
        TxnTaxDetail={"TxnTaxCodeRef": {"value": "2"}},
    )
    # 275 + 12.75 + 47.50 = 335.25 taxable; 8 % of it = 26.82; 335.25 + 26.82 = 362.07.
    assert totals(invoice) == (Decimal("26.82"), Decimal("362.07"), Decimal("362.07"))
    assert invoice["TxnTaxDetail"]["TxnTaxCodeRef"]["value"] == "2"
    assert tax_lines(invoice) == [("3", Decimal(8), Decimal("335.25"), Decimal("26.82"))]
    assert invoice["Line"][-1]["DetailType"] == "SubTotalLineDetail"
    assert d(invoice["Line"][-1]["Amount"]) == Decimal("335.25")


def test_us_manual_group_code_taxes_only_tax_lines_rounding_each_rate_half_up(
    books: RunningEmulator,
) -> None:
    invoice = make(
        books,
        "us-manual",
        AMY,
        [line(PUMP, "12.50", "TAX"), line(DESIGN, "20", "NON")],
        TxnTaxDetail={"TxnTaxCodeRef": {"value": "3"}},
    )
    # Tucson = AZ 5.6 % (rate 1) + Tucson City 2.6 % (rate 2) on the TAX line only (12.50):
    # 0.70 and 0.325 -> 0.33 (half up); tax 1.03; total 12.50 + 20 + 1.03 = 33.53.
    assert totals(invoice) == (Decimal("1.03"), Decimal("33.53"), Decimal("33.53"))
    assert tax_lines(invoice) == [
        ("1", Decimal("5.6"), Decimal("12.50"), Decimal("0.70")),
        ("2", Decimal("2.6"), Decimal("12.50"), Decimal("0.33")),
    ]


def test_us_manual_lines_without_a_code_are_not_taxable(books: RunningEmulator) -> None:
    invoice = make(
        books, "us-manual", AMY, [line(PUMP, "100")], TxnTaxDetail={"TxnTaxCodeRef": {"value": "2"}}
    )
    assert invoice["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "NON"}
    # Nothing taxable: 8 % of 0.
    assert totals(invoice) == (Decimal(0), Decimal(100), Decimal(100))


def test_us_manual_tax_lines_without_a_code_take_the_customers_then_the_companys(
    books: RunningEmulator,
) -> None:
    # Sonnenschein's DefaultTaxCodeRef is 2 (California 8 %): 8 % of 100 = 8.00.
    theirs = make(books, "us-manual", SONNENSCHEIN, [line(PUMP, "100", "TAX")])
    assert theirs["TxnTaxDetail"]["TxnTaxCodeRef"]["value"] == "2"
    assert totals(theirs) == (Decimal(8), Decimal(108), Decimal(108))
    # Amy has none: Preferences TaxGroupCodeRef 3 (Tucson, 5.6 % + 2.6 %): 5.60 + 2.60 = 8.20.
    company = make(books, "us-manual", AMY, [line(PUMP, "100", "TAX")])
    assert company["TxnTaxDetail"]["TxnTaxCodeRef"]["value"] == "3"
    assert totals(company) == (Decimal("8.20"), Decimal("108.20"), Decimal("108.20"))


def test_us_manual_unknown_transaction_tax_code_is_2500(books: RunningEmulator) -> None:
    response = post(
        books,
        "us-manual",
        {
            "CustomerRef": {"value": AMY},
            "Line": [line(PUMP, "10", "TAX")],
            "TxnTaxDetail": {"TxnTaxCodeRef": {"value": "99"}},
        },
    )
    assert fault(response)[0] == "2500"


def test_without_sales_tax_the_tax_detail_is_ignored(fresh: RunningEmulator) -> None:
    company = fresh.service.companies[REALMS["us-manual"]]
    company.records["Preferences"]["1"]["TaxPrefs"]["UsingSalesTax"] = False
    invoice = make(
        fresh,
        "us-manual",
        AMY,
        [line(PUMP, "100", "TAX")],
        TxnTaxDetail={"TxnTaxCodeRef": {"value": "2"}, "TotalTax": "8"},
    )
    assert invoice["TxnTaxDetail"] == {"TotalTax": 0}
    assert totals(invoice) == (Decimal(0), Decimal(100), Decimal(100))


# US, automated sales tax -----------------------------------------------------------------------


def test_ast_figures_the_rate_from_the_customers_ship_to_address(books: RunningEmulator) -> None:
    invoice = make(books, "us-ast", SHARA, [line(PUMP, "100", "TAX"), line(DESIGN, "50", "NON")])
    # Palo Alto, CA: California State 7.25 % + Santa Clara County District 1.875 % of 100:
    # 7.25 + 1.875 -> 1.88 (half up) = 9.13; total 150 + 9.13 = 159.13.
    assert totals(invoice) == (Decimal("9.13"), Decimal("159.13"), Decimal("159.13"))
    assert "TxnTaxCodeRef" not in invoice["TxnTaxDetail"]
    rates = tax_lines(invoice)
    assert [(p, n, a) for _, p, n, a in rates] == [
        (Decimal("7.25"), Decimal(100), Decimal("7.25")),
        (Decimal("1.875"), Decimal(100), Decimal("1.88")),
    ]
    with books.api(realm=REALMS["us-ast"]) as api:
        names = [api.get(f"/taxrate/{rid}").json()["TaxRate"]["Name"] for rid, *_ in rates]
    assert names == ["California State", "Santa Clara County District"]


def test_ast_prefers_the_invoices_ship_to_then_the_companys_address(
    books: RunningEmulator,
) -> None:
    seattle = {"Line1": "1 Pike St", "City": "Seattle", "CountrySubDivisionCode": "WA"}
    shipped = make(books, "us-ast", SHARA, [line(PUMP, "100", "TAX")], ShipAddr=seattle)
    # Washington State 6.5 % + Seattle City and Transit 3.85 % of 100 = 10.35.
    assert totals(shipped) == (Decimal("10.35"), Decimal("110.35"), Decimal("110.35"))
    # Dylan has no address: the company's, San Pablo, CA: 7.25 % + Contra Costa 2.5 % = 9.75.
    company = make(books, "us-ast", DYLAN, [line(PUMP, "100", "TAX")])
    assert totals(company) == (Decimal("9.75"), Decimal("109.75"), Decimal("109.75"))
    portland = {"City": "Portland", "CountrySubDivisionCode": "OR"}
    untaxed = make(books, "us-ast", SHARA, [line(PUMP, "100", "TAX")], ShipAddr=portland)
    # Oregon has no sales tax.
    assert totals(untaxed) == (Decimal(0), Decimal(100), Decimal(100))
    assert tax_lines(untaxed) == []


def test_ast_replaces_the_sent_tax_code_and_honours_a_total_tax_override(
    books: RunningEmulator,
) -> None:
    invoice = make(
        books,
        "us-ast",
        SHARA,
        [line(PUMP, "100", "TAX")],
        TxnTaxDetail={"TxnTaxCodeRef": {"value": "99"}, "TotalTax": "10.00"},
    )
    # 10.00 over 7.25 % and 1.875 % (9.125 %): 10 x 7.25 / 9.125 = 7.945 -> 7.95; the last rate
    # takes the rest, 2.05.
    assert totals(invoice) == (Decimal(10), Decimal(110), Decimal(110))
    assert "TxnTaxCodeRef" not in invoice["TxnTaxDetail"]
    assert [a for *_, a in tax_lines(invoice)] == [Decimal("7.95"), Decimal("2.05")]


def test_ast_lines_without_a_code_follow_the_items_taxable_flag(books: RunningEmulator) -> None:
    invoice = make(books, "us-ast", SHARA, [line(PUMP, "100"), line(DESIGN, "100")])
    codes = [ln["SalesItemLineDetail"]["TaxCodeRef"]["value"] for ln in invoice["Line"][:2]]
    assert codes == ["TAX", "NON"]  # Pump is Taxable, Design is not
    assert totals(invoice) == (Decimal("9.13"), Decimal("209.13"), Decimal("209.13"))


def test_ast_rates_are_readable_tax_rate_records(books: RunningEmulator) -> None:
    with books.api(realm=REALMS["us-ast"]) as api:
        rows = api.get("/query", params={"query": "select * from TaxRate"}).json()
        rates = rows["QueryResponse"]["TaxRate"]
        agencies = api.get("/query", params={"query": "select * from TaxAgency"}).json()
    names = {r["Name"]: d(r["RateValue"]) for r in rates}
    assert names["California State"] == Decimal("7.25")
    assert names["Tucson City"] == Decimal("2.6")
    agency_ids = {a["Id"] for a in agencies["QueryResponse"]["TaxAgency"]}
    assert all(r["AgencyRef"]["value"] in agency_ids for r in rates)


# Outside the US ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "what"), [("ca", "a GST/HST rate"), ("uk", "a VAT rate"), ("au", "a GST rate")]
)
def test_outside_the_us_every_line_needs_a_tax_code(
    books: RunningEmulator, kind: str, what: str
) -> None:
    response = post(books, kind, {"CustomerRef": {"value": AMY}, "Line": [line(PUMP, "10")]})
    assert fault(response) == (
        "6000",
        f"Business Validation Error: Make sure all your transactions have {what} before you save.",
    )
    assert (
        fault(
            post(books, kind, {"CustomerRef": {"value": AMY}, "Line": [line(PUMP, "10", "NON")]})
        )[0]
        == "2500"
    )


def test_canada_taxes_each_code_on_its_own_lines(books: RunningEmulator) -> None:
    invoice = make(books, "ca", AMY, [line(PUMP, "100", "1"), line(DESIGN, "200", "2")])
    # GST 5 % of 100 = 5.00; HST ON 13 % of 200 = 26.00; total 300 + 31 = 331.
    assert totals(invoice) == (Decimal(31), Decimal(331), Decimal(331))
    assert tax_lines(invoice) == [
        ("1", Decimal(5), Decimal(100), Decimal(5)),
        ("2", Decimal(13), Decimal(200), Decimal(26)),
    ]


def test_uk_tax_inclusive_amounts_hold_the_tax(books: RunningEmulator) -> None:
    invoice = make(
        books,
        "uk",
        AMY,
        [line(PUMP, "120", "1"), line(DESIGN, "10", "1"), line(INSTALLATION, "10.50", "2")],
        GlobalTaxCalculation="TaxInclusive",
    )
    # 20 %: 130 x 20 / 120 = 21.666.. -> 21.67 on net 108.33; 5 %: 10.50 x 5 / 105 = 0.50 on
    # net 10.00. Tax 22.17; the total is the lines' 140.50, the tax being inside them.
    assert totals(invoice) == (Decimal("22.17"), Decimal("140.50"), Decimal("140.50"))
    assert tax_lines(invoice) == [
        ("1", Decimal(20), Decimal("108.33"), Decimal("21.67")),
        ("2", Decimal(5), Decimal("10.00"), Decimal("0.50")),
    ]


def test_australia_not_applicable_figures_no_tax_and_needs_no_codes(
    books: RunningEmulator,
) -> None:
    invoice = make(books, "au", AMY, [line(PUMP, "100")], GlobalTaxCalculation="NotApplicable")
    assert totals(invoice) == (Decimal(0), Decimal(100), Decimal(100))


def test_australia_gst_free_lines_show_a_zero_tax_line(books: RunningEmulator) -> None:
    invoice = make(books, "au", AMY, [line(PUMP, "110", "1"), line(DESIGN, "40", "2")])
    # GST 10 % of 110 = 11.00; GST-free 0 % of 40 = 0; total 150 + 11 = 161.
    assert totals(invoice) == (Decimal(11), Decimal(161), Decimal(161))
    assert tax_lines(invoice) == [
        ("1", Decimal(10), Decimal(110), Decimal(11)),
        ("2", Decimal(0), Decimal(40), Decimal(0)),
    ]


@pytest.mark.parametrize(
    ("kind", "tax"),
    # Amy's seeded invoice: 4.5 x 75 + 100 = 437.50, tax included at the kind's standard rate.
    [("ca", "20.83"), ("uk", "72.92"), ("au", "39.77")],  # x5/105, x20/120, x10/110
)
def test_seeded_invoices_abroad_carry_the_kinds_own_codes(
    fresh: RunningEmulator, kind: str, tax: str
) -> None:
    with fresh.api(realm=REALMS[kind]) as api:
        codes = {
            c["Id"]
            for c in api.get("/query", params={"query": "select * from TaxCode"}).json()[
                "QueryResponse"
            ]["TaxCode"]
        }
        rows = api.get("/query", params={"query": "select * from Invoice"}).json()
        invoices = rows["QueryResponse"]["Invoice"]
        for invoice in invoices:
            for ln in invoice["Line"]:
                if ln["DetailType"] == "SalesItemLineDetail":
                    assert ln["SalesItemLineDetail"]["TaxCodeRef"]["value"] in codes
        amy = next(i for i in invoices if i["CustomerRef"]["value"] == AMY)
        assert (d(amy["TxnTaxDetail"]["TotalTax"]), d(amy["TotalAmt"])) == (
            Decimal(tax),
            Decimal("437.50"),
        )
        # The tax is inside the seeded amounts, so the customers' balances are the sandbox's.
        customer = api.get(f"/customer/{AMY}").json()["Customer"]
        assert d(customer["Balance"]) == Decimal("639.00")
        # Re-sending a seeded invoice as read saves (its codes are real), and keeps its figures.
        again = api.post("/invoice", json={**amy, "sparse": False})
        assert again.status_code == 200, again.text
        assert d(again.json()["Invoice"]["TotalAmt"]) == Decimal("437.50")
        assert d(again.json()["Invoice"]["TxnTaxDetail"]["TotalTax"]) == Decimal(tax)


@pytest.mark.parametrize(("kind", "code"), [("us-ast", None), ("us-manual", "2"), ("ca", None)])
def test_a_taxable_customer_defaults_only_to_a_code_the_company_has(
    books: RunningEmulator, kind: str, code: str | None
) -> None:
    with books.api(realm=REALMS[kind]) as api:
        made = api.post("/customer", json={"DisplayName": f"Taxable in {kind}", "Taxable": True})
    assert made.status_code == 200, made.text
    assert made.json()["Customer"].get("DefaultTaxCodeRef") == (
        None if code is None else {"value": code}
    )


# Discounts --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "tax", "total"),
    [
        # 10 % of 150 = 15.00; the TAX line's share is 15 x 100 / 150 = 10.00, so 8 % of 90 = 7.20;
        # total 150 - 15 + 7.20 = 142.20.
        (True, "7.20", "142.20"),
        # Before the discount: 8 % of 100 = 8.00; total 150 - 15 + 8 = 143.00.
        (False, "8.00", "143.00"),
    ],
)
def test_a_percent_discount_is_figured_and_tax_follows_apply_tax_after_discount(
    books: RunningEmulator, after: bool, tax: str, total: str
) -> None:
    invoice = make(
        books,
        "us-manual",
        AMY,
        [line(PUMP, "100", "TAX"), line(DESIGN, "50", "NON"), discount(percent="10")],
        TxnTaxDetail={"TxnTaxCodeRef": {"value": "2"}},
        ApplyTaxAfterDiscount=after,
    )
    assert totals(invoice) == (Decimal(tax), Decimal(total), Decimal(total))
    (disc,) = [ln for ln in invoice["Line"] if ln["DetailType"] == "DiscountLineDetail"]
    assert d(disc["Amount"]) == Decimal(15)
    assert disc["DiscountLineDetail"]["DiscountAccountRef"] == {
        "value": "86",
        "name": "Discounts given",
    }
    subtotal = invoice["Line"][-1]
    assert (subtotal["DetailType"], d(subtotal["Amount"])) == ("SubTotalLineDetail", Decimal(150))


def test_intuits_worked_discount_example_with_shipping(books: RunningEmulator) -> None:
    # Intuit's example at California's 8 %: line 50.00, discount 5.00 (10 % of 50), tax on the
    # undiscounted 50 = 4.00, shipping 2.00 untaxed: 50 + 2 - 5 + 4 = 51.00.
    invoice = make(
        books,
        "us-manual",
        AMY,
        [line(PUMP, "50", "TAX"), discount(amount="5.00"), line(INSTALLATION, "2", "NON")],
        TxnTaxDetail={"TxnTaxCodeRef": {"value": "2"}},
        ApplyTaxAfterDiscount=False,
    )
    assert totals(invoice) == (Decimal(4), Decimal(51), Decimal(51))


def test_a_discount_abroad_is_spread_over_the_codes_before_tax(books: RunningEmulator) -> None:
    invoice = make(
        books, "ca", AMY, [line(PUMP, "100", "1"), line(DESIGN, "100", "2"), discount(percent="10")]
    )
    # 10 % of 200 = 20, 10 on each code: GST 5 % of 90 = 4.50, HST 13 % of 90 = 11.70;
    # total 200 - 20 + 16.20 = 196.20.
    assert totals(invoice) == (Decimal("16.20"), Decimal("196.20"), Decimal("196.20"))
    assert [n for _, _, n, _ in tax_lines(invoice)] == [Decimal(90), Decimal(90)]


def test_a_discount_larger_than_the_subtotal_is_refused(books: RunningEmulator) -> None:
    response = post(
        books,
        "us-manual",
        {"CustomerRef": {"value": AMY}, "Line": [line(PUMP, "10"), discount(amount="10.01")]},
    )
    assert fault(response) == (
        "6000",
        "Business Validation Error: The discount amount can't be greater than the subtotal",
    )


def test_a_discount_is_refused_when_the_company_does_not_allow_discounts(
    fresh: RunningEmulator,
) -> None:
    company = fresh.service.companies[REALMS["us-manual"]]
    company.records["Preferences"]["1"]["SalesFormsPrefs"]["AllowDiscount"] = False
    response = post(
        fresh,
        "us-manual",
        {"CustomerRef": {"value": AMY}, "Line": [line(PUMP, "10"), discount(percent="10")]},
    )
    code, detail = fault(response)
    assert code == "6000"
    assert "discount" in detail.lower()


# Updates and void ------------------------------------------------------------------------------


def test_updates_recompute_tax_unless_the_tax_detail_is_sent(books: RunningEmulator) -> None:
    invoice = make(
        books,
        "us-manual",
        AMY,
        [line(PUMP, "100", "TAX")],
        TxnTaxDetail={"TxnTaxCodeRef": {"value": "2"}},
    )
    assert totals(invoice)[0] == Decimal(8)
    with books.api(realm=REALMS["us-manual"]) as api:
        sparse = {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"], "sparse": True}
        lines = api.post("/invoice", json={**sparse, "Line": [line(PUMP, "200", "TAX")]})
        assert lines.status_code == 200, lines.text
        changed = lines.json()["Invoice"]
        # Same code (California), new lines: 8 % of 200 = 16.00.
        assert changed["TxnTaxDetail"]["TxnTaxCodeRef"]["value"] == "2"
        assert totals(changed) == (Decimal(16), Decimal(216), Decimal(216))
        override = api.post(
            "/invoice",
            json={
                **sparse,
                "SyncToken": changed["SyncToken"],
                "TxnTaxDetail": {"TxnTaxCodeRef": {"value": "2"}, "TotalTax": "15.99"},
            },
        )
        assert override.status_code == 200, override.text
        kept = override.json()["Invoice"]
        assert totals(kept) == (Decimal("15.99"), Decimal("215.99"), Decimal("215.99"))
        assert [a for *_, a in tax_lines(kept)] == [Decimal("15.99")]
        voided = api.post(
            "/invoice",
            params={"operation": "void"},
            json={"Id": kept["Id"], "SyncToken": kept["SyncToken"]},
        )
        assert voided.status_code == 200, voided.text
        gone = voided.json()["Invoice"]
        assert totals(gone) == (Decimal(0), Decimal(0), Decimal(0))
        assert "TaxLine" not in gone["TxnTaxDetail"]
