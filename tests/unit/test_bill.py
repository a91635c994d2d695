"""The bill's arithmetic at intake (CONTRACT.md section 1, "How JobRoutr figures an invoice"):
any bill built by the contract's rules validates, and the same bill with one figure off by a cent
is refused naming exactly that figure, with the figure it must be."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from appliance.core.events import validate
from tests.harness.bills import bills, document, figure_paths, figured, other_reading
from tests.harness.jobroutr import EXAMPLES, example

CENT = Decimal("0.01")
BILLS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def problems(data: dict[str, Any], **kw: Any) -> dict[str, str]:
    _, _, invalid = validate(document(data), **kw)
    return {p.name: p.reason for p in invalid}


def at(data: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    """The object holding the figure at a path such as data.tax.rates[1].amount, and its key."""
    *parts, key = path.removeprefix("data.").replace("[", ".").replace("]", "").split(".")
    node: Any = data
    for part in parts:
        node = node[int(part)] if part.isdigit() else node[part]
    return node, key


@given(bills())
@BILLS
def test_every_bill_built_by_the_contracts_rules_validates(bill: dict[str, Any]) -> None:
    assert problems(bill) == {}


@given(bills(), st.data())
@BILLS
def test_a_bill_with_one_figure_off_by_a_cent_is_refused_naming_exactly_that_figure(
    bill: dict[str, Any], choice: st.DataObject
) -> None:
    path = choice.draw(st.sampled_from(figure_paths(bill)))
    holder, key = at(bill, path)
    right = Decimal(holder[key])
    step = CENT if right == 0 else choice.draw(st.sampled_from([CENT, -CENT]))
    holder[key] = str(right + step)
    if path.startswith("data.tax.rates["):  # a cent off may be the contract's other reading
        assume(holder[key] != other_reading(bill, int(path.split("[")[1].split("]")[0])))
    found = problems(bill)
    assert list(found) == [path]
    assert found[path].startswith(f"must be {right}: ")


@pytest.mark.parametrize("name", ["invoice.created", "invoice.created.taxed",
                                  "invoice.created.vat", "invoice.updated"])  # fmt: skip
def test_the_contracts_invoice_examples_validate(name: str) -> None:
    doc = example(name)
    _, _, invalid = validate(doc)
    assert invalid == []


def test_the_contracts_examples_are_figured_as_the_harness_figures_them() -> None:
    """The reference arithmetic of the tests agrees with JobRoutr's own examples."""
    paths = sorted(EXAMPLES.glob("invoice.*.json"))
    if not paths:
        pytest.skip(f"the JobRoutr examples are not at {EXAMPLES} (set JOBROUTR_SHARED_DIR)")
    for path in paths:
        data = json.loads(path.read_text())["data"]
        if "lines" in data:
            assert figured(data) == data, path.name


def taxed() -> dict[str, Any]:
    return copy.deepcopy(example("invoice.created.taxed")["data"])


def test_a_wrong_total_names_the_figures_it_is_made_of() -> None:
    bill = taxed()
    bill["totals"]["total"] = "215.09"
    assert problems(bill) == {
        "data.totals.total": "must be 215.08: subtotal 217.50 - discount 20.00 + tax 17.58"
    }


def test_a_wrong_line_amount_says_how_it_is_figured() -> None:
    bill = taxed()
    bill["lines"][1]["amount"] = "72.51"
    assert problems(bill) == {
        "data.lines[1].amount": "must be 72.50: quantity 0.5 x unit price 145.00, "
        "rounded half up to cents"
    }


def test_a_wrong_rate_amount_shows_its_base_and_discount_share() -> None:
    bill = taxed()
    bill["tax"]["rates"][0]["amount"] = "17.57"
    assert problems(bill) == {
        "data.tax.rates[0].amount": "must be 17.58: (lines 217.50 - discount share 20.00) "
        "x 8.9%, rounded half up to cents"
    }


def two_rates(discount: dict[str, Any], mode: str = "exclusive") -> dict[str, Any]:
    return {
        "id": "inv_hand",
        "customer_id": "cus_hand",
        "issue_date": "2026-12-01",
        "lines": [
            {"product_id": "p", "quantity": "1", "unit_price": "10.00", "tax_rate_id": "a"},
            {"product_id": "p", "quantity": "1", "unit_price": "20.01", "tax_rate_id": "b"},
            {"product_id": "p", "quantity": "1", "unit_price": "5.00"},
        ],
        "discount": discount,
        "tax": {
            "mode": mode,
            "rates": [
                {"id": "a", "name": "A", "percent": "10"},
                {"id": "b", "name": "B", "percent": "5"},
            ],
        },
    }


