"""The emulator's QBO query language: parsing, matching, ordering, paging and the reply's shape.

Query strings marked "recorded" are real statements sent to QBO, copied URL-decoded from the
recordings described in FACTS.md section 3; the rows are a small company built here.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.emulator import company
from appliance.emulator.query import (
    Condition,
    Query,
    QueryError,
    parse,
    response_body,
    run,
)

QUERYABLE: dict[str, set[str]] = {
    "Customer": {
        "Id",
        "PrimaryEmailAddr",
        "DisplayName",
        "CompanyName",
        "Active",
        "Balance",
        "ParentRef",
        "MetaData.LastUpdatedTime",
    },
    "Vendor": {"Id", "DisplayName", "Active"},
    "Account": {"Id", "Name", "Active"},
    "Item": {"Id", "Name", "Active"},
    "SalesReceipt": {"Id", "TotalAmt", "CustomerRef", "TxnDate"},
}


def customer(
    id_: int,
    name: str,
    *,
    active: bool = True,
    balance: float = 0,
    updated: str = "2020-09-29T06:00:00-07:00",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "Id": str(id_),
        "DisplayName": name,
        "Active": active,
        "Balance": balance,
        "MetaData": {"CreateTime": "2015-10-01T16:48:43-07:00", "LastUpdatedTime": updated},
        **extra,
    }


CUSTOMERS: list[dict[str, Any]] = [
    customer(1, "Amy's Bird Sanctuary", balance=239.0, updated="2020-09-29T06:02:35-07:00"),
    customer(2, "Bill's Windsurf Shop", balance=85.0, updated="2015-10-08T12:56:01-07:00"),
    customer(3, "Cool Cars", updated="2015-10-09T12:59:21-07:00"),
    customer(4, "Diego Rodriguez", active=False, updated="2015-10-01T16:52:08-07:00"),
    customer(5, "Dukes Basketball Camp", updated="2015-10-08T13:28:29-07:00"),
    customer(6, "Dylan Sollfrank", updated="2015-10-01T16:55:21-07:00"),
    customer(7, "Freeman Sporting Goods", updated="2016-08-10T05:03:26-07:00"),
    customer(8, "0969 Ocean View Road", ParentRef={"value": "7"}, CompanyName="Freeman"),
    customer(9, "55 Twin Lane", active=False, balance=85.0, ParentRef={"value": "7"}),
    customer(10, "Geeta Kalapatapu", balance=629.1),
    customer(11, "gabriel photography", balance=0.1),
    customer(12, "Jeff's Jalopies", balance=81.0),
]


def ids(rows: list[Mapping[str, Any]]) -> list[str]:
    return [row["Id"] for row in rows]


def query_ids(
    text: str, rows: list[dict[str, Any]] = CUSTOMERS, *, list_entity: bool = True
) -> list[str]:
    page, _total = run(parse(text, QUERYABLE), rows, list_entity=list_entity)
    return ids(page)


def detail_of(text: str) -> str:
    with pytest.raises(QueryError) as refused:
        parse(text, QUERYABLE)
    return refused.value.detail


# ---------------------------------------------------------------------------------------------
# Parsing the statements real clients sent


def test_recorded_paged_in_query_parses_into_conditions_and_paging() -> None:
    recorded = (
        "SELECT * FROM Customer WHERE Id IN ('5', '6', '7', '8', '9', '10') "
        "AND Active IN ( true, false ) MAXRESULTS 2 STARTPOSITION 3"
    )
    assert parse(recorded, QUERYABLE) == Query(
        entity="Customer",
        count=False,
        where=(
            Condition("Id", "IN", ("5", "6", "7", "8", "9", "10")),
            Condition("Active", "IN", (True, False)),
        ),
        order_by=(),
        start_position=3,
        max_results=2,
    )


def test_recorded_lowercase_count_parses_as_count() -> None:
    recorded = "SELECT count(*) FROM Customer WHERE Id IN ('5', '6', '7', '8', '9', '10')"
    query = parse(recorded, QUERYABLE)
    assert query.count is True
    assert query.where == (Condition("Id", "IN", ("5", "6", "7", "8", "9", "10")),)


@pytest.mark.parametrize(
    ("recorded", "entity", "start", "max_results"),
    [
        ("SELECT * FROM Customer MAXRESULTS 1000 STARTPOSITION 1", "Customer", 1, 1000),
        ("SELECT COUNT(*) FROM Customer", "Customer", 1, 100),
        ("SELECT * FROM Account STARTPOSITION 1 MAXRESULTS 10", "Account", 1, 10),
        ("SELECT * FROM Item STARTPOSITION 1 MAXRESULTS 100", "Item", 1, 100),
        ("SELECT * FROM Customer MAXRESULTS 5", "Customer", 1, 5),
        ("SELECT * FROM Customer", "Customer", 1, 100),
    ],
)
def test_recorded_paging_clauses_parse_in_either_order_with_defaults(
    recorded: str, entity: str, start: int, max_results: int
) -> None:
    query = parse(recorded, QUERYABLE)
    assert (query.entity, query.start_position, query.max_results) == (entity, start, max_results)


def test_recorded_lowercase_batch_query_compares_quoted_amount_numerically() -> None:
    recorded = "select * from SalesReceipt where TotalAmt > '300.00'"
    query = parse(recorded, QUERYABLE)
    assert query.where == (Condition("TotalAmt", ">", "300.00"),)
    receipts = [{"Id": "11", "TotalAmt": 337.5}, {"Id": "12", "TotalAmt": 45}]
    assert ids(run(query, receipts, list_entity=False)[0]) == ["11"]


def test_recorded_backslash_escaped_quote_finds_the_customer() -> None:
    recorded = "SELECT * FROM Customer WHERE DisplayName = 'Amy\\'s Bird Sanctuary'"
    query = parse(recorded, QUERYABLE)
    assert query.where == (Condition("DisplayName", "=", "Amy's Bird Sanctuary"),)
    assert ids(run(query, CUSTOMERS, list_entity=True)[0]) == ["1"]


def test_recorded_ampersand_is_an_ordinary_character() -> None:
    recorded = "SELECT * FROM Vendor WHERE DisplayName = 'Robertson & Associates'"
    vendors = [
        {"Id": "1", "DisplayName": "Robertson & Associates", "Active": True},
        {"Id": "2", "DisplayName": "Robertson", "Active": True},
    ]
    assert query_ids(recorded, vendors) == ["1"]


def test_escaped_backslash_is_one_backslash() -> None:
    query = parse(r"SELECT * FROM Customer WHERE DisplayName = 'C:\\temp\\x'", QUERYABLE)
    assert query.where[0].value == "C:\\temp\\x"


def test_keywords_are_case_insensitive_and_whitespace_is_free() -> None:
    text = "select\n*\tfrom Customer\n where displayname='Cool Cars'\norderby Id desc maxresults 5"
    query = parse(text, QUERYABLE)
    assert query.where == (Condition("DisplayName", "=", "Cool Cars"),)
    assert query.order_by == (("Id", True),)
    assert query.max_results == 5


def test_property_names_are_normalised_to_the_queryable_spelling() -> None:
    query = parse("SELECT * FROM Customer WHERE metadata.lastupdatedtime > '2016'", QUERYABLE)
    assert query.where[0].prop == "MetaData.LastUpdatedTime"


def test_literals_become_decimal_bool_and_str() -> None:
    query = parse(
        "SELECT * FROM Customer WHERE Balance >= 12.50 AND Active = TRUE AND Id = '5'", QUERYABLE
    )
    assert [condition.value for condition in query.where] == [Decimal("12.50"), True, "5"]
    assert isinstance(query.where[2].value, str)


# ---------------------------------------------------------------------------------------------
# Refusals


def test_misspelled_entity_is_refused_with_the_recorded_detail() -> None:
    with pytest.raises(QueryError) as refused:
        parse("SELECT * FROM Custmoer", QUERYABLE)
    assert refused.value.detail == "QueryValidationError: invalid context declaration: Custmoer"
    assert str(refused.value) == refused.value.detail


def test_entity_names_are_matched_in_any_case_and_answered_under_the_proper_name() -> None:
    # FACTS §3: real sandbox logs show ``select * from customer`` answered under ``Customer``.
    for written in ("customer", "CUSTOMER", "cUsToMeR"):
        query = parse(f"select * from {written} where Id = '1'", QUERYABLE)
        assert query.entity == "Customer"
        page, total = run(query, CUSTOMERS, list_entity=True)
        body = response_body(query, page, total)
        assert list(body) == ["Customer", "startPosition", "maxResults"]
    assert detail_of("SELECT * FROM custmoer") == (
        "QueryValidationError: invalid context declaration: custmoer"
    )


def test_start_position_zero_is_taken_as_one() -> None:
    # FACTS §3 (python-quickbooks PR #177): STARTPOSITION 0 is accepted and means the first row.
    query = parse("SELECT * FROM Customer STARTPOSITION 0 MAXRESULTS 2", QUERYABLE)
    assert query.start_position == 1
    page, total = run(query, CUSTOMERS, list_entity=True)
    assert ids(page) == ["1", "2"]
    assert response_body(query, page, total)["startPosition"] == 1


def test_unknown_property_is_refused_by_name() -> None:
    assert "'Email'" in detail_of("SELECT * FROM Customer WHERE Email = 'a@b.c'")
    assert "'Notes'" in detail_of("SELECT * FROM Customer ORDERBY Notes")


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("SELECT * FROM Customer WHERE Id = '1' OR Id = '2'", "OR is not supported"),
        ("SELECT Id FROM Customer", "projections are not supported"),
        ("SELECT Id, DisplayName FROM Customer", "projections are not supported"),
        ("SELECT *, Id FROM Customer", "projections are not supported"),
        ("SELECT * FROM Customer MAXRESULTS 1001", "MAXRESULTS must be between 1 and 1000"),
        ("SELECT * FROM Customer MAXRESULTS 0", "MAXRESULTS must be between 1 and 1000"),
        ("SELECT * FROM Customer STARTPOSITION -1", "STARTPOSITION must be between 0"),
        ("SELECT * FROM Customer MAXRESULTS 2.5", "a whole number after MAXRESULTS"),
        ("SELECT * FROM Customer MAXRESULTS 5 MAXRESULTS 6", "MAXRESULTS is given twice"),
        ("SELECT * FROM Customer GROUP BY Id", "GROUP BY is not supported"),
        ("SELECT * FROM Customer JOIN Invoice", "JOIN is not supported"),
        ("SELECT * FROM Customer, Vendor", "only one entity"),
        ("SELECT * FROM Customer ORDER BY Id", "write ORDERBY as one word"),
        ("SELECT * FROM Customer;", "';'"),
        ("SELECT * FROM Customer WHERE Id != '1'", "operator != "),
        ("SELECT * FROM Customer WHERE Id NOT IN ('1')", "NOT is not supported"),
        ("SELECT * FROM Customer WHERE DisplayName = 'Amy''s'", "with a backslash"),
        ("SELECT * FROM Customer WHERE DisplayName = 'Amy", "unterminated string"),
        ("SELECT * FROM Customer WHERE DisplayName LIKE 5", "LIKE needs a quoted string"),
        ("SELECT * FROM Customer WHERE Active > true", "cannot compare with a boolean"),
        ("SELECT * FROM Customer WHERE Id IN ()", "a value"),
        ("SELECT * FROM Customer WHERE", "the query ended"),
        (
            "SELECT * FROM Customer WHERE DisplayName = \u2018Cool Cars\u2019",
            "unexpected character",
        ),
        ("", "expected SELECT"),
    ],
)
def test_unsupported_or_malformed_query_is_refused_with_a_helpful_detail(
    text: str, mentions: str
) -> None:
    assert mentions in detail_of(text)


def test_huge_start_position_is_refused_without_converting_it() -> None:
    detail = detail_of("SELECT * FROM Customer STARTPOSITION " + "9" * 5000)
    assert "STARTPOSITION must be between 0" in detail
    assert len(detail) < 200


# ---------------------------------------------------------------------------------------------
# Matching


def test_list_entity_returns_only_active_rows_by_default() -> None:
    assert "4" not in query_ids("SELECT * FROM Customer")
    assert "9" not in query_ids("SELECT * FROM Customer")


def test_naming_active_lifts_the_default() -> None:
    assert query_ids("SELECT * FROM Customer WHERE Active = false") == ["4", "9"]
    both = query_ids("SELECT * FROM Customer WHERE Active IN (true, false) MAXRESULTS 1000")
    assert both == [str(n) for n in range(1, 13)]


def test_quoted_true_matches_a_boolean_field() -> None:
    assert query_ids("SELECT * FROM Customer WHERE Active = 'false'") == ["4", "9"]


def test_entity_without_active_flag_returns_every_row() -> None:
    rows = [{"Id": "1", "Active": False}, {"Id": "2"}]
    assert query_ids("SELECT * FROM SalesReceipt", rows, list_entity=False) == ["1", "2"]


def test_list_entity_row_without_active_flag_counts_as_active() -> None:
    rows = [{"Id": "1", "Name": "no flag"}, {"Id": "2", "Name": "off", "Active": False}]
    assert query_ids("SELECT * FROM Item", rows) == ["1"]


def test_in_with_quoted_ids_compares_as_strings() -> None:
    text = "SELECT * FROM Customer WHERE Id IN ('5', '6', '05', '99') AND Active IN (true, false)"
    assert query_ids(text) == ["5", "6"]


def test_string_equality_is_case_insensitive() -> None:
    assert query_ids("SELECT * FROM Customer WHERE DisplayName = 'COOL cars'") == ["3"]


def test_ids_compare_numerically_with_less_and_greater() -> None:
    assert query_ids("SELECT * FROM Customer WHERE Id > '9'") == ["10", "11", "12"]
    assert query_ids("SELECT * FROM Customer WHERE Id <= '2'") == ["1", "2"]


def test_number_field_compares_numerically_with_quoted_and_bare_numbers() -> None:
    assert query_ids("SELECT * FROM Customer WHERE Balance >= 239") == ["1", "10"]
    assert query_ids("SELECT * FROM Customer WHERE Balance = '85.00'") == ["2"]
    assert query_ids("SELECT * FROM Customer WHERE Balance < 0.5 AND Balance > 0") == ["11"]
    assert query_ids("SELECT * FROM Customer WHERE Balance = '0.1'") == ["11"]


def test_reference_property_compares_against_its_value() -> None:
    text = "SELECT * FROM Customer WHERE ParentRef = '7' AND Active IN (true, false)"
    assert query_ids(text) == ["8", "9"]


def test_dotted_timestamp_compares_as_an_instant() -> None:
    text = "SELECT * FROM Customer WHERE MetaData.LastUpdatedTime > '2016-01-01T00:00:00-07:00'"
    assert query_ids(text) == ["1", "7", "8", "10", "11", "12"]


@pytest.mark.parametrize(
    "bound",
    [
        "2020-09-29T13:02:35Z",  # the same instant as the row's 06:02:35-07:00, written in UTC
        "2020-09-29T13:02:35.000Z",
        "2020-09-29T13:02:35+00:00",
        "2020-09-29T06:02:35-0700",  # FACTS §3's example writes the offset without a colon
        "2020-09-29T22:02:35+09:00",
    ],
)
def test_timestamps_compare_as_instants_whatever_offset_either_side_uses(bound: str) -> None:
    # Customer 1 was updated at 2020-09-29T06:02:35-07:00; every bound names that same instant.
    # As text, "2020-09-29T13..." > "2020-09-29T06...", which selected nothing from that hour.
    field = "MetaData.LastUpdatedTime"
    everyone = "AND Active IN (true, false)"
    assert query_ids(f"SELECT * FROM Customer WHERE {field} >= '{bound}' {everyone}") == ["1"]
    assert query_ids(f"SELECT * FROM Customer WHERE {field} = '{bound}' {everyone}") == ["1"]
    assert query_ids(f"SELECT * FROM Customer WHERE {field} IN ('{bound}') {everyone}") == ["1"]
    assert "1" not in query_ids(f"SELECT * FROM Customer WHERE {field} < '{bound}' {everyone}")
    assert "1" not in query_ids(f"SELECT * FROM Customer WHERE {field} > '{bound}' {everyone}")


def test_a_bound_in_utc_finds_what_changed_in_the_last_hour() -> None:
    rows = [
        customer(1, "Older", updated="2026-12-07T02:00:00-08:00"),  # 10:00Z
        customer(2, "Recent", updated="2026-12-07T03:30:00-08:00"),  # 11:30Z
    ]
    text = "SELECT * FROM Customer WHERE MetaData.LastUpdatedTime > '2026-12-07T11:00:00Z'"
    assert query_ids(text, rows) == ["2"]


def test_orderby_timestamp_sorts_by_instant_across_offsets() -> None:
    # Across a daylight-saving change the company offset moves from -07:00 to -08:00.
    rows = [
        customer(1, "A", updated="2026-11-01T01:30:00-07:00"),  # 08:30Z
        customer(2, "B", updated="2026-11-01T01:10:00-08:00"),  # 09:10Z
        customer(3, "C", updated="2026-11-01T01:20:00-07:00"),  # 08:20Z
    ]
    text = "SELECT * FROM Customer ORDERBY MetaData.LastUpdatedTime"
    assert query_ids(text, rows) == ["3", "1", "2"]
    assert query_ids(text + " DESC", rows) == ["2", "1", "3"]


def test_primary_email_filters_by_its_address_with_equals_and_like() -> None:
    # FACTS §3 (python-quickbooks issue #284): PrimaryEmailAddr is filterable with = and LIKE.
    rows = [
        customer(1, "Amy", PrimaryEmailAddr={"Address": "Birds@Intuit.com"}),
        customer(2, "Bill", PrimaryEmailAddr={"Address": "Surf@Intuit.com"}),
        customer(3, "Cool", PrimaryEmailAddr={"Address": "cool_cars@example.org"}),
        customer(4, "Nobody"),
    ]
    by_email = "SELECT * FROM Customer WHERE PrimaryEmailAddr"
    assert query_ids(f"{by_email} = 'birds@intuit.com'", rows) == ["1"]
    assert query_ids(f"{by_email} IN ('surf@intuit.com', 'x@y.z')", rows) == ["2"]
    assert query_ids(f"{by_email} LIKE '%@intuit.com'", rows) == ["1", "2"]
    assert query_ids(f"{by_email} LIKE '%cars%'", rows) == ["3"]
    assert query_ids(f"{by_email} LIKE 'surf%'", rows) == ["2"]
    # Sorted by the address, case-insensitively: surf, cool_cars, birds, then the row without one.
    order = query_ids("SELECT * FROM Customer ORDERBY PrimaryEmailAddr DESC", rows)
    assert order == ["2", "3", "1", "4"]


def test_missing_property_never_matches() -> None:
    assert query_ids("SELECT * FROM Customer WHERE CompanyName LIKE '%'") == ["8"]
    assert query_ids("SELECT * FROM Customer WHERE CompanyName < 'zzz'") == ["8"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("Cool%", ["3"]),
        ("%Shop", ["2"]),
        ("%Sport%", ["7"]),
        ("D%k", ["6"]),
        ("d%s%camp", ["5"]),
        ("cool cars", ["3"]),
        ("Cool", []),
        ("%Sanctuary ", []),
        ("G_eta%", []),
        ("%", [str(n) for n in (1, 2, 3, 5, 6, 7, 8, 10, 11, 12)]),
    ],
)
def test_like_is_anchored_case_insensitive_with_percent_only(
    pattern: str, expected: list[str]
) -> None:
    assert query_ids(f"SELECT * FROM Customer WHERE DisplayName LIKE '{pattern}'") == expected


def test_like_does_not_let_the_middle_overlap_the_ends() -> None:
    names = ["aba", "abba", "abbba", "abxbyba"]
    rows = [{"Id": str(n), "Name": name} for n, name in enumerate(names, start=1)]
    assert query_ids("SELECT * FROM Item WHERE Name LIKE 'ab%b%ba'", rows) == ["3", "4"]


# ---------------------------------------------------------------------------------------------
# Ordering


def test_default_order_is_id_order_of_the_input() -> None:
    assert query_ids("SELECT * FROM Customer MAXRESULTS 4") == ["1", "2", "3", "5"]


def test_orderby_desc_sorts_strings_case_insensitively() -> None:
    # Byte order would put "Geeta" before "gabriel"; QBO-like order ignores case.
    text = "SELECT * FROM Customer WHERE DisplayName LIKE 'G%' ORDERBY DisplayName DESC"
    assert query_ids(text) == ["10", "11"]
    ascending = query_ids("SELECT * FROM Customer WHERE DisplayName LIKE 'G%' ORDERBY DisplayName")
    assert ascending == ["11", "10"]


def test_orderby_id_desc_is_numeric() -> None:
    assert query_ids("SELECT * FROM Customer ORDERBY Id DESC MAXRESULTS 3") == ["12", "11", "10"]


def test_orderby_puts_missing_values_last_in_both_directions() -> None:
    rows = [{"Id": "1"}, {"Id": "2", "Name": "b"}, {"Id": "3", "Name": "a"}]
    assert query_ids("SELECT * FROM Item ORDERBY Name", rows) == ["3", "2", "1"]
    assert query_ids("SELECT * FROM Item ORDERBY Name DESC", rows) == ["2", "3", "1"]


def test_orderby_several_keys_is_stable_and_respects_each_direction() -> None:
    text = "SELECT * FROM Customer WHERE Balance < 100 ORDERBY Balance DESC, DisplayName"
    # 85, 81, 0.1, then the zero balances by name ("0969 ..." sorts before letters).
    assert query_ids(text) == ["2", "12", "11", "8", "3", "5", "6", "7"]


# ---------------------------------------------------------------------------------------------
# Counting, paging and the reply


def test_count_returns_total_count_only() -> None:
    recorded = "SELECT count(*) FROM Customer WHERE Id IN ('5', '6', '7', '8', '9', '10')"
    query = parse(recorded, QUERYABLE)
    page, total = run(query, CUSTOMERS, list_entity=True)
    assert (page, total) == ([], 5)  # 9 is inactive
    assert response_body(query, page, total) == {"totalCount": 5}


def test_recorded_paging_returns_each_row_once_then_an_empty_reply() -> None:
    seen: list[str] = []
    replies = []
    for start in (1, 3, 5, 7):
        recorded = (
            "SELECT * FROM Customer WHERE Id IN ('5', '6', '7', '8', '9', '10') "
            f"AND Active IN ( true, false ) MAXRESULTS 2 STARTPOSITION {start}"
        )
        query = parse(recorded, QUERYABLE)
        page, total = run(query, CUSTOMERS, list_entity=True)
        assert total == 6
        seen += ids(page)
        replies.append(response_body(query, page, total))
    assert seen == ["5", "6", "7", "8", "9", "10"]
    assert replies[1]["startPosition"] == 3
    assert replies[1]["maxResults"] == 2
    assert replies[-1] == {}


def test_max_results_in_reply_counts_rows_returned_not_requested() -> None:
    query = parse("SELECT * FROM Customer STARTPOSITION 8 MAXRESULTS 100", QUERYABLE)
    page, total = run(query, CUSTOMERS, list_entity=True)
    body = response_body(query, page, total)
    assert body == {"Customer": page, "startPosition": 8, "maxResults": 3}
    assert ids(body["Customer"]) == ["10", "11", "12"]


def test_start_position_past_the_end_gives_empty_page_and_empty_reply() -> None:
    query = parse("SELECT * FROM Customer STARTPOSITION 500", QUERYABLE)
    page, total = run(query, CUSTOMERS, list_entity=True)
    assert (page, total) == ([], 10)
    assert response_body(query, page, total) == {}


@settings(max_examples=60, deadline=None)
@given(
    page_size=st.integers(min_value=1, max_value=15),
    order=st.sampled_from(["", "ORDERBY DisplayName", "ORDERBY Balance DESC, Id"]),
)
def test_paging_through_any_page_size_yields_every_match_exactly_once(
    page_size: int, order: str
) -> None:
    whole = query_ids(f"SELECT * FROM Customer {order} MAXRESULTS 1000")
    collected: list[str] = []
    start = 1
    while True:
        text = f"SELECT * FROM Customer {order} STARTPOSITION {start} MAXRESULTS {page_size}"
        page = query_ids(text)
        if not page:
            break
        collected += page
        start += page_size
    assert collected == whole
    assert len(set(collected)) == len(whole) == 10


# ---------------------------------------------------------------------------------------------
# Fuzzing: whatever the text, parse returns a Query or raises QueryError, nothing else

# fmt: off
TOKENS = [
    "SELECT", "select", "*", "COUNT(*)", "count", "(", ")", "FROM", "Customer", "Custmoer",
    "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "=", "<", ">", "<=", ">=", "!=", "<>", ",", ";",
    "ORDERBY", "ORDER", "BY", "ASC", "DESC", "STARTPOSITION", "MAXRESULTS", "Id", "DisplayName",
    "Active", "MetaData.LastUpdatedTime", "ParentRef", "true", "FALSE", "'5'", "'a\\'b'", "'%x%'",
    "''", "'", "\\", "0", "1", "-1", "1001", "12.5", "9" * 30, "GROUP", "JOIN", "Email", ".",
]
# fmt: on


def assert_parses_or_refuses(text: str) -> None:
    query: Query | None = None
    try:
        query = parse(text, QUERYABLE)
    except QueryError as refused:
        detail = refused.detail
    if query is None:
        assert detail.startswith(("QueryParserError: ", "QueryValidationError: "))
        return
    assert query.entity in QUERYABLE
    assert 1 <= query.max_results <= 1000
    assert query.start_position >= 1
    # A query that parses must also run without error.
    run(query, CUSTOMERS, list_entity=True)


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_arbitrary_text_parses_or_raises_query_error(text: str) -> None:
    assert_parses_or_refuses(text)


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=16), st.sampled_from([" ", "", "\n"]))
def test_arbitrary_token_soup_parses_or_raises_query_error(tokens: list[str], sep: str) -> None:
    assert_parses_or_refuses(sep.join(tokens))


@settings(max_examples=300, deadline=None)
@given(
    where=st.lists(
        st.tuples(
            st.sampled_from(["Id", "DisplayName", "Balance", "Active", "ParentRef"]),
            st.sampled_from(["=", "<", ">", "<=", ">=", "LIKE"]),
            st.one_of(
                st.text(max_size=6).map(lambda s: "'" + s.replace("\\", "").replace("'", "") + "'"),
                st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
            ),
        ),
        max_size=3,
    )
)
def test_well_formed_random_where_clauses_run_without_error(
    where: list[tuple[str, str, str]],
) -> None:
    clause = " AND ".join(f"{prop} {op} {value}" for prop, op, value in where)
    assert_parses_or_refuses(f"SELECT * FROM Customer {'WHERE ' + clause if clause else ''}")


def test_every_filterable_property_is_one_the_entity_has() -> None:
    # A misspelt name in the filterable lists would refuse a query QBO accepts.
    for entity, props in company.FILTERABLE.items():
        unknown = {p for p in props if p.split(".")[0] not in company.KNOWN[entity]}
        assert unknown == set(), entity
        assert company.QUERYABLE[entity] == frozenset(props)
