"""Seed data for the emulator: Intuit's US sandbox company, and large generated companies.

``sandbox_company`` rebuilds "Sandbox Company_US_1", the landscaping business every new Intuit
developer account gets, from what real recordings show of it (../shared/qbo/FACTS.md §4 and §9;
samples/recorded/nango_2026 and qbo_api_vcr_2020): its 29 customers (Amy's Bird Sanctuary,
Freeman Sporting Goods and its two jobs, ...), its 18 products and services (Design, Installation,
Pump, Rock Fountain, ...), its chart of 90 accounts with their real
Classification/AccountType/AccountSubType triples, its vendors and employees, a handful of
invoices and its CompanyInfo. ``generate`` appends thousands of plausible customers and items to
that, including the awkward cases real books have, for import tests and benchmarks.

Design
------
* Every record is a plain ``dict`` shaped exactly like the JSON body QBO returns for it:
  ``Id``/``SyncToken`` strings, ``domain``, ``sparse``, ``MetaData`` timestamps from the clock
  the caller passes in, amounts as ``Decimal`` (never float), and only properties that have a
  value, as QBO omits empty ones. The one empty value is the ``{}`` of ``SubTotalLineDetail``,
  which QBO itself returns. Empty lists (``CustomField: []``) are left to the emulator.
* Ids run per entity from "1" in list order. Where the sandbox's own ids are known they are kept
  (account 79 "Sales of Product Income", item 11 "Pump", customer 1 "Amy's Bird Sanctuary");
  vendors and employees are renumbered from 1 because the real company shares one sequence
  between customers, vendors and employees and the emulator keeps one per entity.
* References are ``{"value": id, "name": FullyQualifiedName}`` as the recordings show
  ("Landscaping Services:Job Materials:Plants and Soil"), except where QBO sends no name: the
  ``ParentRef`` of a customer or an account, and tax-code refs.
* Address ``Id`` values come from one company-wide sequence, as in QBO, where a customer's bill
  and ship address share an Id when they are the same place; the sandbox's come out as
  recorded (CompanyAddr 1, Amy's Bird Sanctuary 2, ... Weiskopf Consulting 30). The highest
  Id in use is always a Bill/ShipAddr, which is where the emulator continues the sequence.
* Records never share a sub-dict: the emulator mutates records in place, so each gets its own
  CurrencyRef, MetaData, addresses and refs. Strings and Decimals are immutable and shared.
* Totals agree with the records: accounts' CurrentBalanceWithSubAccounts add up their
  sub-accounts, Accounts Receivable is the sum of customer balances, Inventory Asset the stock
  at cost, vendor balances sum to Accounts Payable, a parent customer's BalanceWithJobs includes
  its jobs, and an invoice's TotalAmt is the sum of its lines. The customers' balances are the
  sandbox's; the seeded invoices are a sample of the sandbox's sales, not all of them, though
  each open one carries its customer's whole balance. The two paid ones have the Payment that
  paid them (into Undeposited Funds), linked both ways as QBO links them.
* Sales tax: the US kinds' seeded invoice lines are non-taxable ("NON") and TotalTax is 0;
  abroad every line is on the kind's standard-rate code, tax included in the amounts, and
  TxnTaxDetail is figured (``_tax_codes``), so the totals and balances are the same in every kind.
* Company kinds (``KINDS``): the same books localised as a US company with automated sales tax
  (the default), a US one with manually set-up sales tax, a Canadian, a British or an Australian
  one: CompanyInfo, Preferences, home currency and the TaxCode/TaxRate/TaxAgency lists differ
  (FACTS §11). Customers, items, vendors and the chart of accounts are the sandbox's in every
  kind; outside the US their addresses move to the kind's cities (street lines kept).
* Generation is deterministic: one seeded ``random.Random``, no set iteration, and timestamps
  only from the ``ts`` callable.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import random
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar

from appliance.emulator.books import ast_agencies, ast_rates, figure

Timestamp = Callable[[int], str]
"""Given "seconds ago", returns a company-local ISO timestamp like ``2026-05-05T02:05:12-07:00``."""

Record = dict[str, Any]
Company = dict[str, list[Record]]
_T = TypeVar("_T")

ENTITY_ORDER: tuple[str, ...] = (
    "Account", "Customer", "Item", "Vendor", "Employee", "Invoice", "Payment",
)  # fmt: skip

DELETED = " (deleted)"  # QBO appends this to the name of a list record made inactive

_MINUTE = 60
_DAY = 86_400
_YEAR = 365 * _DAY
_CENT = Decimal("0.01")
_ZERO = Decimal("0")
_SANDBOX_AGE = 40 * _DAY  # the sandbox was set up this long before "now"

# Rates of the awkward cases among generated records (fractions; see ``generate``).
CUSTOMER_RATES: dict[str, float] = {
    "job": 0.08,
    "inactive": 0.03,
    "apostrophe": 0.04,
    "ampersand": 0.04,
    "accent": 0.04,
    "near_duplicate": 0.05,
    "last_first": 0.08,
    "long_note": 0.01,
    "short_note": 0.10,
    "email": 0.70,
    "phone": 0.75,
    "mobile": 0.15,
    "fax": 0.03,
    "website": 0.20,  # of businesses
    "bill_address": 0.80,
    "ship_same": 0.55,
    "ship_other": 0.12,
    "taxable": 0.35,
    "balance": 0.40,
}
ITEM_RATES: dict[str, float] = {
    "category": 0.04,
    "inventory": 0.15,
    "non_inventory": 0.30,
    "sub_item": 0.20,
    "no_price": 0.10,
    "inactive": 0.04,
    "apostrophe": 0.03,
    "ampersand": 0.03,
    "accent": 0.03,
    "purchase_info": 0.40,
    "sku": 0.30,
    "taxable": 0.50,
}


def _usd() -> dict[str, str]:
    return {"value": "USD", "name": "United States Dollar"}


def _cents(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)  # keeps two places: 12300 -> Decimal("123.00")


def _ascii(text: str) -> str:
    """Zoë Müller -> Zoe Muller, for e-mail addresses."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


@lru_cache(maxsize=8192)  # names repeat a lot; normalizing Unicode is not free
def _slug(text: str, limit: int = 24) -> str:
    return "".join(ch for ch in _ascii(text).lower() if ch.isalnum())[:limit] or "mail"


class _Rng(random.Random):
    """``random.Random`` with cheaper picks: ``choice`` and ``randrange`` cost several times more,
    which shows when generating 100,000 records. Reproducible test data, not secrets."""

    def pick(self, pool: Sequence[_T]) -> _T:
        return pool[int(self.random() * len(pool))]

    def between(self, low: int, high: int) -> int:
        """An int in [low, high)."""
        return low + int(self.random() * (high - low))


class _Names:
    """Names in use, compared case-insensitively as QBO does (FACTS §4, 6240)."""

    def __init__(self) -> None:
        self.taken: set[str] = set()
        self._last_suffix: dict[str, int] = {}

    def claim(self, name: str) -> None:
        self.taken.add(name.casefold())

    def free(self, name: str) -> bool:
        return name.casefold() not in self.taken

    def unique(self, name: str) -> str:
        """The name itself if free, else "name (2)", "name (3)", ... as people do in QBO."""
        key = name.casefold()
        if key not in self.taken:
            self.taken.add(key)
            return name
        number = self._last_suffix.get(key, 1)
        while True:
            number += 1
            candidate = f"{name} ({number})"
            if candidate.casefold() not in self.taken:
                self._last_suffix[key] = number
                self.taken.add(candidate.casefold())
                return candidate


class _Books:
    """One company being built: its tables, name registries and the address sequence."""

    def __init__(self, ts: Timestamp) -> None:
        self.ts = ts
        self.tables: Company = {entity: [] for entity in ENTITY_ORDER}
        self.company_info: list[Record] = []
        self.extra: Company = {}  # Preferences and the tax lists (see _localise)
        self.names = _Names()  # DisplayNames of customers, vendors and employees: one namespace
        self.item_names = _Names()
        self.accounts: dict[str, Record] = {}  # by FullyQualifiedName
        self.items: dict[str, Record] = {}  # by FullyQualifiedName
        self.customers: dict[str, Record] = {}  # by FullyQualifiedName
        self._next_address = 1

    def new(self, entity: str, created_ago: int, updated_ago: int | None = None) -> Record:
        table = self.tables[entity]
        created = self.ts(created_ago)
        unchanged = updated_ago is None or updated_ago == created_ago
        updated = created if unchanged or updated_ago is None else self.ts(updated_ago)
        record: Record = {
            "domain": "QBO",
            "sparse": False,
            "Id": str(len(table) + 1),
            "SyncToken": "0",
            "MetaData": {"CreateTime": created, "LastUpdatedTime": updated},
        }
        table.append(record)
        return record

    def date(self, days_ago: int) -> date:
        return date.fromisoformat(self.ts(days_ago * _DAY)[:10])

    def address(
        self,
        line1: str,
        city: str | None = None,
        state: str | None = None,
        postal: str | None = None,
        *,
        line2: str | None = None,
        country: str | None = None,
        lat: str | None = None,
        long: str | None = None,
    ) -> Record:
        address: Record = {"Id": str(self._next_address), "Line1": line1}
        self._next_address += 1
        for key, value in (
            ("Line2", line2),
            ("City", city),
            ("Country", country),
            ("CountrySubDivisionCode", state),
            ("PostalCode", postal),
            ("Lat", lat),
            ("Long", long),
        ):
            if value is not None:
                address[key] = value
        return address

    def finish(self) -> Company:
        extra = {entity: rows for entity, rows in self.extra.items() if rows}
        return {**self.tables, "CompanyInfo": self.company_info, **extra}


def _phone_field(number: str | None) -> dict[str, str] | None:
    return None if number is None else {"FreeFormNumber": number}


def _ref(record: Record) -> dict[str, str]:
    return {"value": record["Id"], "name": record["FullyQualifiedName"]}


# Chart of accounts ---------------------------------------------------------------------------


class _Account(NamedTuple):
    name: str
    parent: str | None  # FullyQualifiedName of the parent account
    classification: str
    account_type: str
    sub_type: str
    balance: str = "0"


