"""QBO query statements built from data: literals, WHERE, paging (FACTS §3, §10 item 6).

The round-trip property feeds the built statements to the emulator's parser, which reads literals
the way QBO does, so escaping here and unescaping there are proven to agree.
"""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.emulator.query import parse
from appliance.qbo.query import MAX_RESULTS, Condition, Select, quote

QUERYABLE = {"Customer": {"DisplayName", "Id", "Active", "Balance"}}


# --------------------------------------------------------------------------------------------------
# quote()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Amy's Bird Sanctuary", r"'Amy\'s Bird Sanctuary'"),
        ("plain", "'plain'"),
        ("", "''"),
        ("back\\slash", r"'back\\slash'"),
        ("ends with \\", "'ends with \\\\'"),
        ("\\'", r"'\\\''"),
        ("Bill's & Sons 100%", r"'Bill\'s & Sons 100%'"),
    ],
)
def test_quote_single_quotes_strings_escaping_apostrophes_and_backslashes(
    value: str, expected: str
) -> None:
    assert quote(value) == expected


def test_quote_writes_booleans_bare() -> None:
    assert quote(True) == "true"
    assert quote(False) == "false"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "'0'"), (42, "'42'"), (-7, "'-7'"), (Decimal("300.00"), "'300.00'")],
)
def test_quote_writes_numbers_quoted(value: int | Decimal, expected: str) -> None:
    assert quote(value) == expected


# --------------------------------------------------------------------------------------------------
# Statements


def test_count_without_filter() -> None:
    assert Select("Customer").count() == "SELECT COUNT(*) FROM Customer"


def test_count_with_filters_joined_by_and() -> None:
    select = Select("Customer").filter("Active", "=", True).filter("Balance", ">", Decimal("0"))

    assert select.count() == "SELECT COUNT(*) FROM Customer WHERE Active = true AND Balance > '0'"


def test_page_with_default_size() -> None:
    assert Select("Customer").page(1) == "SELECT * FROM Customer STARTPOSITION 1 MAXRESULTS 1000"


def test_page_with_filter_order_and_size() -> None:
    select = Select("Customer").filter("DisplayName", "=", "Amy's Bird Sanctuary").ordered("Id")

    assert select.page(11, 10) == (
        r"SELECT * FROM Customer WHERE DisplayName = 'Amy\'s Bird Sanctuary'"
        " ORDERBY Id STARTPOSITION 11 MAXRESULTS 10"
    )


def test_page_ordered_descending() -> None:
    select = Select("Invoice").ordered("TxnDate", descending=True)

    assert (
        select.page(1, 5)
        == "SELECT * FROM Invoice ORDERBY TxnDate DESC STARTPOSITION 1 MAXRESULTS 5"
    )


def test_filter_after_ordered_descending_keeps_desc() -> None:
    select = Select("Invoice").ordered("TxnDate", descending=True).filter("Id", "=", 5)

    assert select.page(1, 5) == (
        "SELECT * FROM Invoice WHERE Id = '5' ORDERBY TxnDate DESC STARTPOSITION 1 MAXRESULTS 5"
    )


def test_count_ignores_ordering() -> None:
    assert Select("Invoice").ordered("TxnDate").count() == "SELECT COUNT(*) FROM Invoice"


def test_filter_with_in_lists_every_value() -> None:
    select = Select("Customer").filter("Id", "IN", ["1", "2", "Amy's"])

    assert select.count() == r"SELECT COUNT(*) FROM Customer WHERE Id IN ('1', '2', 'Amy\'s')"


def test_filter_with_in_accepts_a_tuple_and_booleans() -> None:
    select = Select("Customer").filter("Active", "IN", (True, False))

    assert select.count() == "SELECT COUNT(*) FROM Customer WHERE Active IN (true, false)"


def test_filter_returns_a_new_select_and_leaves_the_original_alone() -> None:
    base = Select("Customer")

    filtered = base.filter("Active", "=", True)

    assert base.count() == "SELECT COUNT(*) FROM Customer"
    assert filtered is not base


@pytest.mark.parametrize("op", ["=", "<", ">", "<=", ">=", "LIKE"])
def test_every_qbo_comparison_operator_is_accepted(op: str) -> None:
    assert Select("Customer").filter("DisplayName", op, "A%").count() == (
        f"SELECT COUNT(*) FROM Customer WHERE DisplayName {op} 'A%'"
    )


@pytest.mark.parametrize("op", ["!=", "<>", "OR", "like", "in", "NOT IN", "==", ""])
def test_unknown_operator_is_refused(op: str) -> None:
    with pytest.raises(ValueError, match="no operator"):
        Select("Customer").filter("Id", op, "1")


