"""The code the appliance suggests for a JobRoutr tax rate, the untaxed code and the discount
account: same percent first, then the name, never an inactive code; stored when a rate is learned
and again after a tax-code import."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.core.books import Books, TaxModel
from appliance.core.taxes import (
    same_percent,
    suggest_code,
    suggest_discount_account,
    suggest_untaxed,
)
from appliance.storage import taxes
from appliance.storage.books import save_books
from appliance.storage.models import Company, QboTaxCode
from appliance.storage.store import Store
from appliance.storage.types import utcnow


@dataclass(frozen=True)
class Code:
    qbo_id: str
    name: str
    percent: str | None
    active: bool = True
    tax_group: bool = False
    taxable: bool | None = True


@dataclass(frozen=True)
class Account:
    qbo_id: str
    name: str
    account_sub_type: str | None


UK = [
    Code("1", "20.0% S", "20"),
    Code("2", "5.0% R", "5"),
    Code("3", "0.0% Z", "0"),
    Code("4", "Exempt", "0", taxable=False),
]
CA = [
    Code("1", "GST", "5"),
    Code("2", "HST ON", "13"),
    Code("3", "Zero-rated", "0"),
    Code("4", "Exempt", "0", taxable=False),
]
US_MANUAL = [
    Code("TAX", "TAX", None),
    Code("NON", "NON", None, taxable=False),
    Code("2", "California", "8"),
    Code("3", "Tucson", "8.2", tax_group=True),
    Code("5", "Tucson single", "8.20"),
]


def test_the_code_of_the_same_percent_is_suggested() -> None:
    assert suggest_code("VAT 20%", "20", UK) == "1"
    assert suggest_code("Reduced", "5.00", UK) == "2"
    assert suggest_code("HST", "13", CA) == "2"


def test_no_code_of_that_percent_means_no_suggestion() -> None:
    assert suggest_code("Vancouver WA 8.9%", "8.9", US_MANUAL) is None


def test_among_codes_of_one_percent_the_name_most_alike_wins() -> None:
    assert suggest_code("Zero-rated", "0", UK) == "3"  # "Z" begins "Zero"
    assert suggest_code("Zero-rated", "0", CA) == "3"
    assert suggest_code("Exempt sales", "0", CA) == "4"


def test_a_us_manual_company_is_offered_a_single_rate_code_before_a_group() -> None:
    assert suggest_code("Tucson", "8.2", US_MANUAL, one_code_per_invoice=True) == "5"
    # By name alone the group is the better match.
    assert suggest_code("Tucson", "8.2", US_MANUAL) == "3"
    only_group = [c for c in US_MANUAL if c.qbo_id != "5"]
    assert suggest_code("Tucson", "8.2", only_group, one_code_per_invoice=True) == "3"


def test_an_inactive_code_is_never_suggested() -> None:
    codes = [Code("1", "VAT 20%", "20", active=False), Code("9", "Standard", "20")]
    assert suggest_code("VAT 20%", "20", codes) == "9"
    assert suggest_code("VAT 20%", "20", codes[:1]) is None


def test_percents_compare_as_numbers() -> None:
    assert same_percent("8.90", "8.9")
    assert same_percent(None, "0")  # a code with no sales rate charges nothing
    assert not same_percent("8.9", "8.95")
    assert not same_percent("eight", "8")


def test_the_untaxed_code_is_a_non_taxable_one_before_a_zero_rated_one() -> None:
    assert suggest_untaxed(UK) == "4"
    assert suggest_untaxed([c for c in UK if c.qbo_id != "4"]) == "3"
    assert suggest_untaxed([c for c in UK if c.percent != "0"]) is None


def test_the_discount_account_is_one_of_the_discounts_given_subtype() -> None:
    accounts = [
        Account("79", "Sales of Product Income", "SalesOfProductIncome"),
        Account("85", "Refunds", "DiscountsRefundsGiven"),
        Account("86", "Discounts given", "DiscountsRefundsGiven"),
    ]
    assert suggest_discount_account(accounts) == "86"
    assert suggest_discount_account(accounts[:2]) == "85"
    assert suggest_discount_account([Account("7", "Trade discounts", None)]) == "7"
    assert suggest_discount_account(accounts[:1]) is None


def _codes(store: Store, realm: str, codes: list[Code]) -> None:
    with store.session() as session:
        for code in codes:
            session.merge(
                QboTaxCode(
                    realm_id=realm, qbo_id=code.qbo_id, name=code.name, active=code.active,
                    taxable=code.taxable, tax_group=code.tax_group, percent=code.percent,
                )
            )  # fmt: skip
        session.commit()


def test_a_rate_is_learned_with_its_suggestion_and_suggested_anew_after_an_import(
    store: Store,
) -> None:
    realm = "9341453050071776"
    with store.session() as session:
        session.add(Company(realm_id=realm, environment="sandbox", connected_at=utcnow()))
        session.commit()
    save_books(store.engine, Books(realm, "US", TaxModel.US_MANUAL, "USD", False, True, True))
    _codes(store, realm, US_MANUAL)
    rates = [
        {"id": "tuc", "name": "Tucson", "percent": "8.2"},
        {"id": "ca", "name": "CA 8%", "percent": "8"},
        {"id": "wa", "name": "Vancouver WA 8.9%", "percent": "8.9"},
    ]
    assert taxes.learn(store.engine, realm, rates, "evt_1") == ["tuc", "ca", "wa"]
    learned = taxes.mappings(store.engine, realm)
    assert learned["tuc"].suggested_qbo_id == "5"  # one code per invoice: not the group
    assert learned["ca"].suggested_qbo_id == "2"
    assert learned["wa"].suggested_qbo_id is None

    # The next import: the single-rate code is gone, a Vancouver code came.
    _codes(store, realm, [Code("5", "Tucson single", "8.2", active=False), Code("9", "WA", "8.9")])
    assert taxes.resuggest(store.engine, realm) == 2
    again = taxes.mappings(store.engine, realm)
    assert again["tuc"].suggested_qbo_id == "3"
    assert again["wa"].suggested_qbo_id == "9"
    assert taxes.learn(store.engine, realm, rates, "evt_2") == []  # known: nothing new