def _accounts_table() -> tuple[_Account, ...]:
    """The sandbox's chart in Id order (1-90). Ids, names and types follow real sandbox listings;
    id 18 is unknown and is filled with an account of a type the 2026 sandbox also has. The
    balances of A/R, A/P and Inventory Asset are computed from the records they summarize."""
    a = _Account
    rev, exp, ast, lia, eq = "Revenue", "Expense", "Asset", "Liability", "Equity"
    inc, oinc, ex, oex = "Income", "Other Income", "Expense", "Other Expense"
    oca, fa, ocl = "Other Current Asset", "Fixed Asset", "Other Current Liability"
    ls_materials, job_materials = "Landscaping Services:Job Materials", "Job Expenses:Job Materials"
    return (
        a("Services", None, rev, inc, "ServiceFeeIncome"),  # 1
        a("Retained Earnings", None, eq, "Equity", "RetainedEarnings"),
        a("Prepaid Expenses", None, ast, oca, "PrepaidExpenses"),
        a("Undeposited Funds", None, ast, oca, "UndepositedFunds", "2062.52"),
        a("Fees Billed", None, rev, inc, "ServiceFeeIncome"),  # 5
        a("Refunds-Allowances", None, rev, inc, "DiscountsRefundsGiven"),
        a("Advertising", None, exp, ex, "AdvertisingPromotional"),
        a("Bank Charges", None, exp, ex, "BankCharges"),
        a("Commissions & fees", None, exp, ex, "CommissionsAndFees"),
        a("Dues & Subscriptions", None, exp, ex, "DuesSubscriptions"),  # 10
        a("Insurance", None, exp, ex, "Insurance"),
        a("Legal & Professional Fees", None, exp, ex, "LegalProfessionalFees"),
        a("Meals and Entertainment", None, exp, ex, "EntertainmentMeals"),
        a("Miscellaneous", None, exp, oex, "OtherMiscellaneousExpense"),
        a("Office Expenses", None, exp, ex, "OfficeGeneralAdministrativeExpenses"),  # 15
        a("Promotional", None, exp, ex, "AdvertisingPromotional"),
        a("Rent or Lease", None, exp, ex, "RentOrLeaseOfBuildings"),
        a("Other Miscellaneous Service Cost", None, exp, ex, "OtherMiscellaneousServiceCost"),
        a("Stationery & Printing", None, exp, ex, "OfficeGeneralAdministrativeExpenses"),
        a("Supplies", None, exp, ex, "SuppliesMaterials"),  # 20
        a("Taxes & Licenses", None, exp, ex, "TaxesPaid"),
        a("Travel", None, exp, ex, "Travel"),
        a("Travel Meals", None, exp, ex, "TravelMeals"),
        a("Utilities", None, exp, ex, "Utilities"),
        a("Interest Earned", None, rev, oinc, "InterestEarned"),  # 25
        a("Other Portfolio Income", None, rev, oinc, "OtherMiscellaneousIncome"),
        a("Penalties & Settlements", None, exp, oex, "PenaltiesSettlements"),
        a("Disposal Fees", None, exp, ex, "OtherMiscellaneousServiceCost"),
        a("Equipment Rental", None, exp, ex, "EquipmentRental"),
        a("Uncategorized Income", None, rev, inc, "OtherPrimaryIncome"),  # 30
        a("Uncategorized Expense", None, exp, ex, "OtherMiscellaneousServiceCost"),
        a("Uncategorized Asset", None, ast, oca, "OtherCurrentAssets"),
        a("Accounts Payable (A/P)", None, lia, "Accounts Payable", "AccountsPayable"),
        a("Opening Balance Equity", None, eq, "Equity", "OpeningBalanceEquity", "-9337.50"),
        a("Checking", None, ast, "Bank", "Checking", "1201.00"),  # 35
        a("Savings", None, ast, "Bank", "Savings", "800.00"),
        a("Truck", None, ast, fa, "Vehicles"),
        a("Original Cost", "Truck", ast, fa, "Vehicles", "13495.00"),
        a("Depreciation", "Truck", ast, fa, "AccumulatedDepreciation"),
        a("Depreciation", None, exp, oex, "Depreciation"),  # 40
        a("Mastercard", None, lia, "Credit Card", "CreditCard", "157.72"),
        a("Visa", None, lia, "Credit Card", "CreditCard"),
        a("Loan Payable", None, lia, ocl, "LoanPayable", "4000.00"),
        a("Notes Payable", None, lia, "Long Term Liability", "NotesPayable", "25000.00"),
        a("Landscaping Services", None, rev, inc, "OtherPrimaryIncome"),  # 45
        a("Job Materials", "Landscaping Services", rev, inc, "OtherPrimaryIncome"),
        a("Decks and Patios", ls_materials, rev, inc, "OtherPrimaryIncome"),
        a("Fountains and Garden Lighting", ls_materials, rev, inc, "OtherPrimaryIncome"),
        a("Plants and Soil", ls_materials, rev, inc, "OtherPrimaryIncome"),
        a("Sprinklers and Drip Systems", ls_materials, rev, inc, "OtherPrimaryIncome"),  # 50
        a("Labor", "Landscaping Services", rev, inc, "OtherPrimaryIncome"),
        a("Installation", "Landscaping Services:Labor", rev, inc, "OtherPrimaryIncome"),
        a("Maintenance and Repair", "Landscaping Services:Labor", rev, inc, "OtherPrimaryIncome"),
        a("Pest Control Services", None, rev, inc, "OtherPrimaryIncome"),
        a("Automobile", None, exp, ex, "Auto"),  # 55
        a("Fuel", "Automobile", exp, ex, "Auto"),
        a("Workers Compensation", "Insurance", exp, ex, "Insurance"),
        a("Job Expenses", None, exp, ex, "OtherMiscellaneousServiceCost"),
        a("Cost of Labor", "Job Expenses", exp, ex, "CostOfLabor"),
        a("Installation", "Job Expenses:Cost of Labor", exp, ex, "CostOfLabor"),  # 60
        a("Maintenance and Repairs", "Job Expenses:Cost of Labor", exp, ex, "CostOfLabor"),
        a("Equipment Rental", "Job Expenses", exp, ex, "EquipmentRental"),
        a("Job Materials", "Job Expenses", exp, ex, "SuppliesMaterials"),
        a("Decks and Patios", job_materials, exp, ex, "SuppliesMaterials"),
        a("Fountain and Garden Lighting", job_materials, exp, ex, "SuppliesMaterials"),  # 65
        a("Plants and Soil", job_materials, exp, ex, "SuppliesMaterials"),
        a("Sprinklers and Drip Systems", job_materials, exp, ex, "SuppliesMaterials"),
        a("Permits", "Job Expenses", exp, ex, "TaxesPaid"),
        a("Accounting", "Legal & Professional Fees", exp, ex, "LegalProfessionalFees"),
        a("Bookkeeper", "Legal & Professional Fees", exp, ex, "LegalProfessionalFees"),  # 70
        a("Lawyer", "Legal & Professional Fees", exp, ex, "LegalProfessionalFees"),
        a("Maintenance and Repair", None, exp, ex, "RepairMaintenance"),
        a("Building Repairs", "Maintenance and Repair", exp, ex, "RepairMaintenance"),
        a("Computer Repairs", "Maintenance and Repair", exp, ex, "RepairMaintenance"),
        a("Equipment Repairs", "Maintenance and Repair", exp, ex, "RepairMaintenance"),  # 75
        a("Gas and Electric", "Utilities", exp, ex, "Utilities"),
        a("Telephone", "Utilities", exp, ex, "Utilities"),
        a("Purchases", None, exp, ex, "SuppliesMaterials"),
        a("Sales of Product Income", None, rev, inc, "SalesOfProductIncome"),
        a("Cost of Goods Sold", None, exp, "Cost of Goods Sold", "SuppliesMaterialsCogs"),  # 80
        a("Inventory Asset", None, ast, oca, "Inventory"),
        a("Design income", None, rev, inc, "ServiceFeeIncome"),
        a("Other Income", None, rev, inc, "OtherPrimaryIncome"),
        a("Accounts Receivable (A/R)", None, ast, "Accounts Receivable", "AccountsReceivable"),
        a("Billable Expense Income", None, rev, inc, "ServiceFeeIncome"),  # 85
        a("Discounts given", None, rev, inc, "DiscountsRefundsGiven"),
        a("Unapplied Cash Payment Income", None, rev, inc, "UnappliedCashPaymentIncome"),
        a("Unapplied Cash Bill Payment Expense", None, exp, ex, "UnappliedCashBillPaymentExpense"),
        a("Arizona Dept. of Revenue Payable", None, lia, ocl, "GlobalTaxPayable"),
        a("Board of Equalization Payable", None, lia, ocl, "GlobalTaxPayable", "370.94"),  # 90
    )


def _seed_accounts(books: _Books) -> None:
    for number, row in enumerate(_accounts_table()):
        record = books.new("Account", _SANDBOX_AGE + 3 * _DAY - number * _MINUTE)
        fqn = f"{row.parent}:{row.name}" if row.parent else row.name
        balance = Decimal(row.balance)
        record.update(
            {
                "Name": row.name,
                "SubAccount": row.parent is not None,
                **(
                    {"ParentRef": {"value": books.accounts[row.parent]["Id"]}} if row.parent else {}
                ),
                "FullyQualifiedName": fqn,
                "Active": True,
                "Classification": row.classification,
                "AccountType": row.account_type,
                "AccountSubType": row.sub_type,
                "CurrentBalance": balance,
                "CurrentBalanceWithSubAccounts": balance,
                "CurrencyRef": _usd(),
            }
        )
        books.accounts[fqn] = record


def _set_balance(account: Record, balance: Decimal) -> None:
    account["CurrentBalance"] = balance
    account["CurrentBalanceWithSubAccounts"] = balance


def _roll_up_accounts(books: _Books) -> None:
    """CurrentBalanceWithSubAccounts = own balance + the sub-accounts' totals."""
    table = books.tables["Account"]
    by_id = {record["Id"]: record for record in table}
    for record in table:
        record["CurrentBalanceWithSubAccounts"] = record["CurrentBalance"]
    for record in reversed(table):  # sub-accounts always come after their parents
        if "ParentRef" in record:
            parent = by_id[record["ParentRef"]["value"]]
            parent["CurrentBalanceWithSubAccounts"] += record["CurrentBalanceWithSubAccounts"]


# Customers -----------------------------------------------------------------------------------


class _Addr(NamedTuple):
    line1: str
    city: str
    state: str
    postal: str
    lat: str | None = None
    long: str | None = None
    country: str | None = None


class _Customer(NamedTuple):
    display: str
    given: str | None
    family: str | None
    phone: str | None
    email: str | None
    balance: str
    bill: _Addr | None = None
    ship: _Addr | bool = False  # True: the bill address again (same Id); False: none
    company: str | None = None
    parent: str | None = None
    middle: str | None = None
    mobile: str | None = None
    fax: str | None = None
    web: str | None = None
    print_name: str | None = None
    taxable: bool = False
    tax_code: str | None = None