@pytest.mark.parametrize("op", ["=", "<", "LIKE"])
def test_list_value_with_an_operator_other_than_in_is_refused(op: str) -> None:
    select = Select("Customer").filter("Id", op, ["1", "2"])

    with pytest.raises(ValueError, match="needs IN"):
        select.count()


def test_condition_render_refuses_a_list_without_in() -> None:
    with pytest.raises(ValueError, match="needs IN"):
        Condition("Id", "=", ("1",)).render()


def test_in_with_a_single_string_instead_of_a_list_is_refused() -> None:
    with pytest.raises(ValueError, match="IN"):
        Select("Customer").filter("Id", "IN", "5").count()


def test_in_with_an_empty_list_is_refused() -> None:
    with pytest.raises(ValueError, match="IN"):
        Select("Customer").filter("Id", "IN", []).count()


# --------------------------------------------------------------------------------------------------
# Paging bounds


@pytest.mark.parametrize("max_results", [0, -1, MAX_RESULTS + 1, 5000])
def test_page_refuses_maxresults_outside_1_to_1000(max_results: int) -> None:
    with pytest.raises(ValueError, match="MAXRESULTS"):
        Select("Customer").page(1, max_results)


@pytest.mark.parametrize("start", [0, -1, -1000])
def test_page_refuses_startposition_below_1(start: int) -> None:
    with pytest.raises(ValueError, match="STARTPOSITION"):
        Select("Customer").page(start)


def test_page_accepts_the_bounds_themselves() -> None:
    assert Select("Customer").page(1, 1).endswith("STARTPOSITION 1 MAXRESULTS 1")
    assert Select("Customer").page(1, 1000).endswith("STARTPOSITION 1 MAXRESULTS 1000")


@pytest.mark.parametrize(
    ("total", "starts"),
    [
        (0, []),
        (1, [1]),
        (999, [1]),
        (1000, [1]),
        (1001, [1, 1001]),
        (2500, [1, 1001, 2001]),
        (3000, [1, 1001, 2001]),
    ],
)
def test_pages_yields_one_statement_per_thousand_rows(total: int, starts: list[int]) -> None:
    statements = list(Select("Customer").pages(total))

    assert statements == [
        f"SELECT * FROM Customer STARTPOSITION {s} MAXRESULTS 1000" for s in starts
    ]


@given(total=st.integers(min_value=0, max_value=50_000), size=st.integers(1, MAX_RESULTS))
def test_pages_count_is_ceil_total_over_size_and_starts_step_by_size(total: int, size: int) -> None:
    statements = list(Select("Item").pages(total, size))

    assert len(statements) == math.ceil(total / size)
    for index, statement in enumerate(statements):
        assert statement.endswith(f" STARTPOSITION {1 + index * size} MAXRESULTS {size}")


def test_pages_carries_the_filter_into_every_statement() -> None:
    statements = list(Select("Customer").filter("Active", "=", False).pages(1500))

    assert statements == [
        "SELECT * FROM Customer WHERE Active = false STARTPOSITION 1 MAXRESULTS 1000",
        "SELECT * FROM Customer WHERE Active = false STARTPOSITION 1001 MAXRESULTS 1000",
    ]


def test_pages_refuses_a_page_size_over_1000() -> None:
    with pytest.raises(ValueError, match="MAXRESULTS"):
        list(Select("Customer").pages(10, page_size=1001))


# --------------------------------------------------------------------------------------------------
# Round trip through the emulator's parser (QBO's reading of literals)


@settings(max_examples=500)
@given(text=st.text())
def test_any_text_survives_quoting_as_the_emulator_reads_it(text: str) -> None:
    statement = Select("Customer").filter("DisplayName", "=", text).page(1)

    query = parse(statement, {"Customer": {"DisplayName"}})

    assert len(query.where) == 1
    assert query.where[0].prop == "DisplayName"
    assert query.where[0].op == "="
    assert query.where[0].value == text
    assert (query.start_position, query.max_results) == (1, 1000)


@given(texts=st.lists(st.text(alphabet="ab'\\ \n%", max_size=8), min_size=1, max_size=5))
def test_in_lists_of_awkward_text_survive_quoting_as_the_emulator_reads_them(
    texts: list[str],
) -> None:
    statement = Select("Customer").filter("DisplayName", "IN", texts).count()

    query = parse(statement, QUERYABLE)

    assert query.count
    assert query.where[0].value == tuple(texts)


def test_boolean_and_quoted_number_literals_read_back_as_the_emulator_sees_them() -> None:
    statement = Select("Customer").filter("Active", "=", True).filter("Id", "=", 7).page(1, 10)

    query = parse(statement, QUERYABLE)

    assert [(c.prop, c.op, c.value) for c in query.where] == [
        ("Active", "=", True),
        ("Id", "=", "7"),
    ]
    assert (query.start_position, query.max_results) == (1, 10)