def test_a_before_tax_discount_is_shared_by_the_rates_in_proportion_to_their_lines() -> None:
    # Subtotal 35.01; discount 1.00: rate a's share 1.00 x 10.00 / 35.01 = 0.2856 -> 0.29,
    # rate b's 1.00 x 20.01 / 35.01 = 0.5715 -> 0.57 (the untaxed line keeps the rest).
    # Tax a = (10.00 - 0.29) x 10% = 0.971 -> 0.97; b = (20.01 - 0.57) x 5% = 0.972 -> 0.97.
    bill = two_rates({"amount": "1.00"})
    bill["tax"]["rates"][0]["amount"] = "0.97"
    bill["tax"]["rates"][1]["amount"] = "0.97"
    bill["totals"] = {"subtotal": "35.01", "discount": "1.00", "tax": "1.94", "total": "35.95"}
    for line in bill["lines"]:
        line["amount"] = line["unit_price"]
    assert problems(bill) == {}
    assert figured(bill) == bill


@pytest.mark.parametrize(("tax", "accepted"), [("1.41", True), ("1.40", True), ("1.39", False)])
def test_a_rate_amount_is_accepted_by_either_reading_of_the_discount_share(
    tax: str, accepted: bool
) -> None:
    # Lines 12.34 (taxed at 13%) and 7.77; discount 2.50 before tax. The share is 2.50 x 12.34 /
    # 20.11 = 1.53406...: rounded first, (12.34 - 1.53) x 13% = 1.4053 -> 1.41; left unrounded,
    # (12.34 - 1.53406) x 13% = 1.40477 -> 1.40. The contract rounds once, so both readings are
    # JobRoutr's; a third figure is not.
    bill = {
        "id": "inv_share",
        "customer_id": "cus_1",
        "issue_date": "2026-12-01",
        "lines": [
            {"product_id": "p1", "quantity": "1", "unit_price": "12.34", "amount": "12.34",
             "tax_rate_id": "r13"},
            {"product_id": "p2", "quantity": "1", "unit_price": "7.77", "amount": "7.77"},
        ],
        "discount": {"amount": "2.50"},
        "tax": {"mode": "exclusive",
                "rates": [{"id": "r13", "name": "13%", "percent": "13", "amount": tax}]},
        "totals": {"subtotal": "20.11", "discount": "2.50", "tax": tax,
                   "total": str(Decimal("17.61") + Decimal(tax))},
    }  # fmt: skip
    found = problems(bill)
    assert (found == {}) is accepted
    if not accepted:
        assert "data.tax.rates[0].amount" in found


def test_a_discount_after_tax_leaves_the_tax_on_the_whole_lines() -> None:
    # 10% of 35.01 = 3.501 -> 3.50; tax a = 10.00 x 10% = 1.00, b = 20.01 x 5% = 1.0005 -> 1.00.
    bill = two_rates({"percent": "10", "before_tax": False})
    bill["tax"]["rates"][0]["amount"] = "1.00"
    bill["tax"]["rates"][1]["amount"] = "1.00"
    bill["totals"] = {"subtotal": "35.01", "discount": "3.50", "tax": "2.00", "total": "33.51"}
    for line in bill["lines"]:
        line["amount"] = line["unit_price"]
    assert problems(bill) == {}


def test_inclusive_tax_is_the_part_of_the_lines_the_rate_makes_up() -> None:
    # 10.00 at 10% inclusive: 10.00 x 10/110 = 0.909 -> 0.91; 20.01 x 5/105 = 0.9529 -> 0.95.
    bill = two_rates({"amount": "0.00"}, mode="inclusive")
    bill["tax"]["rates"][0]["amount"] = "0.91"
    bill["tax"]["rates"][1]["amount"] = "0.95"
    bill["totals"] = {"subtotal": "35.01", "discount": "0.00", "tax": "1.86", "total": "35.01"}
    assert problems(bill) == {}
    bill["totals"]["total"] = "36.87"  # as if the tax were added
    assert problems(bill) == {
        "data.totals.total": "must be 35.01: subtotal 35.01 - discount 0.00 "
        "(the tax 1.86 is inside the amounts)"
    }