def _customers_table() -> tuple[_Customer, ...]:
    """The sandbox's 29 customers in Id order, as the recordings list them."""
    c, ad = _Customer, _Addr
    freeman = "Freeman Sporting Goods"
    freeman_addr = ad("370 Easy St.", "Middlefield", "CA", "94482", "37.4031672", "-122.0642815")
    mobile, fax, web = "(973) 555-8849", "(520) 555-7894", "http://sportinggoods.intuit.com"
    mid = ("Middlefield", "CA", "94303")
    return (
        c(
            "Amy's Bird Sanctuary", "Amy", "Lauterbach", "(650) 555-3311", "Birds@Intuit.com",
            "639.00", ad("4581 Finch St.", "Bayshore", "CA", "94326", "INVALID", "INVALID"),
            True, company="Amy's Bird Sanctuary", taxable=True,
        ),
        c(
            "Bill's Windsurf Shop", "Bill", "Lucchini", "(415) 444-6538", "Surf@Intuit.com",
            "85.00", ad("12 Ocean Dr.", "Half Moon Bay", "CA", "94213", "37.4307072",
                        "-122.4295234"), company="Bill's Windsurf Shop",
        ),
        c(
            "Cool Cars", "Grace", "Pariente", "(415) 555-9933", "Cool_Cars@intuit.com", "0",
            ad("65 Ocean Dr.", "Half Moon Bay", "CA", "94213", "37.4300318", "-122.4336537"),
            company="Cool Cars",
        ),
        c(
            "Diego Rodriguez", "Diego", "Rodriguez", "(650) 555-4477", "Diego@Rodriguez.com",
            "0", ad("321 Channing", "Palo Alto", "CA", "94303", "37.443231", "-122.1561846"),
        ),
        c(
            "Dukes Basketball Camp", "Peter", "Dukes", "(520) 420-5638",
            "Dukes_bball@intuit.com", "0",
            ad("25 Court St.", "Tucson", "AZ", "85719", "32.2841116", "-110.9744298"), True,
            company="Dukes Basketball Camp", taxable=True,
        ),
        c("Dylan Sollfrank", "Dylan", "Sollfrank", None, None, "0"),
        c(
            freeman, "Kirby", "Freeman", "(650) 555-0987", "Sporting_goods@intuit.com", "0",
            freeman_addr, True, company=freeman, mobile=mobile, fax=fax, web=web,
        ),
        c(
            "0969 Ocean View Road", "Sasha", "Tillou", "(415) 555-9933",
            "Sporting_goods@intuit.com", "0", freeman_addr, True, company=freeman,
            parent=freeman, print_name=freeman, mobile=mobile, fax=fax, web=web,
        ),
        c(
            "55 Twin Lane", "Amelia", None, "(650) 555-0987", "Sporting_goods@intuit.com",
            "85.00", freeman_addr, True, company=freeman, parent=freeman, print_name=freeman,
            mobile=mobile, fax=fax, web=web,
        ),
        c(
            "Geeta Kalapatapu", "Geeta", "Kalapatapu", "(650) 555-0022",
            "Geeta@Kalapatapu.com", "629.10",
            ad("1987 Main St.", *mid, "37.445013", "-122.1391443"), True,
        ),
        c(
            "Gevelber Photography", "Lisa", "Gevelber", "(415) 222-4345",
            "Photography@intuit.com", "0",
            ad("1045 Main St.", "Half Moon Bay", "CA", "94213", "37.4559621", "-122.429939"),
            True, company="Gevelber Photography", web="http://gevelberphotography.com",
        ),
        c(
            "Jeff's Jalopies", "Jeff", "Chin", "(650) 555-8989", "Jalopies@intuit.com", "81.00",
            ad("12 Willow Rd.", "Menlo Park", "CA", "94305", "37.4495308", "-122.1726923"),
            True, company="Jeff's Jalopies",
        ),
        c(
            "John Melton", "John", "Melton", "(650) 555-5879", "John@Melton.com", "450.00",
            ad("85 Pine St.", "Menlo Park", "CA", "94304", "37.4451342", "-122.1409626"), True,
        ),
        c(
            "Kate Whelan", "Kate", "Whelan", "(650) 554-8822", "Kate@Whelan.com", "0",
            ad("45 First St.", "Menlo Park", "CA", "94304", "37.4585825", "-122.1352789",
               "USA"), True,
        ),
        c(
            "Pye's Cakes", "Karen", "Pye", "(973) 555-4652", "pyescakes@intuit.com", "0",
            ad("350 Mountain View Dr.", "South Orange", "NJ", "07079", "40.7633073",
               "-74.2426072"), True, company="Pye's Cakes", mobile="(973) 555-2234",
            web="http://www.pyescakes.intuit.com",
        ),
        c(
            "Kookies by Kathy", "Kathy", "Kuplis", "(650) 555-7896",
            "qbwebsamplecompany@yahoo.com", "75.00",
            ad("789 Sugar Lane", *mid, "37.4530553", "-122.1178261"), company="Kookies by Kathy",
        ),
        c(
            "Mark Cho", "Mark", "Cho", "(650) 554-1479", "Mark@Cho.com", "314.28",
            ad("36 Willow Rd", "Menlo Park", "CA", "94304", "37.450412", "-122.170593"), True,
        ),
        c(
            "Paulsen Medical Supplies", "Kathy", "Paulsen", "(650) 557-4569",
            "Medical@intuit.com", "954.75", ad("900 Main St.", *mid, "37.445013", "-122.1391443"),
            ad("38921 S. Boise Ave", "Middlefield", "CA", "94304", "37.3989376", "-122.1443935"),
            company="Paulsen Medical Supplies",
        ),
        c(
            "Rago Travel Agency", "Jeff", "Rago", "(650) 555-1596", "Rago_Travel@intuit.com",
            "0", ad("753 Cedar St.", "Bayshore", "CA", "94326", "37.7077016", "-122.4273232"),
            True, company="Rago Travel Agency",
        ),
        c(
            "Red Rock Diner", "Stephanie", "Martini", "(650) 555-4973",
            "qbwebsamplecompany@yahoo.com", "226.00",
            ad("500 Red Rock Rd.", "Bayshore", "CA", "94326", "INVALID", "INVALID"), True,
            company="Red Rock Diner",
        ),
        c(
            "Rondonuwu Fruit and Vegi", "Rondonuwu", "and Vegi", "(650) 555-2645",
            "Tony@Rondonuwu.com", "78.60",
            ad("847 California Ave.", "San Jose", "CA", "95021", "37.3313585", "-121.911372"),
            True, middle="Fruit",
        ),
        c(
            "Shara Barnett", "Shara", "Barnett", "(650) 555-4563", "Shara@Barnett.com", "0",
            ad("77 University", "Palo Alto", "CA", "94303", "37.4431445", "-122.164443"), True,
        ),
        c(
            "Barnett Design", "Shara", "Barnett", "(650) 557-1289", "Design@intuit.com",
            "274.50", ad("19 Main St.", *mid, "37.445013", "-122.1391443"), True,
            company="Barnett Design", parent="Shara Barnett",
        ),
        c(
            "Sonnenschein Family Store", "Russ", "Sonnenschein", "(650) 557-8463",
            "Familiystore@intuit.com", "362.07",
            ad("5647 Cypress Hill Ave.", *mid, "37.4238562", "-122.1141681"),
            company="Sonnenschein Family Store", tax_code="2",
        ),
        c(
            "Sushi by Katsuyuki", "Katsuyuki", "Yanagawa", "(505) 570-0147", "Sushi@intuit.com",
            "160.00", ad("898 Elm St.", "Maplewood", "NJ", "07040", "40.7312816", "-74.2652908"),
            True, company="Sushi by Katsuyuki",
        ),
        c(
            "Travis Waldron", "Travis", "Waldron", "(650) 557-9977", "Travis@Waldron.com",
            "414.72",
            ad("78 First St.", "Monlo Park", "CA", "94304", "37.4585825", "-122.1352789"), True,
        ),
        c(
            "Video Games by Dan", "Dan", "Wilks", "(650) 555-3456", "Videogames@intuit.com", "0",
            ad("202 Main St.", "Tucson", "AZ", "85704", "32.2242351", "-110.9758242"), True,
            company="Video Games by Dan",
        ),
        c(
            "Wedding Planning by Whitney", "Whitney", "Brewer", "(650) 557-2473",
            "Dream_Wedding@intuit.com", "0",
            ad("135 Broadway", "Menlo Park", "CA", "94304", "37.4846734", "-122.1989488"), True,
            company="Wedding Planning by Whitney", web="http://www.dreamwedding.intuit.com",
        ),
        c(
            "Weiskopf Consulting", "Nicola", "Weiskopf", "(650) 555-1423",
            "Consulting@intuit.com", "375.00",
            ad("45612 Main St.", "Bayshore", "CA", "94326", "45.256574", "-66.0943698"), True,
            company="Weiskopf Consulting",
        ),
    )  # fmt: skip


def _customer(
    books: _Books,
    created_ago: int,
    updated_ago: int,
    *,
    display: str,
    taxable: bool,
    balance: Decimal,
    active: bool = True,
    parent: Record | None = None,
    bill_with_parent: bool = False,
    bill: Record | None = None,
    ship: Record | None = None,
    notes: str | None = None,
    given: str | None = None,
    middle: str | None = None,
    family: str | None = None,
    company: str | None = None,
    print_name: str | None = None,
    phone: str | None = None,
    mobile: str | None = None,
    fax: str | None = None,
    email: str | None = None,
    web: str | None = None,
    tax_code: str | None = None,
) -> Record:
    """One customer with QBO's defaults (VCR create/customer.yml; NANGO 2026 adds IsProject)."""
    record = books.new("Customer", created_ago, updated_ago)
    if not active:
        display += DELETED
    fqn = f"{parent['FullyQualifiedName']}:{display}" if parent else display
    fields: Record = {
        "Taxable": taxable,
        "BillAddr": bill,
        "ShipAddr": ship,
        "Notes": notes,
        **_under(parent, bill_with_parent),
        "Balance": balance,
        "BalanceWithJobs": balance,
        "CurrencyRef": _usd(),
        "PreferredDeliveryMethod": "Print",
        "IsProject": False,
        "GivenName": given,
        "MiddleName": middle,
        "FamilyName": family,
        "FullyQualifiedName": fqn,
        "CompanyName": company,
        "DisplayName": display,
        "PrintOnCheckName": print_name or display.removesuffix(DELETED),
        "Active": active,
        **_reach(phone, mobile, fax, email, web),
        "DefaultTaxCodeRef": None if tax_code is None else {"value": tax_code},
    }
    record.update({key: value for key, value in fields.items() if value is not None})
    if parent is not None:
        parent["BalanceWithJobs"] += balance
    books.customers[fqn] = record
    return record


def _under(parent: Record | None, bill_with_parent: bool) -> Record:
    """Where a customer sits: a job of ``parent``, or at the top (None for the absent fields)."""
    return {
        "Job": parent is not None,
        "BillWithParent": bill_with_parent,
        # The recordings show a customer's ParentRef with a value only.
        "ParentRef": None if parent is None else {"value": parent["Id"]},
        "Level": None if parent is None else parent.get("Level", 0) + 1,
    }


def _reach(
    phone: str | None, mobile: str | None, fax: str | None, email: str | None, web: str | None
) -> Record:
    """How a customer is reached, as QBO writes it (None for the absent fields)."""
    return {
        "PrimaryPhone": _phone_field(phone),
        "Mobile": _phone_field(mobile),
        "Fax": _phone_field(fax),
        "PrimaryEmailAddr": None if email is None else {"Address": email},
        "WebAddr": None if web is None else {"URI": web},
    }


def _recorded_address(books: _Books, address: _Addr) -> Record:
    line1, city, state, postal, lat, long, country = address
    return books.address(line1, city, state, postal, country=country, lat=lat, long=long)


def _seed_customers(books: _Books) -> None:
    by_display: dict[str, Record] = {}
    for number, row in enumerate(_customers_table()):
        bill = ship = None
        if row.bill is not None:
            bill = _recorded_address(books, row.bill)
            if row.ship is True:
                ship = dict(bill)
            elif isinstance(row.ship, _Addr):
                ship = _recorded_address(books, row.ship)
        created = _SANDBOX_AGE - number * 7 * _MINUTE
        books.names.claim(row.display)
        by_display[row.display] = _customer(
            books,
            created,
            created - _DAY if Decimal(row.balance) else created,
            display=row.display,
            taxable=row.taxable,
            balance=Decimal(row.balance),
            parent=by_display[row.parent] if row.parent else None,
            bill=bill,
            ship=ship,
            given=row.given,
            middle=row.middle,
            family=row.family,
            company=row.company,
            print_name=row.print_name,
            phone=row.phone,
            mobile=row.mobile,
            fax=row.fax,
            email=row.email,
            web=row.web,
            tax_code=row.tax_code,
        )


# Items ---------------------------------------------------------------------------------------


class _Item(NamedTuple):
    name: str
    kind: str  # QBO Item Type
    description: str | None
    price: str | None
    income: str | None  # FullyQualifiedName of the income account
    taxable: bool = False
    cost: str = "0"
    expense: str | None = None
    quantity: str | None = None  # inventory only
    parent: str | None = None  # FullyQualifiedName of the parent category


def _items_table() -> tuple[_Item, ...]:
    """The sandbox's 18 products and services in Id order (NANGO list-items 2026, with items 1
    and 2 under their original names), then a category tree the sandbox lacks, so that Category
    items and sub-items are seeded too."""
    i = _Item
    cogs = "Cost of Goods Sold"
    fountains = "Landscaping Services:Job Materials:Fountains and Garden Lighting"
    plants = "Landscaping Services:Job Materials:Plants and Soil"
    sprinklers = "Landscaping Services:Job Materials:Sprinklers and Drip Systems"
    products = "Sales of Product Income"
    return (
        i("Services", "Service", None, "0", "Services"),
        i("Hours", "Service", None, "0", "Services"),
        i("Concrete", "Service", "Concrete for fountain installation", "0", fountains, True),
        i("Design", "Service", "Custom Design", "75", "Design income"),
        i("Rock Fountain", "Inventory", "Rock Fountain", "275", products, True, "125", cogs, "2"),
        i("Gardening", "Service", "Weekly Gardening Service", "0", "Landscaping Services"),
        i(
            "Installation",
            "Service",
            "Installation of landscape design",
            "50",
            "Landscaping Services:Labor:Installation",
        ),
        i("Lighting", "Service", "Garden Lighting", "0", fountains, True),
        i(
            "Maintenance & Repair",
            "Service",
            "Maintenance & Repair",
            "0",
            "Landscaping Services:Labor:Maintenance and Repair",
        ),
        i("Pest Control", "Service", "Pest Control Services", "35", "Pest Control Services"),
        i("Pump", "Inventory", "Fountain Pump", "15", products, True, "10", cogs, "25"),
        i(
            "Refunds & Allowances",
            "Service",
            "Income due to refunds or allowances",
            "0",
            "Other Income",
        ),
        i("Rocks", "Service", "Garden Rocks", "0", fountains, True),
        i("Sod", "Service", "Sod", "0", plants, True),
        i(
            "Soil",
            "Service",
            "2 cubic ft. bag",
            "10",
            plants,
            True,
            "6.50",
            "Job Expenses:Job Materials:Plants and Soil",
        ),
        i(
            "Sprinkler Heads",
            "Inventory",
            "Sprinkler Heads",
            "2",
            products,
            True,
            "0.75",
            cogs,
            "25",
        ),
        i(
            "Sprinkler Pipes",
            "Inventory",
            "Sprinkler Pipes",
            "4",
            products,
            True,
            "2.50",
            cogs,
            "31",
        ),
        i("Trimming", "Service", "Tree and Shrub Trimming", "35", "Landscaping Services"),
        i("Landscaping Services", "Category", None, None, None),
        i("Job Materials", "Category", None, None, None, parent="Landscaping Services"),
        i(
            "Irrigation",
            "Category",
            None,
            None,
            None,
            parent="Landscaping Services:Job Materials",
        ),
        i(
            "Drip Emitters",
            "NonInventory",
            "Pressure-compensating drip emitters, bag of 25",
            "12.50",
            sprinklers,
            True,
            "7.25",
            "Job Expenses:Job Materials:Sprinklers and Drip Systems",
            parent="Landscaping Services:Job Materials:Irrigation",
        ),
    )


