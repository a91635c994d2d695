"""The emulator's seed: Intuit's sandbox company as the recordings show it, and generated books."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from appliance.cli import emulator
from appliance.emulator.seed import (
    CUSTOMER_RATES,
    DELETED,
    ENTITY_ORDER,
    ITEM_RATES,
    KINDS,
    generate,
    sandbox_company,
)

Company = dict[str, list[dict[str, Any]]]

NOW = datetime(2026, 5, 5, 2, 5, 12, tzinfo=timezone(timedelta(hours=-7)))
SANDBOX_CUSTOMERS = 29
SANDBOX_ITEMS = 22
MORE_CUSTOMERS, MORE_ITEMS = 10_000, 600
USD = {"value": "USD", "name": "United States Dollar"}


def stamp(seconds_ago: int) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).isoformat(timespec="seconds")


@pytest.fixture(scope="module")
def sandbox() -> Company:
    return sandbox_company(stamp)


@pytest.fixture(scope="module")
def big() -> Company:
    return generate(MORE_CUSTOMERS, MORE_ITEMS, ts=stamp, seed=7)


@pytest.fixture(params=["sandbox", "generated"])
def books(request: pytest.FixtureRequest, sandbox: Company, big: Company) -> Company:
    return sandbox if request.param == "sandbox" else big


def named(records: list[dict[str, Any]], key: str = "FullyQualifiedName") -> dict[str, Any]:
    return {record[key]: record for record in records}


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (path, value) pair below node, dict keys joined with dots."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}[{index}]")


# The sandbox company -------------------------------------------------------------------------


def test_the_sandbox_has_amys_bird_sanctuary_as_recorded(sandbox: Company) -> None:
    amy = named(sandbox["Customer"])["Amy's Bird Sanctuary"]
    assert amy["Id"] == "1"
    assert (amy["GivenName"], amy["FamilyName"]) == ("Amy", "Lauterbach")
    assert amy["BillAddr"] == {
        "Id": "2",
        "Line1": "4581 Finch St.",
        "City": "Bayshore",
        "CountrySubDivisionCode": "CA",
        "PostalCode": "94326",
        "Lat": "INVALID",
        "Long": "INVALID",
    }
    assert amy["ShipAddr"] == amy["BillAddr"]
    assert amy["PrimaryEmailAddr"] == {"Address": "Birds@Intuit.com"}
    assert amy["Balance"] == Decimal("639.00")
    assert amy["Taxable"] is True


def test_the_sandbox_has_the_landscaping_items_at_their_recorded_prices(sandbox: Company) -> None:
    items = named(sandbox["Item"])
    for name, kind, price in [
        ("Design", "Service", "75"),
        ("Installation", "Service", "50"),
        ("Pump", "Inventory", "15"),
        ("Rock Fountain", "Inventory", "275"),
        ("Trimming", "Service", "35"),
    ]:
        assert (items[name]["Type"], items[name]["UnitPrice"]) == (kind, Decimal(price))
    pump = items["Pump"]
    assert pump["Id"] == "11"
    assert pump["IncomeAccountRef"] == {"value": "79", "name": "Sales of Product Income"}
    assert pump["ExpenseAccountRef"] == {"value": "80", "name": "Cost of Goods Sold"}
    assert pump["AssetAccountRef"] == {"value": "81", "name": "Inventory Asset"}
    assert (pump["TrackQtyOnHand"], pump["QtyOnHand"]) == (True, Decimal("25"))
    assert date.fromisoformat(pump["InvStartDate"]) < NOW.date()
    concrete = items["Concrete"]
    assert concrete["IncomeAccountRef"]["name"] == (
        "Landscaping Services:Job Materials:Fountains and Garden Lighting"
    )


def test_the_sandbox_has_the_real_companys_list_sizes(sandbox: Company) -> None:
    sizes = {entity: len(records) for entity, records in sandbox.items()}
    assert sizes == {
        "Account": 90,
        "Customer": SANDBOX_CUSTOMERS,
        "Item": SANDBOX_ITEMS,
        "Vendor": 26,
        "Employee": 2,
        "Invoice": 8,
        "Payment": 2,  # paying invoices 1001 and 1006 in full
        "CompanyInfo": 1,
        "Preferences": 1,
        # Automated sales tax: codes TAX and NON only; the rates of the emulator's own
        # per-state/city table (CA, 4 CA districts, AZ, Tucson, Phoenix, NY, New York City, NJ,
        # TX, Austin, WA, Seattle) and the 6 state agencies that collect them.
        "TaxAgency": 6,
        "TaxRate": 15,
        "TaxCode": 2,
        "Term": 5,  # Due on receipt, Net 10, 15, 30, 60
        "PaymentMethod": 7,  # Cash, Check and five cards
    }
    assert list(sandbox) == [
        *ENTITY_ORDER, "CompanyInfo", "Preferences", "TaxAgency", "TaxRate", "TaxCode", "Term",
        "PaymentMethod",
    ]  # fmt: skip


def test_freeman_sporting_goods_has_its_two_jobs(sandbox: Company) -> None:
    customers = named(sandbox["Customer"])
    freeman = customers["Freeman Sporting Goods"]
    jobs = [
        customers[f"Freeman Sporting Goods:{job}"]
        for job in ("0969 Ocean View Road", "55 Twin Lane")
    ]
    for job in jobs:
        assert (job["Job"], job["Level"], job["BillWithParent"]) == (True, 1, False)
        assert job["ParentRef"] == {"value": freeman["Id"]}  # QBO sends no name here
        assert job["CompanyName"] == "Freeman Sporting Goods"
    assert (freeman["Job"], freeman["Balance"], freeman["BalanceWithJobs"]) == (
        False,
        Decimal("0"),
        Decimal("85.00"),
    )


def test_the_sandbox_vendors_and_employees_are_the_real_companys(sandbox: Company) -> None:
    vendors = named(sandbox["Vendor"], "DisplayName")
    owed = {name: v["Balance"] for name, v in vendors.items() if v["Balance"]}
    assert owed == {
        "Brosnahan Insurance Agency": Decimal("241.23"),
        "Diego's Road Warrior Bodyshop": Decimal("755.00"),
        "Norton Lumber and Building Materials": Decimal("205.00"),
        "PG&E": Decimal("86.44"),
        "Robertson & Associates": Decimal("315.00"),
    }
    assert vendors["Books by Bessie"]["CompanyName"] == "Books by Bessie"
    assert "CompanyName" not in vendors["Pam Seitz"]
    assert all(v["Active"] and v["CurrencyRef"] == USD for v in vendors.values())
    employees = [(e["GivenName"], e["FamilyName"], e["Active"]) for e in sandbox["Employee"]]
    assert employees == [("Emily", "Platt", True), ("John", "Johnson", True)]


def test_customers_carry_qbos_defaults(books: Company) -> None:
    for customer in books["Customer"]:
        assert isinstance(customer["Taxable"], bool)
        assert isinstance(customer["Job"], bool)
        assert isinstance(customer["BillWithParent"], bool)
        assert customer["CurrencyRef"] == {"value": "USD", "name": "United States Dollar"}
        assert customer["PreferredDeliveryMethod"] == "Print"
        assert customer["IsProject"] is False
        assert customer["PrintOnCheckName"]
        assert isinstance(customer["Active"], bool)
        assert customer["Job"] == ("ParentRef" in customer)


def test_the_sandbox_address_ids_follow_the_recordings(sandbox: Company) -> None:
    customers = named(sandbox["Customer"])
    assert sandbox["CompanyInfo"][0]["CompanyAddr"]["Id"] == "1"
    assert customers["Bill's Windsurf Shop"]["BillAddr"]["Id"] == "3"
    paulsen = customers["Paulsen Medical Supplies"]
    assert (paulsen["BillAddr"]["Id"], paulsen["ShipAddr"]["Id"]) == ("18", "19")
    assert customers["Weiskopf Consulting"]["BillAddr"]["Id"] == "30"


def test_the_highest_address_id_is_on_a_bill_or_ship_address(books: Company) -> None:
    """The emulator continues the address sequence from the highest Bill/ShipAddr Id."""
    every = [int(v["Id"]) for _, v in walk(books) if isinstance(v, dict) and "Line1" in v]
    billing = [
        int(record[key]["Id"])
        for entity in ("Customer", "Vendor")
        for record in books[entity]
        for key in ("BillAddr", "ShipAddr")
        if key in record
    ]
    assert max(every) == max(billing)


def test_the_company_info_is_the_sandbox_companys(sandbox: Company) -> None:
    (info,) = sandbox["CompanyInfo"]
    assert (info["Id"], info["SyncToken"], info["domain"]) == ("1", "0", "QBO")
    assert info["CompanyName"] == info["LegalName"] == "Sandbox Company_US_1"
    assert info["Country"] == "US"
    for key in ("CompanyAddr", "LegalAddr", "CustomerCommunicationAddr"):
        assert info[key]["Country"] == "USA"
        assert "Lat" not in info[key]
    assert info["FiscalYearStartMonth"] == "January"
    assert "@" in info["Email"]["Address"]
    assert info["WebAddr"]["URI"].startswith("http")


def test_the_chart_of_accounts_offers_every_income_and_expense_type(sandbox: Company) -> None:
    types = {account["AccountType"] for account in sandbox["Account"]}
    assert {"Income", "Other Income", "Expense", "Other Expense", "Cost of Goods Sold"} <= types
    classification = {
        "Income": "Revenue",
        "Other Income": "Revenue",
        "Expense": "Expense",
        "Other Expense": "Expense",
        "Cost of Goods Sold": "Expense",
        "Bank": "Asset",
        "Accounts Receivable": "Asset",
        "Other Current Asset": "Asset",
        "Fixed Asset": "Asset",
        "Accounts Payable": "Liability",
        "Credit Card": "Liability",
        "Other Current Liability": "Liability",
        "Long Term Liability": "Liability",
        "Equity": "Equity",
    }
    for account in sandbox["Account"]:
        assert account["Classification"] == classification[account["AccountType"]], account
        assert account["AccountSubType"]
    accounts = named(sandbox["Account"])
    assert accounts["Sales of Product Income"]["Id"] == "79"
    assert accounts["Cost of Goods Sold"]["AccountSubType"] == "SuppliesMaterialsCogs"
    assert accounts["Inventory Asset"]["AccountSubType"] == "Inventory"


# Integrity of any seeded company --------------------------------------------------------------

REF_TARGETS = {
    ("Customer", "ParentRef"): "Customer",
    ("Account", "ParentRef"): "Account",
    ("Item", "ParentRef"): "Item",
    ("Item", "IncomeAccountRef"): "Account",
    ("Item", "ExpenseAccountRef"): "Account",
    ("Item", "AssetAccountRef"): "Account",
    ("Invoice", "CustomerRef"): "Customer",
    ("Invoice", "ItemRef"): "Item",
    ("Invoice", "ItemAccountRef"): "Account",
    ("Payment", "CustomerRef"): "Customer",
    ("Payment", "DepositToAccountRef"): "Account",
}
NAMELESS_REFS = {("Customer", "ParentRef"), ("Account", "ParentRef")}  # as the recordings show


def test_every_ref_points_at_an_existing_record_of_the_right_entity_and_name(
    books: Company,
) -> None:
    by_id = {entity: {r["Id"]: r for r in books[entity]} for entity in ENTITY_ORDER}
    checked = 0
    for entity in ENTITY_ORDER:
        for record in books[entity]:
            for path, ref in walk(record):
                key = path.rsplit(".", 1)[-1]
                if not key.endswith("Ref"):
                    continue
                if key == "CurrencyRef":
                    assert ref == USD
                elif key in ("TaxCodeRef", "DefaultTaxCodeRef"):  # tax codes are not seeded
                    assert ref["value"] in {"TAX", "NON", "2"}
                else:
                    target = by_id[REF_TARGETS[entity, key]][ref["value"]]
                    if (entity, key) in NAMELESS_REFS:
                        assert set(ref) == {"value"}
                    else:
                        assert ref["name"] == target.get("FullyQualifiedName"), (entity, path)
                    checked += 1
    assert checked > 100


def test_ids_are_strings_numbered_from_one_per_entity(books: Company) -> None:
    for entity in ENTITY_ORDER:
        ids = [record["Id"] for record in books[entity]]
        assert ids == [str(number) for number in range(1, len(ids) + 1)], entity
        assert {record["SyncToken"] for record in books[entity]} == {"0"}
        assert {(r["domain"], r["sparse"]) for r in books[entity]} == {("QBO", False)}
    assert [info["Id"] for info in books["CompanyInfo"]] == ["1"]


AMOUNT_KEYS = {
    "Balance", "BalanceWithJobs", "CurrentBalance", "CurrentBalanceWithSubAccounts", "UnitPrice",
    "PurchaseCost", "QtyOnHand", "Amount", "Qty", "TotalAmt", "TotalTax", "UnappliedAmt",
}  # fmt: skip


def test_no_value_is_none_empty_or_a_float(books: Company) -> None:
    amounts = 0
    for path, value in walk(books):
        assert value is not None, path
        assert not isinstance(value, float), path
        if isinstance(value, (str, list)):
            assert value, path
        if isinstance(value, dict) and not value:
            assert path.endswith(".SubTotalLineDetail"), path  # the one {} QBO itself sends
        if path.rsplit(".", 1)[-1] in AMOUNT_KEYS:
            assert isinstance(value, Decimal), path
            amounts += 1
    assert amounts > 100


def test_display_names_are_unique_case_insensitively_across_people(books: Company) -> None:
    names = [r["DisplayName"] for e in ("Customer", "Vendor", "Employee") for r in books[e]]
    assert len({name.casefold() for name in names}) == len(names)


def test_item_names_are_unique_case_insensitively(books: Company) -> None:
    names = [item["Name"] for item in books["Item"]]
    assert len({name.casefold() for name in names}) == len(names)


def test_names_have_no_colon_tab_newline_or_outer_space(books: Company) -> None:
    for entity, key in [
        ("Customer", "DisplayName"),
        ("Vendor", "DisplayName"),
        ("Employee", "DisplayName"),
        ("Item", "Name"),
        ("Account", "Name"),
    ]:
        for record in books[entity]:
            name = record[key]
            assert not set(name) & {":", "\t", "\n"}, name
            assert name == name.strip(), name
            assert "  " not in name, name


def test_hierarchies_agree_with_their_parents(books: Company) -> None:
    for entity, name_key in [("Customer", "DisplayName"), ("Item", "Name"), ("Account", "Name")]:
        by_id = {record["Id"]: record for record in books[entity]}
        for record in books[entity]:
            parent = by_id.get(record.get("ParentRef", {}).get("value"))
            if parent is None:
                assert record["FullyQualifiedName"] == record[name_key]
                assert "Level" not in record
                continue
            fqn = f"{parent['FullyQualifiedName']}:{record[name_key]}"
            assert record["FullyQualifiedName"] == fqn
            if entity == "Account":
                assert record["SubAccount"] is True
                assert record["AccountType"] == parent["AccountType"]
            else:
                assert record["Level"] == parent.get("Level", 0) + 1
            if entity == "Item":
                assert (record["SubItem"], parent["Type"]) == (True, "Category")
            if entity == "Customer":
                assert parent["Active"] is True


def test_items_are_shaped_by_their_type(books: Company) -> None:
    for item in books["Item"]:
        if item["Type"] == "Category":
            for key in ("UnitPrice", "IncomeAccountRef", "ExpenseAccountRef", "Taxable"):
                assert key not in item, item
            continue
        assert "IncomeAccountRef" in item
        if item["Type"] == "Inventory":
            assert item["TrackQtyOnHand"] is True
            assert isinstance(item["QtyOnHand"], Decimal)
            date.fromisoformat(item["InvStartDate"])
            assert {"ExpenseAccountRef", "AssetAccountRef", "UnitPrice"} <= set(item)
        else:
            assert item["TrackQtyOnHand"] is False
            assert "AssetAccountRef" not in item


def test_balances_add_up_across_records(books: Company) -> None:
    accounts = named(books["Account"])
    customers = books["Customer"]
    receivable = sum((c["Balance"] for c in customers), Decimal(0))
    assert accounts["Accounts Receivable (A/R)"]["CurrentBalance"] == receivable
    stock = sum(
        (i["QtyOnHand"] * i["PurchaseCost"] for i in books["Item"] if i["Type"] == "Inventory"),
        Decimal(0),
    )
    assert accounts["Inventory Asset"]["CurrentBalance"] == stock
    owed = sum((v["Balance"] for v in books["Vendor"]), Decimal(0))
    assert accounts["Accounts Payable (A/P)"]["CurrentBalance"] == -owed
    with_jobs = {c["Id"]: c["Balance"] for c in customers}
    for customer in customers:
        if "ParentRef" in customer:
            with_jobs[customer["ParentRef"]["value"]] += customer["Balance"]
    assert {c["Id"]: c["BalanceWithJobs"] for c in customers} == with_jobs
    truck = accounts["Truck"]
    assert truck["CurrentBalanceWithSubAccounts"] == truck["CurrentBalance"] + Decimal("13495.00")


def test_invoice_totals_are_the_sum_of_their_sales_lines(books: Company) -> None:
    customers = {c["Id"]: c for c in books["Customer"]}
    assert [invoice["DocNumber"] for invoice in books["Invoice"]][:2] == ["1001", "1002"]
    for invoice in books["Invoice"]:
        *sales, subtotal = invoice["Line"]
        assert [line["LineNum"] for line in sales] == list(range(1, len(sales) + 1))
        for line in sales:
            detail = line["SalesItemLineDetail"]
            assert line["DetailType"] == "SalesItemLineDetail"
            assert line["Amount"] == (detail["Qty"] * detail["UnitPrice"]).quantize(Decimal("0.01"))
        total = sum((line["Amount"] for line in sales), Decimal(0))
        assert subtotal == {
            "Amount": total,
            "DetailType": "SubTotalLineDetail",
            "SubTotalLineDetail": {},
        }
        assert invoice["TotalAmt"] == total + invoice["TxnTaxDetail"]["TotalTax"] == total
        assert invoice["Balance"] in (total, Decimal(0))
        due = date.fromisoformat(invoice["DueDate"]) - date.fromisoformat(invoice["TxnDate"])
        assert due == timedelta(days=30)
        customer = customers[invoice["CustomerRef"]["value"]]
        assert invoice["BillAddr"] == customer["BillAddr"]
        assert invoice["BillAddr"] is not customer["BillAddr"]


def test_records_share_no_dicts_or_lists(books: Company) -> None:
    """The emulator mutates records in place, so no two places may hold the same container."""
    containers = [id(v) for _, v in walk(books) if isinstance(v, (dict, list))]
    assert len(set(containers)) == len(containers)


def test_each_call_builds_new_records() -> None:
    first, second = sandbox_company(stamp), sandbox_company(stamp)
    assert first == second
    first["Customer"][0]["CurrencyRef"]["value"] = "EUR"
    first["Item"][0]["Name"] = "Changed"
    assert second["Customer"][0]["CurrencyRef"]["value"] == "USD"
    assert sandbox_company(stamp)["Item"][0]["Name"] == "Services"


def test_timestamps_come_from_the_given_clock(books: Company) -> None:
    for entity in [*ENTITY_ORDER, "CompanyInfo"]:
        for record in books[entity]:
            meta = record["MetaData"]
            created = datetime.fromisoformat(meta["CreateTime"])
            updated = datetime.fromisoformat(meta["LastUpdatedTime"])
            assert meta["CreateTime"].endswith("-07:00")
            assert "." not in meta["CreateTime"]  # entity times have whole seconds
            assert created <= updated <= NOW


def test_a_different_clock_moves_every_timestamp() -> None:
    def later(seconds_ago: int) -> str:
        return stamp(seconds_ago - 3600)

    now, hour_later = sandbox_company(stamp), sandbox_company(later)
    times = [meta for _, meta in walk(now) if _.endswith("CreateTime")]
    moved = [meta for _, meta in walk(hour_later) if _.endswith("CreateTime")]
    assert all(a != b for a, b in zip(times, moved, strict=True))


# Generated companies ----------------------------------------------------------------------------


def test_generate_appends_the_requested_counts_after_the_sandbox(
    sandbox: Company, big: Company
) -> None:
    assert len(big["Customer"]) == SANDBOX_CUSTOMERS + MORE_CUSTOMERS
    assert len(big["Item"]) == SANDBOX_ITEMS + MORE_ITEMS
    assert big["Customer"][:SANDBOX_CUSTOMERS] == sandbox["Customer"]
    assert big["Item"][:SANDBOX_ITEMS] == sandbox["Item"]
    for entity in ("Vendor", "Employee", "Invoice", "CompanyInfo"):
        assert big[entity] == sandbox[entity]


def test_generate_is_deterministic_for_a_seed() -> None:
    first = generate(1_500, 150, ts=stamp, seed=3)
    assert first == generate(1_500, 150, ts=stamp, seed=3)
    other = generate(1_500, 150, ts=stamp, seed=4)
    assert first["Customer"][-1]["DisplayName"] != other["Customer"][-1]["DisplayName"]
    assert first["Customer"][:SANDBOX_CUSTOMERS] == other["Customer"][:SANDBOX_CUSTOMERS]


def test_generate_of_nothing_is_the_sandbox(sandbox: Company) -> None:
    assert generate(0, 0, ts=stamp) == sandbox


def test_generate_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="zero or more"):
        generate(-1, 0, ts=stamp)


def accented(text: str) -> bool:
    return any(ord(ch) > 127 and ch.isalpha() for ch in text)


def near_duplicates(customers: list[dict[str, Any]]) -> bool:
    names = {c["DisplayName"] for c in customers}
    return any(
        name.endswith(" Jr.") and name.removesuffix(" Jr.") in names for name in names
    ) and any(", " in name and " ".join(reversed(name.split(", "))) in names for name in names)


AWKWARD: dict[str, Callable[[list[dict[str, Any]], list[dict[str, Any]]], bool]] = {
    "apostrophe": lambda cs, _: any("'" in c["DisplayName"] for c in cs),
    "ampersand": lambda cs, _: any(" & " in c["DisplayName"] for c in cs),
    "accent": lambda cs, _: any(accented(c["DisplayName"]) for c in cs),
    "inactive customer": lambda cs, _: any(not c["Active"] for c in cs),
    "inactive item": lambda _, items: any(not i["Active"] for i in items),
    "sub-customer": lambda cs, _: sum(c["Job"] for c in cs) > 100,
    "item without price": lambda _, items: any(
        "UnitPrice" not in i and i["Type"] in ("Service", "NonInventory") for i in items
    ),
    "long note": lambda cs, _: any(len(c.get("Notes", "")) > 1_000 for c in cs),
    "near duplicate": lambda cs, _: near_duplicates(cs),
    "email": lambda cs, _: any("PrimaryEmailAddr" in c for c in cs),
    "phone": lambda cs, _: any("PrimaryPhone" in c for c in cs),
    "billing and shipping addresses": lambda cs, _: any(
        "ShipAddr" in c and c["ShipAddr"]["Id"] != c["BillAddr"]["Id"] for c in cs
    ),
    "taxable and not": lambda cs, _: {c["Taxable"] for c in cs} == {True, False},
    "balances": lambda cs, _: any(c["Balance"] > 0 for c in cs),
    "category and sub-item": lambda _, items: (
        any(i["Type"] == "Category" for i in items) and any(i.get("SubItem") for i in items)
    ),
    "every item type": lambda _, items: (
        {i["Type"] for i in items} == {"Service", "NonInventory", "Inventory", "Category"}
    ),
}


@pytest.mark.parametrize("case", AWKWARD)
def test_generated_books_contain_the_awkward_cases_of_real_books(big: Company, case: str) -> None:
    customers = big["Customer"][SANDBOX_CUSTOMERS:]
    items = big["Item"][SANDBOX_ITEMS:]
    assert AWKWARD[case](customers, items)


@pytest.mark.parametrize(
    ("entity", "rate", "holds"),
    [
        ("Customer", CUSTOMER_RATES["job"], lambda r: r["Job"]),
        ("Customer", CUSTOMER_RATES["inactive"], lambda r: not r["Active"]),
        ("Customer", CUSTOMER_RATES["long_note"], lambda r: len(r.get("Notes", "")) > 1_000),
        ("Customer", CUSTOMER_RATES["apostrophe"], lambda r: "'" in r["DisplayName"]),
        ("Item", ITEM_RATES["category"], lambda r: r["Type"] == "Category"),
        ("Item", ITEM_RATES["inactive"], lambda r: not r["Active"]),
    ],
)
def test_generated_rates_are_near_the_documented_ones(
    big: Company, entity: str, rate: float, holds: Callable[[dict[str, Any]], bool]
) -> None:
    start = SANDBOX_CUSTOMERS if entity == "Customer" else SANDBOX_ITEMS
    generated = big[entity][start:]
    share = sum(1 for record in generated if holds(record)) / len(generated)
    assert rate / 2 <= share <= rate * 2, share


def test_inactive_records_carry_the_deleted_suffix(big: Company) -> None:
    for entity, key in [("Customer", "DisplayName"), ("Item", "Name")]:
        for record in big[entity]:
            assert record[key].endswith(DELETED) == (not record["Active"]), record[key]
            assert record["FullyQualifiedName"].endswith(DELETED) == (not record["Active"])
        inactive = [r for r in big[entity] if not r["Active"]]
        assert inactive
        if entity == "Customer":
            assert {r["Balance"] for r in inactive} == {Decimal(0)}


def test_generating_100_000_customers_takes_well_under_ten_seconds() -> None:
    # CPU time, so that other processes on a busy test machine do not count against it.
    started = time.process_time()
    books = generate(100_000, 0, ts=stamp)
    elapsed = time.process_time() - started
    assert len(books["Customer"]) == SANDBOX_CUSTOMERS + 100_000
    assert elapsed < 10, f"{elapsed:.1f} s"


def test_the_generated_records_can_be_deep_copied_and_compared(big: Company) -> None:
    """Decimals and plain containers only: what the emulator stores and serializes."""
    sample = big["Customer"][-50:]
    assert copy.deepcopy(sample) == sample
    kinds = {type(v) for _, v in walk(sample)}
    assert kinds <= {dict, list, str, bool, int, Decimal}


# Company kinds ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "country", "currency"),
    [("us-ast", "US", "USD"), ("us-manual", "US", "USD"), ("ca", "CA", "CAD"),
     ("uk", "GB", "GBP"), ("au", "AU", "AUD")],
)  # fmt: skip
def test_each_kind_keeps_the_sandbox_books_in_its_own_currency(
    sandbox: Company, kind: str, country: str, currency: str
) -> None:
    books = sandbox_company(stamp, kind)
    assert books["CompanyInfo"][0]["Country"] == country
    assert books["Preferences"][0]["CurrencyPrefs"]["HomeCurrency"] == {"value": currency}
    for entity in ENTITY_ORDER:
        assert [r["Id"] for r in books[entity]] == [r["Id"] for r in sandbox[entity]], entity
        names = [r.get("FullyQualifiedName") or r.get("DocNumber") for r in books[entity]]
        assert names == [r.get("FullyQualifiedName") or r.get("DocNumber") for r in sandbox[entity]]
    currencies = {ref["value"] for path, ref in walk(books) if path.endswith("CurrencyRef")}
    assert currencies == {currency}
    # No empty values, no floats: the tax lists follow the seed's rules too.
    tax = {k: books[k] for k in ("Preferences", "TaxAgency", "TaxCode", "TaxRate") if k in books}
    assert "TaxCode" in tax
    for path, value in walk(tax):
        assert value is not None, path
        assert not isinstance(value, float), path
        assert value not in ([], {}), path


def test_the_default_kind_is_us_with_automated_sales_tax(sandbox: Company) -> None:
    assert sandbox["Preferences"][0]["TaxPrefs"] == {
        "UsingSalesTax": True,
        "PartnerTaxEnabled": True,
    }
    assert [(c["Id"], c["Taxable"]) for c in sandbox["TaxCode"]] == [("TAX", True), ("NON", False)]
    # The AST rates are TaxRate records (so an invoice's TaxLine names a readable one) that no
    # TaxCode lists.
    state = next(r for r in sandbox["TaxRate"] if r["Name"] == "California State")
    assert state["RateValue"] == Decimal("7.25")
    agency = sandbox["TaxAgency"][int(state["AgencyRef"]["value"]) - 1]
    assert agency["DisplayName"] == "California Department of Tax and Fee Administration"


def test_the_emulator_command_offers_every_kind() -> None:
    (option,) = [p for p in emulator.params if p.name == "company_kind"]
    assert list(option.type.choices) == list(KINDS)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="unknown company kind 'fr'"):
        sandbox_company(stamp, "fr")


@pytest.mark.parametrize(
    ("kind", "currency", "cities"),
    [("ca", "CAD", {"Toronto", "Ottawa", "Hamilton", "Mississauga", "London"}),
     ("uk", "GBP", {"London", "Manchester", "Bristol", "Leeds", "Birmingham"}),
     ("au", "AUD", {"Sydney", "Melbourne", "Brisbane", "Perth", "Adelaide"})],
)  # fmt: skip
def test_generated_books_abroad_are_in_the_kinds_currency_and_cities(
    kind: str, currency: str, cities: set[str]
) -> None:
    books = generate(300, 50, ts=stamp, seed=3, kind=kind)
    currencies = {ref["value"] for path, ref in walk(books) if path.endswith("CurrencyRef")}
    assert currencies == {currency}
    by_id: dict[str, dict[str, Any]] = {}
    for entity in ("Customer", "Vendor", "Employee", "Invoice"):
        for record in books[entity]:
            for key in ("BillAddr", "ShipAddr", "PrimaryAddr"):
                address = record.get(key)
                if not address or "City" not in address:
                    continue
                assert address["City"] in cities, (entity, key, address)
                assert "Lat" not in address
                if kind == "uk":
                    assert "CountrySubDivisionCode" not in address
                # A customer's address and the invoices' copies of it still agree.
                assert by_id.setdefault(address["Id"], address) == address
    assert len(by_id) > 100