def test_a_line_amount_may_be_left_out_and_is_then_figured_by_the_rule() -> None:
    bill = taxed()
    for line in bill["lines"]:
        del line["amount"]
    assert problems(bill) == {}
    bill["lines"][1]["unit_price"] = "145.01"  # 72.505 -> 72.51: the subtotal no longer adds up
    assert list(problems(bill)) == ["data.totals.subtotal", "data.totals.total"]


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        (lambda b: b.pop("totals"), "data.totals", "is required"),
        (lambda b: b.update(totals=None), "data.totals", "is required"),
        (lambda b: b["totals"].pop("tax"), "data.totals.tax", "is required"),
        (lambda b: b["tax"].pop("mode"), "data.tax.mode", "is required"),
        (lambda b: b["lines"][0].update(tax_rate_id="tax_or"), "data.lines[0].tax_rate_id",
         'must be one of the ids in data.tax.rates: "tax_wa_vancouver"'),
        (lambda b: b.pop("tax"), "data.lines[0].tax_rate_id",
         "names a tax rate, but the invoice has no tax"),
        (lambda b: b["tax"]["rates"].append(dict(b["tax"]["rates"][0], amount="0.00")),
         "data.tax.rates[1].id", 'must be unique: data.tax.rates[0] has the id "tax_wa_vancouver"'),
        (lambda b: b["tax"]["rates"][0].pop("percent"), "data.tax.rates[0].percent",
         "is required"),
        (lambda b: b["discount"].update(percent="10"), "data.discount",
         "must have either percent or amount, not both"),
        (lambda b: b["discount"].pop("amount"), "data.discount",
         "must have percent or amount"),
        (lambda b: b.update(discount={"percent": "100.5"}), "data.discount.percent",
         "must be at most 100"),
        (lambda b: b["discount"].update(amount="217.51"), "data.discount.amount",
         "must not be more than the subtotal 217.50"),
        (lambda b: b.update(exchange_rate="0"), "data.exchange_rate", "must be more than 0"),
    ],
)  # fmt: skip
def test_a_bill_that_breaks_a_rule_is_refused_naming_the_field(
    change: Any, path: str, reason: str
) -> None:
    bill = taxed()
    change(bill)
    assert problems(bill).get(path) == reason


def test_figures_that_fail_their_format_are_named_once_and_not_added_up() -> None:
    bill = taxed()
    bill["lines"][0]["amount"] = "145.0O"
    bill["totals"]["tax"] = 17.58
    assert set(problems(bill)) == {"data.lines[0].amount", "data.totals.tax"}


@pytest.mark.parametrize("part", ["tax", "discount", "totals"])
def test_a_part_of_the_bill_that_is_not_an_object_is_named_once(part: str) -> None:
    bill = taxed()
    bill[part] = ["not", "an", "object"]
    assert list(problems(bill)) == [f"data.{part}"]


def test_a_tax_with_no_rates_is_no_tax_at_all() -> None:
    bill = copy.deepcopy(example("invoice.created")["data"])
    bill["tax"] = {"mode": "exclusive", "rates": None}
    assert problems(bill) == {}
    bill["totals"]["tax"] = "0.01"
    assert problems(bill) == {"data.totals.tax": "must be 0.00: the sum of the tax rates' amounts"}


def test_a_foreign_currency_needs_an_exchange_rate_when_the_home_currency_is_known() -> None:
    bill = taxed()
    bill["currency"] = "EUR"
    assert problems(bill) == {}  # the company's books are not read yet: the push checks
    assert problems(bill, home_currency="USD") == {
        "data.exchange_rate": "is required: EUR is not the company's home currency (USD); "
        "give the USD amount of one EUR"
    }
    assert problems(bill, home_currency="EUR") == {}
    bill["exchange_rate"] = "1.0825"
    assert problems(bill, home_currency="USD") == {}
    del bill["currency"]  # absent = the home currency
    del bill["exchange_rate"]
    assert problems(bill, home_currency="USD") == {}


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    | st.sampled_from(["1", "0.005", "-1", "1e3", "NaN", "99999999999.99", "0"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["amount", "percent", "id", "mode", "rates", "tax_rate_id", "quantity",
                         "unit_price", "before_tax", "subtotal", "discount", "tax", "total"]),
        inner, max_size=5),
    max_leaves=20,
)  # fmt: skip


@given(st.dictionaries(st.sampled_from(["lines", "tax", "discount", "totals", "currency",
                                        "exchange_rate"]), JSONISH))  # fmt: skip
@BILLS
def test_hostile_bills_are_refused_without_raising(parts: dict[str, Any]) -> None:
    bill = {**taxed(), **parts}
    problems(bill)
    problems(bill, home_currency="USD")