def _item(
    books: _Books,
    created_ago: int,
    updated_ago: int,
    *,
    name: str,
    kind: str,
    description: str | None = None,
    active: bool = True,
    parent: Record | None = None,
    taxable: bool = False,
    price: Decimal | None = None,
    income: Record | None = None,
    purchase_cost: Decimal | None = None,
    expense: Record | None = None,
    quantity: Decimal | None = None,
    start_date: str | None = None,
    sku: str | None = None,
) -> Record:
    """One item shaped like NANGO list-items 2026; categories carry no accounts or prices."""
    record = books.new("Item", created_ago, updated_ago)
    if not active:
        name += DELETED
    fqn = f"{parent['FullyQualifiedName']}:{name}" if parent else name
    record["Name"] = name
    if sku is not None:
        record["Sku"] = sku
    if description is not None:
        record["Description"] = description
    record["Active"] = active
    if parent is not None:
        record["SubItem"] = True
        record["ParentRef"] = _ref(parent)
        record["Level"] = parent.get("Level", 0) + 1
    record["FullyQualifiedName"] = fqn
    record["Type"] = kind
    if kind != "Category":
        if income is None:
            raise ValueError(f"item {name!r} needs an income account")
        record["Taxable"] = taxable
        if price is not None:
            record["UnitPrice"] = price
        record["IncomeAccountRef"] = _ref(income)
        if expense is not None and description is not None:
            record["PurchaseDesc"] = description
        record["PurchaseCost"] = purchase_cost if purchase_cost is not None else _ZERO
        if expense is not None:
            record["ExpenseAccountRef"] = _ref(expense)
        if kind == "Inventory":
            record["AssetAccountRef"] = _ref(books.accounts["Inventory Asset"])
            record["TrackQtyOnHand"] = True
            record["QtyOnHand"] = quantity if quantity is not None else _ZERO
            record["InvStartDate"] = start_date
        else:
            record["TrackQtyOnHand"] = False
    books.items[fqn] = record
    return record


def _seed_items(books: _Books) -> None:
    start = books.date(27).isoformat()
    for number, row in enumerate(_items_table()):
        created = _SANDBOX_AGE - _DAY - number * 5 * _MINUTE
        books.item_names.claim(row.name)
        _item(
            books,
            created,
            created - 3 * _DAY if row.kind == "Inventory" else created,
            name=row.name,
            kind=row.kind,
            description=row.description,
            parent=books.items[row.parent] if row.parent else None,
            taxable=row.taxable,
            price=None if row.price is None else Decimal(row.price),
            income=books.accounts[row.income] if row.income else None,
            purchase_cost=Decimal(row.cost),
            expense=books.accounts[row.expense] if row.expense else None,
            quantity=None if row.quantity is None else Decimal(row.quantity),
            start_date=start if row.kind == "Inventory" else None,
        )


# Vendors, employees, company -----------------------------------------------------------------


class _Vendor(NamedTuple):
    display: str
    given: str | None = None
    family: str | None = None
    balance: str = "0"
    address: tuple[str, str, str, str] | None = None
    phone: str | None = None
    email: str | None = None
    web: str | None = None
    account: str | None = None
    is_1099: bool = False


def _vendors_table() -> tuple[_Vendor, ...]:
    """The sandbox's vendors. Names and which of them are owed money (summing to the A/P
    balance) follow the sandbox; contact details are plausible stand-ins."""
    v = _Vendor
    mid = ("Middlefield", "CA", "94303")
    return (
        v("Books by Bessie", "Bessie", "Williams", address=("15 Main St.", "Palo Alto", "CA",
          "94303"), phone="(650) 555-7745", email="Books@Intuit.com",
          web="http://www.booksbybessie.co", account="1345", is_1099=True),
        v("Brosnahan Insurance Agency", "Nick", "Brosnahan", "241.23",
          ("P.O. Box 5", "Middlefield", "CA", "94482"), "(650) 555-9912", account="7653412"),
        v("Cal Telephone", address=("10 Main St.", "Palo Alto", "CA", "94303"),
          phone="(650) 555-1616"),
        v("Chin's Gas and Oil", address=("1001 El Camino Real", *mid), phone="(650) 555-2391"),
        v("Cigna Health Care", phone="(520) 555-9878"),
        v("Computers by Jenni", "Jenni", "Winslow", address=("1515 Main St.", *mid),
          phone="(650) 555-8721", email="Msfixit@Intuit.com", is_1099=True),
        v("Diego's Road Warrior Bodyshop", balance="755.00", phone="(650) 555-4431"),
        v("EDD"),
        v("Ellis Equipment Rental", "Julie", "Ellis", address=("45896 Main St.", *mid),
          phone="(650) 555-3333", email="Rental@intuit.com"),
        v("Fidelity", email="Fidelity@intuit.com"),
        v("Hall Properties", "Melanie", "Hall", address=("P.O.Box 357", "South Orange", "NJ",
          "07079"), phone="(973) 555-3827"),
        v("Hicks Hardware", "Geoff", "Hicks", address=("42 Main St.", *mid),
          phone="(650) 554-1973"),
        v("Lee Advertising", address=("776 Middlefield Rd.", *mid), phone="(650) 554-4622"),
        v("Mahoney Mugs", email="Mugs@intuit.com"),
        v("Met Life Dental", address=("221 Lincoln Ave.", "Sunnyvale", "CA", "94086")),
        v("National Eye Care", address=("123 Main St.", *mid), web="http://www.nationaleye.com"),
        v("Norton Lumber and Building Materials", balance="205.00",
          address=("4528 Country Road", *mid), phone="(650) 363-6578",
          email="Materials@intuit.com", web="http://www.nortonlumber.com"),
        v("PG&E", balance="86.44", address=("4 Main St.", *mid), phone="(888) 555-9465"),
        v("Pam Seitz", "Pam", "Seitz", address=("P.O. Box 15", "Bayshore", "CA", "94326"),
          phone="(650) 557-8855", email="SeitzCPA@intuit.com", is_1099=True),
        v("Robertson & Associates", "Jenny", "Robertson", balance="315.00",
          address=("P.O. Box 147", "Bayshore", "CA", "94326"), phone="(650) 557-1111",
          account="000005641"),
        v("Squeaky Kleen Car Wash", address=("1 Main St.", *mid)),
        v("Tania's Nursery", address=("1111 Elm St.", *mid), phone="(650) 555-4433",
          email="plantqueen@taniasnursery.com"),
        v("Tim Philip Masonry", "Tim", "Philip", address=("3948 Elm St.", *mid),
          phone="(800) 556-1254", email="tim.philip@timphilipmasonry.com", is_1099=True),
        v("Tony Rondonuwu", "Tony", "Rondonuwu", email="tonyrjr@intuit.com", is_1099=True),
        v("United States Treasury", address=("P.O. Box 1000", "Washington", "DC", "20001")),
        v("Bob's Burger Joint"),
    )  # fmt: skip


def _seed_vendors(books: _Books) -> Decimal:
    owed = _ZERO
    for number, row in enumerate(_vendors_table()):
        created = _SANDBOX_AGE - 2 * _DAY - number * 3 * _MINUTE
        balance = Decimal(row.balance)
        owed += balance
        record = books.new("Vendor", created, created - _DAY if balance else created)
        if row.address is not None:
            record["BillAddr"] = books.address(*row.address)
        record["Balance"] = balance
        if row.account is not None:
            record["AcctNum"] = row.account
        record["Vendor1099"] = row.is_1099
        record["CurrencyRef"] = _usd()
        if row.given is not None:
            record["GivenName"] = row.given
        if row.family is not None:
            record["FamilyName"] = row.family
        if row.display != f"{row.given} {row.family}":  # a business, not a person
            record["CompanyName"] = row.display
        record["DisplayName"] = row.display
        record["PrintOnCheckName"] = row.display
        record["Active"] = True
        if row.phone is not None:
            record["PrimaryPhone"] = {"FreeFormNumber": row.phone}
        if row.email is not None:
            record["PrimaryEmailAddr"] = {"Address": row.email}
        if row.web is not None:
            record["WebAddr"] = {"URI": row.web}
        books.names.claim(row.display)
    return owed


def _seed_employees(books: _Books) -> None:
    """The sandbox's two employees; phone numbers and employee numbers are plausible stand-ins.
    They get no PrimaryAddr: the emulator continues the address sequence from the highest
    Bill/ShipAddr Id, so an address allocated after the customers' would be handed out twice."""
    rows = (
        ("Emily", "Platt", "(540) 555-9645", "E-1"),
        ("John", "Johnson", "(650) 555-0147", "E-2"),
    )
    for number, (given, family, phone, employee_number) in enumerate(rows):
        display = f"{given} {family}"
        record = books.new("Employee", _SANDBOX_AGE - 2 * _DAY - number * _MINUTE)
        record.update(
            {
                "BillableTime": False,
                "GivenName": given,
                "FamilyName": family,
                "DisplayName": display,
                "PrintOnCheckName": display,
                "Active": True,
                "PrimaryPhone": {"FreeFormNumber": phone},
                "EmployeeNumber": employee_number,
                "HiredDate": books.date(400 + 300 * number).isoformat(),
            }
        )
        books.names.claim(display)


