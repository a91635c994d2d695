"""A or an before a word, and the sentences that name an account's or an item's type with it
(an Income account, an Expense account, an inventory item: never "a Income")."""

from __future__ import annotations

import pytest

from appliance.core import review
from appliance.core.events import validate
from appliance.core.words import a_or_an
from appliance.storage.models import QboAccount
from appliance.sync.push import item_match
from appliance.sync.setup import SetupError, _check_account
from appliance.sync.taxes import TaxSetupError, _check_discount


@pytest.mark.parametrize(
    ("word", "said"),
    [
        ("Income", "an Income"),
        ("Expense", "an Expense"),
        ("Other Income", "an Other Income"),
        ("inventory", "an inventory"),
        ("Bank", "a Bank"),
        ("Cost of Goods Sold", "a Cost of Goods Sold"),
        ("non-inventory", "a non-inventory"),
        ("Undeposited Funds", "an Undeposited Funds"),
        ("unit", "a unit"),
        ("", ""),
    ],
)
def test_a_or_an_goes_by_the_sound_of_the_word(word: str, said: str) -> None:
    assert a_or_an(word) == said


def chart_entry(qbo_id: str, name: str, account_type: str) -> QboAccount:
    return QboAccount(
        realm_id="9130", qbo_id=qbo_id, name=name, fully_qualified_name=name,
        account_type=account_type,
    )  # fmt: skip


def test_an_income_account_given_as_the_default_expense_account_is_an_income_account() -> None:
    with pytest.raises(SetupError) as refused:
        _check_account(chart_entry("12", "Services", "Income"), "expense", "12")
    assert "Account 12 (Services) is an Income account; " in refused.value.message


def test_an_expense_account_given_for_discounts_is_an_expense_account() -> None:
    with pytest.raises(TaxSetupError) as refused:
        _check_discount(chart_entry("7", "Fuel", "Expense"), "7")
    message = refused.value.message
    assert "Account 7 (Fuel) is an Expense account; " in message
    assert "discounts are booked to an Income or Other Income account." in message


def test_a_products_expense_account_that_is_an_expense_one_is_said_with_an() -> None:
    data = {"id": "prd_1", "name": "Edging", "price": "10.00", "income_account_id": "81"}
    event = {"type": "product.created", "timestamp": "2026-11-25T10:00:00Z", "data": data}
    _, _, problems = validate(event, accounts={"81": "Expense"})
    assert "names account 81, an Expense account:" in problems[0].reason


def test_the_question_about_a_same_named_inventory_item_says_an_inventory_item() -> None:
    question = item_match.case(
        review.TYPE,
        {"Id": "5", "Name": "Edging", "Type": "Inventory", "Active": True},
        jobroutr={"id": "prd_1", "type": "service"},
        candidate={"qbo_id": "5", "name": "Edging"},
        create_as="Edging (2)",
    )
    assert "QuickBooks has an inventory (QuickBooks tracks its stock) item named" in (
        question.message
    )