def _seed_company_info(books: _Books) -> None:
    """CompanyInfo as the 2025 API returns it: ISO-3 Country and no Lat/Long on its addresses
    (FACTS §4, API2025). The address is the one sandbox invoices print as ShipFromAddr."""
    address = books.address("123 Sierra Way", "San Pablo", "CA", "87999", country="USA")
    created = _SANDBOX_AGE + 5 * _DAY
    record: Record = {
        "CompanyName": "Sandbox Company_US_1",
        "LegalName": "Sandbox Company_US_1",
        "CompanyAddr": address,
        "CustomerCommunicationAddr": dict(address),
        "LegalAddr": dict(address),
        "CustomerCommunicationEmailAddr": {"Address": "noreply@quickbooks.com"},
        "PrimaryPhone": {"FreeFormNumber": "(650) 555-0100"},
        "CompanyStartDate": books.date(created // _DAY).isoformat(),
        "FiscalYearStartMonth": "January",
        "Country": "US",
        "Email": {"Address": "noreply@quickbooks.com"},
        "WebAddr": {"URI": "http://www.sandboxcompany-us-1.example.com"},
        "SupportedLanguages": "en",
        "NameValue": [
            {"Name": "NeoEnabled", "Value": "true"},
            {"Name": "IndustryType", "Value": "Landscaping Services"},
            {"Name": "IndustryCode", "Value": "561730"},
            {"Name": "CompanyType", "Value": "Other"},
            {"Name": "SubscriptionStatus", "Value": "SUBSCRIBED"},
            {"Name": "OfferingSku", "Value": "QuickBooks Online Plus"},
            {"Name": "PayrollFeature", "Value": "true"},
            {"Name": "AccountantFeature", "Value": "false"},
            {"Name": "ItemCategoriesFeature", "Value": "true"},
        ],
        "domain": "QBO",
        "sparse": False,
        "Id": "1",
        "SyncToken": "0",
        "MetaData": {"CreateTime": books.ts(created), "LastUpdatedTime": books.ts(_DAY)},
    }
    books.company_info.append(record)


# Invoices ------------------------------------------------------------------------------------


class _Invoice(NamedTuple):
    customer: str  # FullyQualifiedName
    days_ago: int
    lines: tuple[tuple[str, str, str], ...]  # item name, quantity, unit price
    paid: bool = False
    emailed: bool = False


def _invoices_table() -> tuple[_Invoice, ...]:
    """Sandbox-style sales. Each open invoice carries its customer's whole balance; the lines of
    the Paulsen one are those of the sandbox's invoice 1037."""
    i = _Invoice
    return (
        i("Amy's Bird Sanctuary", 33, (("Design", "4.5", "75"), ("Services", "1", "100")), True),
        i("Kookies by Kathy", 31, (("Design", "1", "75"),)),
        i("Bill's Windsurf Shop", 29, (("Pest Control", "1", "35"), ("Installation", "1", "50"))),
        i(
            "Freeman Sporting Goods:55 Twin Lane",
            26,
            (("Maintenance & Repair", "1", "50"), ("Pest Control", "1", "35")),
            emailed=True,
        ),
        i("John Melton", 22, (("Installation", "9", "50"),)),
        i(
            "Paulsen Medical Supplies",
            19,
            (("Rock Fountain", "1", "275"), ("Pump", "1", "12.75"), ("Concrete", "5", "9.50")),
            True,
        ),
        i("Weiskopf Consulting", 12, (("Design", "5", "75"),), emailed=True),
        i("Sushi by Katsuyuki", 6, (("Sprinkler Heads", "30", "2"), ("Installation", "2", "50"))),
    )


def _seed_invoices(books: _Books) -> None:
    for number, row in enumerate(_invoices_table()):
        customer = books.customers[row.customer]
        txn_date = books.date(row.days_ago)
        created = row.days_ago * _DAY - 9 * _MINUTE
        record = books.new(
            "Invoice", created, row.days_ago * _DAY - 3 * _DAY if row.paid else created
        )
        lines, total = _invoice_lines(books, row)
        record.update(
            {
                "AllowIPNPayment": False,
                "AllowOnlinePayment": False,
                "AllowOnlineCreditCardPayment": False,
                "AllowOnlineACHPayment": False,
                "DocNumber": str(1001 + number),
                "TxnDate": txn_date.isoformat(),
                "CurrencyRef": _usd(),
                "Line": lines,
                "TxnTaxDetail": {"TotalTax": _ZERO},
                "CustomerRef": _ref(customer),
            }
        )
        for key in ("BillAddr", "ShipAddr"):
            if key in customer:
                record[key] = dict(customer[key])
        record.update(
            {
                "DueDate": (txn_date + timedelta(days=30)).isoformat(),
                "TotalAmt": total,
                "ApplyTaxAfterDiscount": False,
                "PrintStatus": "NotSet" if row.emailed else "NeedToPrint",
                "EmailStatus": "EmailSent" if row.emailed else "NotSet",
            }
        )
        if "PrimaryEmailAddr" in customer:
            record["BillEmail"] = dict(customer["PrimaryEmailAddr"])
        record["Balance"] = _ZERO if row.paid else total
        if row.paid:
            _seed_payment(books, record, customer, row.days_ago - 3)


def _invoice_lines(books: _Books, row: _Invoice) -> tuple[list[Record], Decimal]:
    """A seeded invoice's sales lines (non-taxable) and its subtotal line; and its total."""
    lines: list[Record] = []
    total = _ZERO
    for line_number, (item_name, qty_text, price_text) in enumerate(row.lines, start=1):
        item = books.items[item_name]
        qty, price = Decimal(qty_text), Decimal(price_text)
        amount = (qty * price).quantize(_CENT)
        total += amount
        detail: Record = {
            "ItemRef": _ref(item),
            "UnitPrice": price,
            "Qty": qty,
            "ItemAccountRef": dict(item["IncomeAccountRef"]),
            "TaxCodeRef": {"value": "NON"},
        }
        line: Record = {"Id": str(line_number), "LineNum": line_number}
        if "Description" in item:
            line["Description"] = item["Description"]
        line.update(
            {
                "Amount": amount,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": detail,
            }
        )
        lines.append(line)
    lines.append({"Amount": total, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
    return lines, total


def _seed_payment(books: _Books, invoice: Record, customer: Record, days_ago: int) -> None:
    """The payment that paid a seeded invoice in full, into Undeposited Funds, on the day the
    invoice was last changed (its payment is what changed it)."""
    payment = books.new("Payment", days_ago * _DAY)
    payment.update(
        {
            "CustomerRef": _ref(customer),
            "DepositToAccountRef": _ref(books.accounts["Undeposited Funds"]),
            "TotalAmt": invoice["TotalAmt"],
            "UnappliedAmt": _ZERO,
            "ProcessPayment": False,
            "TxnDate": books.date(days_ago).isoformat(),
            "CurrencyRef": _usd(),
            "Line": [
                {
                    "Amount": invoice["TotalAmt"],
                    "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}],
                }
            ],
        }
    )
    invoice["LinkedTxn"] = [{"TxnId": payment["Id"], "TxnType": "Payment"}]


# Company kinds: locale, preferences and sales tax (FACTS §11) ------------------------------


class _Kind(NamedTuple):
    country: str  # CompanyInfo.Country
    name: str
    address: tuple[str, str, str, str, str]  # Line1, City, CountrySubDivisionCode, Postal, ISO-3
    phone: str
    currency: tuple[str, str]  # ISO code, name
    tax_prefs: dict[str, Any]
    agencies: tuple[str, ...]  # TaxAgency DisplayNames, Ids from 1
    places: tuple[tuple[str, str, str], ...]  # (City, CountrySubDivisionCode, PostalCode)
    rates: tuple[tuple[str, str, int], ...]  # TaxRate (Name, RateValue, agency number)
    #: TaxCode (Id or None for the next number, Name, Taxable, rate numbers)
    codes: tuple[tuple[str | None, str, bool, tuple[int, ...]], ...]


DEFAULT_KIND = "us-ast"
_US_ADDRESS = ("123 Sierra Way", "San Pablo", "CA", "87999", "USA")
_US_CODES: tuple[tuple[str | None, str, bool, tuple[int, ...]], ...] = (
    ("TAX", "TAX", True, ()),
    ("NON", "NON", False, ()),
)
#: The sandbox's standard payment terms (Id, Name, DueDays), the same in every kind. Net 30 is
#: Id 3 as in the recorded invoice (samples/recorded/nango_2026/get-invoice); the other ids are
#: [unverified] choices.
TERMS: tuple[tuple[str, str, int], ...] = (
    ("1", "Due on receipt", 0),
    ("2", "Net 15", 15),
    ("3", "Net 30", 30),
    ("4", "Net 60", 60),
    ("5", "Net 10", 10),
)
#: The payment methods a new QBO company starts with (Id, Name, Type), the same in every kind. The
#: names and types are QBO's (Type CREDIT_CARD or NON_CREDIT_CARD); the ids and the order are
#: [unverified]: the emulator's choice.
PAYMENT_METHODS: tuple[tuple[str, str, str], ...] = (
    ("1", "Cash", "NON_CREDIT_CARD"),
    ("2", "Check", "NON_CREDIT_CARD"),
    ("3", "Visa", "CREDIT_CARD"),
    ("4", "MasterCard", "CREDIT_CARD"),
    ("5", "Discover", "CREDIT_CARD"),
    ("6", "American Express", "CREDIT_CARD"),
    ("7", "Diners Club", "CREDIT_CARD"),
)

KINDS: dict[str, _Kind] = {
    # AST: QBO owns the rates (figured from the ship-to address); the API shows only the
    # pseudo-codes TAX and NON ([unverified] that an AST company lists no other TaxCode). The
    # rates are the emulator's own table (books.AST_RATES), as TaxRate records an invoice's
    # TaxLine can point at.
    "us-ast": _Kind(
        "US", "Sandbox Company_US_1", _US_ADDRESS, "(650) 555-0100",
        ("USD", "United States Dollar"),
        {"UsingSalesTax": True, "PartnerTaxEnabled": True}, ast_agencies(), (), ast_rates(),
        _US_CODES,
    ),
    # Manual US sales tax as the sandbox has it: "California" (rate 3, 8 %, as the recorded
    # invoice shows) and the group "Tucson" = Arizona state 5.6 % + Tucson city 2.6 %.
    "us-manual": _Kind(
        "US", "Sandbox Company_US_1", _US_ADDRESS, "(650) 555-0100",
        ("USD", "United States Dollar"),
        {"UsingSalesTax": True, "TaxGroupCodeRef": {"value": "3"}},
        ("Arizona Dept. of Revenue", "Board of Equalization"), (),
        (("AZ State tax", "5.6", 1), ("Tucson City", "2.6", 1), ("California", "8", 2)),
        (*_US_CODES, ("2", "California", True, (3,)), ("3", "Tucson", True, (1, 2))),
    ),
    "ca": _Kind(
        "CA", "Sandbox Company_CA_1", ("100 King Street West", "Toronto", "ON", "M5X 1A9", "CAN"),
        "(416) 555-0100", ("CAD", "Canadian Dollar"), {"UsingSalesTax": True},
        ("Canada Revenue Agency",),
        (("Toronto", "ON", "M5V 2T6"), ("Ottawa", "ON", "K1P 5J9"), ("Hamilton", "ON", "L8P 4R5"),
         ("Mississauga", "ON", "L5B 3C2"), ("London", "ON", "N6A 3K7")),
        (("GST", "5", 1), ("HST ON", "13", 1), ("Zero-rated", "0", 1), ("Exempt", "0", 1)),
        ((None, "GST", True, (1,)), (None, "HST ON", True, (2,)),
         (None, "Zero-rated", True, (3,)), (None, "Exempt", False, (4,))),
    ),
    "uk": _Kind(
        "GB", "Sandbox Company_GB_1", ("10 Downing Lane", "London", "", "SW1A 2AA", "GBR"),
        "020 7946 0100", ("GBP", "British Pound Sterling"), {"UsingSalesTax": True},
        ("HM Revenue & Customs",),
        (("London", "", "EC1A 1BB"), ("Manchester", "", "M1 1AE"), ("Bristol", "", "BS1 4DJ"),
         ("Leeds", "", "LS1 4AP"), ("Birmingham", "", "B1 1BB")),
        (("20.0% S", "20", 1), ("5.0% R", "5", 1), ("0.0% Z", "0", 1), ("Exempt", "0", 1)),
        ((None, "20.0% S", True, (1,)), (None, "5.0% R", True, (2,)),
         (None, "0.0% Z", True, (3,)), (None, "Exempt", False, (4,))),
    ),
    "au": _Kind(
        "AU", "Sandbox Company_AU_1", ("1 George Street", "Sydney", "NSW", "2000", "AUS"),
        "(02) 5550 0100", ("AUD", "Australian Dollar"), {"UsingSalesTax": True},
        ("Australian Taxation Office",),
        (("Sydney", "NSW", "2000"), ("Melbourne", "VIC", "3000"), ("Brisbane", "QLD", "4000"),
         ("Perth", "WA", "6000"), ("Adelaide", "SA", "5000")),
        (("GST", "10", 1), ("GST-free", "0", 1)),
        ((None, "GST", True, (1,)), (None, "GST-free", False, (2,))),
    ),
}  # fmt: skip


def _move(
    address: Record,
    places: dict[tuple[str, str], tuple[str, str, str]],
    pool: tuple[tuple[str, str, str], ...],
    country: str,
) -> None:
    """Move a US address to a place in the kind's country: the same US city always lands in the
    same place, so a customer's addresses and its invoices' copies of them still agree."""
    if "City" not in address:
        return
    key = (address["City"], address.get("CountrySubDivisionCode", ""))
    place = places.setdefault(key, pool[len(places) % len(pool)])
    city, region, postal = place
    address.update({"City": city, "PostalCode": postal})
    if region:
        address["CountrySubDivisionCode"] = region
    else:
        address.pop("CountrySubDivisionCode", None)
    if "Country" in address:
        address["Country"] = country
    address.pop("Lat", None)  # the US coordinates would be wrong
    address.pop("Long", None)


def _relocate(books: _Books, kind: _Kind) -> None:
    """Move a US company abroad: its CompanyInfo, the currency of every record, and the cities
    of its customers', vendors' and employees' addresses."""
    info = books.company_info[0]
    line1, city, region, postal, country = kind.address
    for key in ("CompanyAddr", "CustomerCommunicationAddr", "LegalAddr"):
        address = info[key]
        address.update({"Line1": line1, "City": city, "PostalCode": postal})
        address["Country"] = country
        if region:
            address["CountrySubDivisionCode"] = region
        else:
            address.pop("CountrySubDivisionCode", None)
    info.update(
        {"CompanyName": kind.name, "LegalName": kind.name, "Country": kind.country,
         "PrimaryPhone": {"FreeFormNumber": kind.phone}}
    )  # fmt: skip
    code, currency = kind.currency
    places: dict[tuple[str, str], tuple[str, str, str]] = {}
    for table in books.tables.values():
        for record in table:
            if "CurrencyRef" in record:
                record["CurrencyRef"] = {"value": code, "name": currency}
            for key in ("BillAddr", "ShipAddr", "PrimaryAddr"):
                if key in record:
                    _move(record[key], places, kind.places, country)


def _localise(books: _Books, kind_name: str) -> None:
    """Make the sandbox books a company of this kind: who and where it is, its currency, its
    Preferences and its sales-tax lists."""
    kind = KINDS.get(kind_name)
    if kind is None:
        raise ValueError(f"unknown company kind {kind_name!r}; one of {', '.join(KINDS)}")
    if kind.country != "US":
        _relocate(books, kind)
    made = books.ts(_SANDBOX_AGE + 4 * _DAY)

    def new(rid: str, **fields: Any) -> Record:
        return {
            "domain": "QBO", "sparse": False, "Id": rid, "SyncToken": "0",
            "MetaData": {"CreateTime": made, "LastUpdatedTime": made}, **fields,
        }  # fmt: skip

    agencies = [
        new(str(n), DisplayName=name, TaxTrackedOnSales=True, TaxTrackedOnPurchases=False)
        for n, name in enumerate(kind.agencies, 1)
    ]
    rates = [
        new(
            str(n), Name=name, Description=name, Active=True, RateValue=Decimal(value),
            AgencyRef={"value": str(agency)}, SpecialTaxType="NONE", DisplayType="ReadOnly",
        )
        for n, (name, value, agency) in enumerate(kind.rates, 1)
    ]  # fmt: skip
    codes = _tax_code_records(kind, new)
    code, _ = kind.currency
    preferences = new(
        "1",
        SalesFormsPrefs={
            "CustomTxnNumbers": False, "AllowDuplicateDocNum": False, "AllowDiscount": True,
        },
        CurrencyPrefs={"MultiCurrencyEnabled": False, "HomeCurrency": {"value": code}},
        TaxPrefs=dict(kind.tax_prefs),
        ProductAndServicesPrefs={"QuantityOnHand": True, "ForSales": True},
    )  # fmt: skip
    terms = [
        new(rid, Name=name, Active=True, Type="STANDARD", DueDays=days)
        for rid, name, days in TERMS
    ]  # fmt: skip
    methods = [
        new(rid, Name=name, Active=True, Type=kind_of) for rid, name, kind_of in PAYMENT_METHODS
    ]
    books.extra.update(
        {"Preferences": [preferences], "TaxAgency": agencies, "TaxRate": rates, "TaxCode": codes,
         "Term": terms, "PaymentMethod": methods}
    )  # fmt: skip
    _tax_codes(books, kind, codes)


def _tax_code_records(kind: _Kind, new: Callable[..., Record]) -> list[Record]:
    """The kind's TaxCode list, each code with the rates it charges (``new`` makes a record)."""
    codes = []
    for n, (rid, name, taxable, rate_numbers) in enumerate(kind.codes, 1):
        fields: Record = {"Name": name, "Description": name, "Active": True, "Hidden": False,
                          "Taxable": taxable, "TaxGroup": len(rate_numbers) > 1}  # fmt: skip
        if rate_numbers:
            details = [
                {"TaxRateRef": {"value": str(r), "name": kind.rates[r - 1][0]},
                 "TaxTypeApplicable": "TaxOnAmount", "TaxOrder": 0}
                for r in rate_numbers
            ]  # fmt: skip
            fields["SalesTaxRateList"] = {"TaxRateDetail": details}
            if kind.country != "US":  # [unverified] purchases taxed at the same rate records
                fields["PurchaseTaxRateList"] = {"TaxRateDetail": copy.deepcopy(details)}
        codes.append(new(rid or str(n), **fields))
    return codes


def _tax_codes(books: _Books, kind: _Kind, codes: list[Record]) -> None:
    """Give customers and invoices the kind's own tax codes. A customer's DefaultTaxCodeRef "2"
    (the US sandbox's California) stays only in the manual US kind; abroad it becomes the
    standard-rate code (Id 1). Invoices abroad put every line on the standard-rate code with the
    tax included in the amounts ([unverified]: the emulator's choice, which keeps the seeded
    totals and so the customers' balances those of the US sandbox), figured as any invoice is."""
    ids = {code["Id"] for code in codes}
    for customer in books.tables["Customer"]:
        ref = customer.get("DefaultTaxCodeRef")
        if ref is None or ref["value"] in ids:
            continue
        if kind.country == "US":
            del customer["DefaultTaxCodeRef"]
        else:
            customer["DefaultTaxCodeRef"] = {"value": "1"}
    if kind.country == "US":
        return
    records: dict[str, dict[str, Record]] = {
        entity: {row["Id"]: row for row in rows} for entity, rows in books.extra.items()
    }
    records["CompanyInfo"] = {"1": books.company_info[0]}
    for invoice in books.tables["Invoice"]:
        for line in invoice["Line"]:
            if line["DetailType"] == "SalesItemLineDetail":
                line["SalesItemLineDetail"]["TaxCodeRef"] = {"value": "1"}
        invoice["GlobalTaxCalculation"] = "TaxInclusive"
        figures = figure(records, invoice, invoice["Line"], {})
        assert figures.total == invoice["TotalAmt"], "tax included: the total stays the same"
        invoice["TxnTaxDetail"] = figures.tax_detail


# Public API ----------------------------------------------------------------------------------


def _sandbox(ts: Timestamp) -> _Books:
    books = _Books(ts)
    # Address Ids in the sandbox's order: the company's is 1, Amy's Bird Sanctuary's 2, ...
    _seed_company_info(books)
    _seed_accounts(books)
    _seed_customers(books)
    _seed_items(books)
    owed = _seed_vendors(books)
    _seed_employees(books)
    _seed_invoices(books)
    # Liabilities as the 2026 recording shows A/P: the amount owed, negative.
    _set_balance(books.accounts["Accounts Payable (A/P)"], -owed)
    _set_balance(
        books.accounts["Accounts Receivable (A/R)"],
        sum((c["Balance"] for c in books.tables["Customer"]), _ZERO),
    )
    _set_balance(books.accounts["Inventory Asset"], _stock_value(books.tables["Item"]))
    _roll_up_accounts(books)
    return books


def _stock_value(items: Sequence[Record]) -> Decimal:
    total = _ZERO
    for item in items:
        if item["Type"] == "Inventory":
            total += item["QtyOnHand"] * item["PurchaseCost"]
    return total.quantize(_CENT)


def sandbox_company(ts: Timestamp, kind: str = DEFAULT_KIND) -> Company:
    """Intuit's "Sandbox Company_US_1": 90 accounts, 29 customers, 22 items (the sandbox's 18
    plus a small category tree), 26 vendors, 2 employees, 8 invoices, the 2 payments that paid
    two of them, and CompanyInfo.

    Returns ``{"Account": [...], "Customer": [...], "Item": [...], "Vendor": [...],
    "Employee": [...], "Invoice": [...], "Payment": [...], "CompanyInfo": [one record with Id
    "1"]}``, each list in Id order, plus ``Preferences`` (one record), ``TaxAgency``, ``TaxRate``
    and ``TaxCode`` for the company ``kind`` (one of ``KINDS``; an entity with no records is left
    out), and the ``Term`` and ``PaymentMethod`` lists. Every call builds new records.
    """
    books = _sandbox(ts)
    _localise(books, kind)
    return books.finish()


def generate(
    customers: int, items: int, *, ts: Timestamp, seed: int = 1, kind: str = DEFAULT_KIND
) -> Company:
    """The sandbox company with ``customers`` and ``items`` more generated records appended.

    Ids continue each sequence; the result is the same for the same arguments (and the same
    ``ts``). Sub-customers count towards ``customers`` and categories towards ``items``.
    Accounts Receivable and Inventory Asset are updated to include the new balances and stock.

    Generated customers, at these approximate rates (``CUSTOMER_RATES``):

    * 8% jobs (sub-customers, Level 1) of an earlier active generated customer, named after a
      street address or a project; BillWithParent on about half of them;
    * 3% inactive: ``Active`` false, balance 0, " (deleted)" appended to DisplayName and
      FullyQualifiedName as QBO does;
    * 4% with an apostrophe ("O'Brien Landscaping", "Karen's Bakery"), 4% with an ampersand
      ("Smith & Sons"), 4% with accented letters ("Café Olé", "Zoë Müller");
    * 5% near-duplicates of an earlier name ("John Smith Jr.", "Smith, John", "J. Smith",
      "Smith & Sons, LLC"); of the people, 8% are written "Last, First" and 22% carry a middle
      initial. DisplayName stays unique case-insensitively across customers, vendors and
      employees: a taken name is drawn again, then told apart as people do (a middle initial,
      " - Tucson", " #12", a job's " - Novak"), and only what still clashes becomes "Name (2)";
    * notes on 11%, and notes over 1,000 characters on 1%;
    * e-mail 70%, phone 75%, mobile 15%, fax 3%, a website on 20% of businesses; a billing
      address on 80%, with the same shipping address (same Id) on 55% of those and a different
      one on 12%; taxable 35% (with DefaultTaxCodeRef "2" in the manual US kind, "1" abroad,
      none under automated sales tax); an open balance on 40% of the active ones.

    Generated items, at these approximate rates (``ITEM_RATES``):

    * types: 4% Category, 15% Inventory, 30% NonInventory, the rest Service; 20% of items sit
      under a category (SubItem, ParentRef, Level, "Parent:Child" FullyQualifiedName);
    * 10% of services and non-inventory items have no ``UnitPrice`` at all;
    * 4% inactive with " (deleted)" appended to Name (inactive stock has quantity 0);
    * 3% each with an apostrophe ("Gardener's Twine"), an ampersand ("Weed & Feed") or accents
      ("Piñon Mulch"); names may contain inch marks. Name is unique case-insensitively: a
      taken name is drawn again, and what still clashes becomes "Name (2)";
    * purchase details and an expense account on 40% of non-inventory items, a Sku on 30%,
      taxable 50%.
    """
    if customers < 0 or items < 0:
        raise ValueError("customers and items must be zero or more")
    if kind not in KINDS:
        raise ValueError(f"unknown company kind {kind!r}; one of {', '.join(KINDS)}")
    books = _sandbox(ts)
    rng = _Rng(seed)
    with _no_collector():
        receivable = _generate_customers(books, rng, customers)
        _generate_items(books, rng, items)
    ar = books.accounts["Accounts Receivable (A/R)"]
    _set_balance(ar, ar["CurrentBalance"] + receivable)
    _set_balance(books.accounts["Inventory Asset"], _stock_value(books.tables["Item"]))
    _localise(books, kind)
    return books.finish()


@contextlib.contextmanager
def _no_collector() -> Iterator[None]:
    """The garbage collector off for a while: the records hold no reference cycles, so its
    passes over the growing heap while 100,000 of them are built would only cost time (about a
    tenth of it)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


# Generation pools ----------------------------------------------------------------------------
# Plain pools hold no apostrophes, ampersands or accents, so the awkward cases come only from
# their own pools, at the documented rates.

_FIRST = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William",
    "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty", "Mark",
    "Margaret", "Paul", "Sandra", "Steven", "Ashley", "Andrew", "Kimberly", "Kenneth", "Emily",
    "Joshua", "Donna", "Kevin", "Michelle", "Brian", "Carol", "George", "Amanda", "Tim", "Wei",
    "Priya", "Hiroshi", "Aisha", "Omar", "Mei", "Raj", "Fatima", "Carlos", "Ngozi", "Ivan",
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Ethan", "Sophia", "Mason", "Isabella", "Logan",
    "Mia", "Lucas", "Harper", "Jackson", "Evelyn", "Aiden", "Abigail", "Grace", "Henry",
    "Chloe", "Samuel", "Victoria", "Owen", "Hannah", "Gabriel", "Nora", "Julian", "Leah",
    "Diego", "Yuki", "Anika", "Tariq", "Lin", "Sven", "Ingrid", "Kwame", "Rosa", "Dmitri",
)  # fmt: skip
_LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Patel", "Kim", "Chen", "Okafor",
    "Yamamoto", "Kowalski", "Schmidt", "Rossi", "Novak", "Larsen", "Evans", "Edwards",
    "Collins", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan", "Peterson", "Cooper",
    "Reed", "Bailey", "Bell", "Gomez", "Kelly", "Howard", "Ward", "Cox", "Diaz", "Richardson",
    "Wood", "Watson", "Brooks", "Bennett", "Gray", "James", "Reyes", "Cruz", "Hughes", "Price",
    "Myers", "Long", "Foster", "Sanders", "Ross", "Morales", "Powell", "Sullivan", "Russell",
    "Ortiz", "Jenkins", "Gutierrez", "Perry", "Butler", "Barnes", "Fisher", "Henderson",
    "Coleman", "Simmons", "Patterson", "Jordan", "Reynolds", "Hamilton", "Graham", "Wallace",
    "Tanaka", "Singh", "Ali", "Ivanova", "Haddad", "Mensah", "Lindqvist", "Moreau", "Bianchi",
)  # fmt: skip
_APOSTROPHE_LAST = ("O'Brien", "O'Connor", "D'Angelo", "O'Neill", "D'Souza", "O'Hara", "L'Amour")
_ACCENT_FIRST = (
    "Zoë", "José", "Renée", "Chloé", "André", "Björn", "Søren", "Inés", "François", "Łukasz",
    "Siân", "Noémie", "Jürgen", "Ana María",
)  # fmt: skip
_ACCENT_LAST = (
    "Müller", "Núñez", "García", "Lefèvre", "Øberg", "Ångström", "Dvořák", "Sánchez",
    "Kovačević", "Šimková", "Gómez", "Jäger", "Çelik", "Þórsson",
)  # fmt: skip
_ACCENT_COMPANIES = (
    "Café Olé", "Crème de la Crème Bakery", "Jardinería Núñez", "Pâtisserie Lefèvre",
    "Müller Gartenbau", "Señor Piñata Party Rentals", "Bodega Peña", "Smørrebrød Deli",
    "Ñandú Imports", "Île de Beauté Spa", "Über Lawn Co.", "Zoë's Crêperie",
)  # fmt: skip
_TRADES = (
    "Landscaping", "Plumbing", "Roofing", "Electric", "Construction", "Painting", "Bakery",
    "Dental", "Auto Repair", "Pool Service", "Tree Care", "Hardware", "Catering", "Florist",
    "Fitness", "Realty", "Pet Grooming", "Cleaning", "Design Studio", "Coffee Roasters",
    "Vineyards", "Farms", "Nursery", "Masonry", "Fencing", "Irrigation", "Cabinetry", "Flooring",
)  # fmt: skip
_ADJECTIVES = (
    "Blue Sky", "Green Valley", "Golden Gate", "Silver Creek", "Red Oak", "Evergreen", "Summit",
    "Harbor", "Pinnacle", "Cedar Ridge", "Sunrise", "Lakeside", "Mountain View", "Prairie",
    "Coastal", "Northstar", "Riverbend", "Maple Leaf", "Desert Rose", "Stonebridge",
)  # fmt: skip
_SUFFIXES = ("Inc.", "LLC", "Co.", "Corp.", "Group", "Partners", "Ltd.", "Services")
_STREETS = (
    "Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Sunset",
    "Park", "Ocean View", "Willow", "Birch", "Highland", "Meadow", "Ridge", "Valley", "Mission",
    "El Camino", "Orchard", "Canyon", "Bayshore", "Juniper",
)  # fmt: skip
_STREET_KINDS = ("St.", "Ave.", "Road", "Blvd.", "Lane", "Dr.", "Way", "Ct.", "Pl.")
_PLACES = (
    ("Palo Alto", "CA", "94303"), ("Menlo Park", "CA", "94025"), ("San Jose", "CA", "95112"),
    ("Half Moon Bay", "CA", "94019"), ("Tucson", "AZ", "85719"), ("Phoenix", "AZ", "85004"),
    ("Maplewood", "NJ", "07040"), ("South Orange", "NJ", "07079"), ("Austin", "TX", "78701"),
    ("Portland", "OR", "97205"), ("Seattle", "WA", "98101"), ("Denver", "CO", "80202"),
    ("Boise", "ID", "83702"), ("Reno", "NV", "89501"), ("Santa Fe", "NM", "87501"),
    ("Boston", "MA", "02108"), ("Burlington", "VT", "05401"), ("Miami", "FL", "33130"),
)  # fmt: skip
_PROJECTS = (
    "Backyard Renovation", "Front Yard Refresh", "Spring Cleanup", "Fall Cleanup",
    "Irrigation Upgrade", "Patio Install", "Retaining Wall", "Drainage Fix", "Tree Removal",
    "Holiday Lighting", "Pool Landscaping", "Weekly Maintenance", "Sod Replacement",
)  # fmt: skip
_NOTE_SENTENCES = (
    "Gate code is #4821; ring twice before entering.",
    "Large dog in the back yard \u2014 friendly, but keep the side gate closed.",
    'Prefers invoices by e-mail; the PO number must appear in the memo ("PO-" + 6 digits).',
    "Sprinkler controller is in the garage, left of the water heater.",
    "Do not mow before 9 am on weekends (HOA rule 12.3).",
    "Customer asked for organic fertilizer only; no glyphosate anywhere on the property.",
    "Billing contact changed in March; the old address still receives statements.",
    "Net 15 agreed by phone with the owner; confirm in writing at the next visit.",
    "Parking is tight: use the alley behind the building & leave the trailer on the street.",
    "Tenant-occupied; schedule work through the property manager at least 48 hours ahead.",
    "Owner travels in summer \u2014 water the new plantings twice a week while they're away.",
    "Disputed the March invoice (wrong square footage); credit issued, see memo.",
)
_EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com")
_MAILBOXES = ("info", "office", "billing", "ap")
_AREA_CODES = ("650", "415", "408", "520", "602", "973", "512", "503", "206", "303", "617")

_MATERIALS = (
    "Cedar", "Redwood", "Pine Bark", "Cypress", "River Rock", "Pea Gravel", "Flagstone",
    "Slate", "Granite", "Lava Rock", "Bluestone", "Travertine", "Brick", "Bermuda", "Fescue",
    "Zoysia", "Boxwood", "Lavender", "Rosemary", "Japanese Maple", "Oak", "Birch", "Hydrangea",
    "Azalea", "Tulip", "Daffodil", "Copper", "Brass", "PVC", "Galvanized", "Stainless",
    "Compost", "Topsoil", "Peat Moss", "Perlite", "Bamboo", "Teak", "Terracotta", "Basalt",
    "Cobblestone", "Clover", "Succulent", "Fern", "Juniper", "Magnolia",
)  # fmt: skip
_FORMS = (
    "Mulch", "Pavers", "Edging", "Planter", "Bench", "Trellis", "Border", "Sod Roll",
    "Seed Mix", "Sapling", "Shrub", "Bulbs", "Valve", "Fitting", "Emitter", "Timer", "Nozzle",
    "Hose", "Pipe", "Stakes", "Fabric", "Lantern", "Path Light", "Birdbath", "Fountain Kit",
    "Bag", "Bale", "Pallet", "Stepping Stone", "Arbor",
)  # fmt: skip
_SIZES = (
    "", " - 1 gal", " - 5 gal", " - 2 cu ft", ' 12"', ' 18"', ' 1/2"', ' 3/4"', " - 50 lb",
    " - Small", " - Large", " (10 pack)", " (case of 24)", " - 3 ft", " - 6 ft",
)  # fmt: skip
_SERVICES = (
    "Aeration", "Dethatching", "Hedge Trimming", "Leaf Removal", "Snow Plowing",
    "Tree Removal", "Stump Grinding", "Irrigation Repair", "Sprinkler Winterization",
    "Lawn Mowing", "Weed Control", "Fertilization", "Consultation", "Site Survey",
    "Drainage Work", "Hardscape Labor", "Planting Labor", "Mulching", "Power Washing",
    "Gutter Cleaning", "Pond Cleaning", "Overseeding", "Soil Testing", "Landscape Design",
)  # fmt: skip
_SERVICE_KINDS = (
    "", " - Residential", " - Commercial", " - Hourly", " - Per Visit", " - Weekend",
    " (Emergency)", " - Monthly Plan", " - Annual Contract", " - Half Day",
)  # fmt: skip
_APOSTROPHE_ITEMS = (
    "Gardener's Twine", "Builder's Sand", "Farmer's Blend Seed", "Mother's Day Planter",
    "Miner's Lettuce", "Shepherd's Hook", "Mason's Line", "Nature's Best Compost",
)  # fmt: skip
_AMPERSAND_ITEMS = (
    "Weed & Feed", "Trim & Edge", "Sand & Gravel Mix", "Rake & Haul", "Cut & Clear",
    "Seed & Straw", "Pick & Shovel Rental", "Stake & Tie Kit",
)  # fmt: skip
_ACCENT_ITEMS = (
    "Piñon Mulch", "Crème Planter", "Jalapeño Seedlings", "Café Table Set", "Façade Cleaning",
    "Señorita Rose", "Pétanque Gravel", "Öland Limestone", "Château Trellis", "Açaí Palm",
)  # fmt: skip
_UNITS = (
    "sold each", "per hour", "per visit", "per square foot", "per cubic yard", "installed",
    "delivered",
)  # fmt: skip
_CATEGORY_KINDS = ("", "", "Commercial ", "Residential ", "Premium ", "Bulk ", "Wholesale ")
_CATEGORIES = (
    "Hardscape", "Irrigation Supplies", "Plants", "Soils and Amendments", "Outdoor Lighting",
    "Tools", "Seasonal", "Water Features", "Equipment Rental", "Maintenance Plans", "Trees",
    "Fencing", "Decking", "Pest Management",
)  # fmt: skip


# Customer generation -------------------------------------------------------------------------


class _Name(NamedTuple):
    display: str
    given: str | None = None
    family: str | None = None
    company: str | None = None
    middle: str | None = None


def _letter(rng: _Rng) -> str:
    return chr(rng.between(ord("A"), ord("Z") + 1))


def _person(first: str, last: str, rng: _Rng) -> _Name:
    roll = rng.random()
    if roll < CUSTOMER_RATES["last_first"]:
        return _Name(f"{last}, {first}", first, last)
    if roll < 0.3:  # a middle initial, as people add to tell namesakes apart
        middle = _letter(rng)
        return _Name(f"{first} {middle}. {last}", first, last, middle=middle)
    return _Name(f"{first} {last}", first, last)


def _company(name: str, rng: _Rng) -> _Name:
    if rng.random() < 0.5:  # half the businesses have a contact person on file
        return _Name(name, rng.pick(_FIRST), rng.pick(_LAST), name)
    return _Name(name, company=name)


def _variant(base: _Name, rng: _Rng) -> _Name:
    """A name that looks like an earlier one but is not the same."""
    if base.company is None and base.given and base.family:
        first, last = base.given, base.family
        display = rng.pick(
            (
                f"{first} {last} Jr.",
                f"{first} {last} Sr.",
                f"{first} {last} II",
                f"{last}, {first}",
                f"{first[0]}. {last}",
                f"Dr. {first} {last}",
                f"{first} {last} (Rental)",
            )
        )
        return _Name(display, first, last)
    company = base.company or base.display
    options = [f"{company} Inc.", f"{company}, LLC", f"The {company}", f"{company} - Billing"]
    if " & " in company:
        options.append(company.replace(" & ", " and "))
    display = rng.pick(options)
    return _Name(display, base.given, base.family, display)


def _apostrophe_name(rng: _Rng) -> _Name:
    pick = rng.random()
    if pick < 0.5:
        return _company(f"{rng.pick(_APOSTROPHE_LAST)} {rng.pick(_TRADES)}", rng)
    if pick < 0.75:
        return _company(f"{rng.pick(_FIRST)}'s {rng.pick(_TRADES)}", rng)
    return _person(rng.pick(_FIRST), rng.pick(_APOSTROPHE_LAST), rng)


def _ampersand_name(rng: _Rng) -> _Name:
    last = rng.pick(_LAST)
    patterns = (
        f"{last} & Sons",
        f"{last} & Daughters",
        f"{last} & {rng.pick(_LAST)}",
        f"{rng.pick(_ADJECTIVES)} Lawn & Garden",
        f"{last} Heating & Air",
    )
    return _company(rng.pick(patterns), rng)


def _accent_name(rng: _Rng) -> _Name:
    pick = rng.random()
    if pick < 0.2:
        return _company(rng.pick(_ACCENT_COMPANIES), rng)
    if pick < 0.4:
        return _company(f"{rng.pick(_ACCENT_LAST)} {rng.pick(_TRADES)}", rng)
    return _person(rng.pick(_ACCENT_FIRST), rng.pick(_ACCENT_LAST), rng)


_AWKWARD_NAMES: tuple[tuple[str, Callable[[_Rng], _Name]], ...] = (
    ("apostrophe", _apostrophe_name),
    ("ampersand", _ampersand_name),
    ("accent", _accent_name),
)


def _plain_name(rng: _Rng) -> _Name:
    if rng.random() < 0.55:
        return _person(rng.pick(_FIRST), rng.pick(_LAST), rng)
    trade = rng.pick(_TRADES)
    pattern = rng.between(0, 4)
    if pattern == 0:
        return _company(f"{rng.pick(_LAST)} {trade}", rng)
    if pattern == 1:
        return _company(f"{rng.pick(_ADJECTIVES)} {trade}", rng)
    if pattern == 2:
        return _company(f"{rng.pick(_ADJECTIVES)} {trade} {rng.pick(_SUFFIXES)}", rng)
    return _company(f"{rng.pick(_PLACES)[0]} {trade}", rng)


def _distinguish(name: _Name, rng: _Rng) -> _Name:
    """Tell a name from its namesake as people do: a middle initial, a location, a store number.
    Whatever still clashes afterwards becomes "Name (2)"."""
    if name.company is None and name.given and name.family:
        middle = _letter(rng)
        return _Name(f"{name.given} {middle}. {name.family}", name.given, name.family, None, middle)
    if rng.random() < 0.5:
        display = f"{name.display} - {rng.pick(_PLACES)[0]}"
    else:
        display = f"{name.display} #{rng.between(2, 100)}"
    return _Name(display, name.given, name.family, display)


def _fresh_name(rng: _Rng, earlier: list[_Name]) -> tuple[_Name, bool]:
    """A customer name, and whether it is an original: a near-duplicate is never the base of
    another, which would give "Smith & Sons Inc. Inc."."""
    roll = rng.random()
    for case, make in _AWKWARD_NAMES:
        if roll < CUSTOMER_RATES[case]:
            return make(rng), True
        roll -= CUSTOMER_RATES[case]
    if roll < CUSTOMER_RATES["near_duplicate"] and earlier:
        return _variant(rng.pick(earlier), rng), False
    return _plain_name(rng), True


def _job_name(rng: _Rng, parent: Record) -> _Name:
    """Jobs are named after the site or the project; contact details are the parent's."""
    if rng.random() < 0.7:
        display = _street(rng)
    else:
        display = f"{rng.pick(_PROJECTS)} {rng.between(2019, 2027)}"
    return _Name(
        display, parent.get("GivenName"), parent.get("FamilyName"), parent.get("CompanyName")
    )


def _email(name: _Name, rng: _Rng) -> str:
    domain = rng.pick(_EMAIL_DOMAINS)
    if name.company is None and name.given and name.family:
        return f"{_slug(name.given)}.{_slug(name.family)}@{domain}"
    return f"{rng.pick(_MAILBOXES)}@{_slug(name.display)}.{domain}"


def _website(name: _Name, display: str, rng: _Rng) -> str | None:
    if name.company is None or rng.random() >= CUSTOMER_RATES["website"]:
        return None
    return f"http://www.{_slug(display)}.example.com"


def _phone(rng: _Rng) -> str:
    return f"({rng.pick(_AREA_CODES)}) 555-{rng.between(0, 10_000):04d}"


def _maybe_phone(rng: _Rng, rate: float) -> str | None:
    return _phone(rng) if rng.random() < rate else None


def _street(rng: _Rng) -> str:
    return f"{rng.between(1, 99_999)} {rng.pick(_STREETS)} {rng.pick(_STREET_KINDS)}"


def _new_address(books: _Books, rng: _Rng) -> Record:
    city, state, postal = rng.pick(_PLACES)
    roll = rng.random()
    return books.address(
        _street(rng),
        city,
        state,
        postal,
        line2=f"Suite {rng.between(100, 999)}" if roll < 0.1 else None,
        country="USA" if roll > 0.7 else None,
    )


def _addresses(books: _Books, rng: _Rng) -> tuple[Record | None, Record | None]:
    """Billing and shipping addresses; the same place keeps the same address Id, as in QBO."""
    rates = CUSTOMER_RATES
    if rng.random() >= rates["bill_address"]:
        return None, None
    bill = _new_address(books, rng)
    roll = rng.random()
    if roll < rates["ship_same"]:
        return bill, dict(bill)
    if roll < rates["ship_same"] + rates["ship_other"]:
        return bill, _new_address(books, rng)
    return bill, None


def _notes(rng: _Rng) -> str | None:
    roll = rng.random()
    if roll < CUSTOMER_RATES["long_note"]:
        sentences: list[str] = []
        while sum(len(sentence) + 1 for sentence in sentences) <= 1_000:
            sentences.append(rng.pick(_NOTE_SENTENCES))
        return "\n".join(sentences)
    if roll < CUSTOMER_RATES["long_note"] + CUSTOMER_RATES["short_note"]:
        return rng.pick(_NOTE_SENTENCES)
    return None


def _next_customer(
    books: _Books, rng: _Rng, parents: list[tuple[Record, int]], earlier: list[_Name]
) -> tuple[_Name, Record | None, int]:
    """The next generated customer's name, its parent if it is a job, and its age."""
    if parents and rng.random() < CUSTOMER_RATES["job"]:
        parent, parent_age = rng.pick(parents)
        name = _job_name(rng, parent)
        if not books.names.free(name.display):  # "Spring Cleanup 2024 - Novak"
            short = parent.get("FamilyName") or parent["DisplayName"].split()[0]
            name = name._replace(display=f"{name.display} - {short}")
        created = rng.between(_MINUTE, max(parent_age, 2 * _MINUTE))  # after its parent
        return name, parent, created
    name, original = _fresh_name(rng, earlier)
    for _attempt in range(5):  # a taken name: draw again, then tell it apart
        if books.names.free(name.display):
            break
        if _attempt < 2:
            name, original = _fresh_name(rng, earlier)
        else:
            name = _distinguish(name, rng)
    if original:
        earlier.append(name)
    return name, None, rng.between(_SANDBOX_AGE, 3 * _YEAR)


def _generate_customers(books: _Books, rng: _Rng, count: int) -> Decimal:
    """Appends ``count`` customers; returns the total of their balances."""
    rates = CUSTOMER_RATES
    parents: list[tuple[Record, int]] = []  # active top-level customers and their ages
    earlier: list[_Name] = []  # original names, bases for near-duplicates
    receivable = _ZERO
    for _ in range(count):
        name, parent, created = _next_customer(books, rng, parents, earlier)
        display = books.names.unique(name.display)
        active = rng.random() >= rates["inactive"]
        balance = _ZERO
        if active and rng.random() < rates["balance"]:
            balance = _cents(rng.between(1_000, 500_000))
        receivable += balance
        bill, ship = _addresses(books, rng)
        taxable = rng.random() < rates["taxable"]
        record = _customer(
            books,
            created,
            created if rng.random() < 0.6 else rng.between(0, created),
            display=display,
            taxable=taxable,
            balance=balance,
            active=active,
            parent=parent,
            bill_with_parent=parent is not None and rng.random() < 0.5,
            bill=bill,
            ship=ship,
            notes=_notes(rng),
            given=name.given,
            middle=name.middle,
            family=name.family,
            company=name.company,
            phone=_maybe_phone(rng, rates["phone"]),
            mobile=_maybe_phone(rng, rates["mobile"]),
            fax=_maybe_phone(rng, rates["fax"]),
            email=_email(name, rng) if rng.random() < rates["email"] else None,
            web=_website(name, display, rng),
            tax_code="2" if taxable else None,  # QBO's default for a taxable customer
        )
        if parent is None and active:
            parents.append((record, created))
    return receivable


# Item generation -----------------------------------------------------------------------------


class _ItemAccounts(NamedTuple):
    service_income: list[Record]
    goods_income: list[Record]
    goods_expense: list[Record]
    labor: Record
    products: Record
    cogs: Record


def _item_accounts(accounts: dict[str, Record]) -> _ItemAccounts:
    job_materials = "Landscaping Services:Job Materials:"
    return _ItemAccounts(
        service_income=[
            accounts[name]
            for name in (
                "Landscaping Services",
                "Landscaping Services:Labor:Installation",
                "Landscaping Services:Labor:Maintenance and Repair",
                "Pest Control Services",
                "Design income",
                "Services",
                "Fees Billed",
            )
        ],
        goods_income=[
            accounts[name]
            for name in (
                f"{job_materials}Decks and Patios",
                f"{job_materials}Fountains and Garden Lighting",
                f"{job_materials}Plants and Soil",
                f"{job_materials}Sprinklers and Drip Systems",
                "Sales of Product Income",
            )
        ],
        goods_expense=[
            accounts[name]
            for name in (
                "Cost of Goods Sold",
                "Purchases",
                "Job Expenses:Job Materials",
                "Job Expenses:Job Materials:Plants and Soil",
                "Job Expenses:Job Materials:Decks and Patios",
            )
        ],
        labor=accounts["Job Expenses:Cost of Labor"],
        products=accounts["Sales of Product Income"],
        cogs=accounts["Cost of Goods Sold"],
    )


def _item_kind(rng: _Rng) -> str:
    roll = rng.random()
    for kind, rate in (
        ("Category", ITEM_RATES["category"]),
        ("Inventory", ITEM_RATES["inventory"]),
        ("NonInventory", ITEM_RATES["non_inventory"]),
    ):
        if roll < rate:
            return kind
        roll -= rate
    return "Service"


def _item_name(rng: _Rng, kind: str) -> str:
    if kind == "Category":
        return f"{rng.pick(_CATEGORY_KINDS)}{rng.pick(_CATEGORIES)}"
    roll = rng.random()
    for case, pool in (
        ("apostrophe", _APOSTROPHE_ITEMS),
        ("ampersand", _AMPERSAND_ITEMS),
        ("accent", _ACCENT_ITEMS),
    ):
        if roll < ITEM_RATES[case]:
            return f"{rng.pick(pool)}{rng.pick(_SIZES)}"
        roll -= ITEM_RATES[case]
    if kind != "Service":
        return f"{rng.pick(_MATERIALS)} {rng.pick(_FORMS)}{rng.pick(_SIZES)}"
    service = f"{rng.pick(_SERVICES)}{rng.pick(_SERVICE_KINDS)}"
    return service if rng.random() < 0.5 else f"{rng.pick(_MATERIALS)} {service}"


class _Pricing(NamedTuple):
    price: Decimal | None
    income: Record
    cost: Decimal | None = None
    expense: Record | None = None
    quantity: Decimal | None = None


def _pricing(rng: _Rng, kind: str, active: bool, accounts: _ItemAccounts) -> _Pricing:
    cents = rng.between(100, 250_000)
    price: Decimal | None = _cents(cents)
    if kind == "Inventory":
        return _Pricing(
            price,
            accounts.products,
            _cents(cents * rng.between(40, 80) // 100),
            accounts.cogs,
            Decimal(rng.between(0, 500)) if active else _ZERO,  # inactive stock is sold out
        )
    if rng.random() < ITEM_RATES["no_price"]:
        price = None
    if kind == "NonInventory":
        income = rng.pick(accounts.goods_income)
        if rng.random() < ITEM_RATES["purchase_info"]:
            cost = _cents(cents * rng.between(30, 90) // 100)
            return _Pricing(price, income, cost, rng.pick(accounts.goods_expense))
        return _Pricing(price, income)
    income = rng.pick(accounts.service_income)
    if rng.random() < 0.05:  # subcontracted services carry a labor cost, like the sandbox's Soil
        return _Pricing(price, income, _cents(cents // 2), accounts.labor)
    return _Pricing(price, income)


def _generate_items(books: _Books, rng: _Rng, count: int) -> None:
    accounts = _item_accounts(books.accounts)
    # QBO nests categories at most four deep, so only those above Level 3 take children.
    categories = [
        item
        for item in books.tables["Item"]
        if item["Type"] == "Category" and item.get("Level", 0) < 3
    ]
    skus = 0
    for _ in range(count):
        kind = _item_kind(rng)
        parent = rng.pick(categories) if rng.random() < ITEM_RATES["sub_item"] else None
        base = _item_name(rng, kind)
        for _attempt in range(2):  # a taken name is drawn again; what still clashes gets "(2)"
            if books.item_names.free(base):
                break
            base = _item_name(rng, kind)
        name = books.item_names.unique(base)
        created = rng.between(_SANDBOX_AGE, 3 * _YEAR)
        updated = created if rng.random() < 0.5 else rng.between(0, created)
        if kind == "Category":
            record = _item(books, created, updated, name=name, kind=kind, parent=parent)
            if record.get("Level", 0) < 3:
                categories.append(record)
            continue
        active = rng.random() >= ITEM_RATES["inactive"]
        pricing = _pricing(rng, kind, active, accounts)
        sku = None
        if rng.random() < ITEM_RATES["sku"]:
            skus += 1
            sku = f"LS-{skus:05d}"
        description = f"{base} \u2014 {rng.pick(_UNITS)}" if rng.random() < 0.8 else None
        _item(
            books,
            created,
            updated,
            name=name,
            kind=kind,
            description=description,
            active=active,
            parent=parent,
            taxable=kind != "Service" and rng.random() < ITEM_RATES["taxable"],
            price=pricing.price,
            income=pricing.income,
            purchase_cost=pricing.cost,
            expense=pricing.expense,
            quantity=pricing.quantity,
            start_date=books.date(created // _DAY).isoformat() if kind == "Inventory" else None,
            sku=sku,
        )
