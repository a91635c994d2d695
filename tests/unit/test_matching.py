"""What corroborates a same-named QuickBooks customer, and the name a new one gets: the pure rules
of sync/push/matching.py."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appliance.sync.push import matching

OAK = {"line1": "12 Oak St.", "city": "Springfield", "region": "IL", "postal_code": "62701",
       "country": "US"}  # fmt: skip


@pytest.mark.parametrize(
    ("ours", "theirs", "same"),
    [
        ("john@example.com", "  JOHN@Example.COM ", True),
        ("john@example.com", "john@example.org", False),
        ("", "", False),
        (None, None, False),
        ("john@example.com", None, False),
    ],
)
def test_emails_agree_trimmed_and_in_any_case_and_never_when_absent(
    ours: str | None, theirs: str | None, same: bool
) -> None:
    assert matching.same_email(ours, theirs) is same


@pytest.mark.parametrize(
    ("ours", "theirs", "same"),
    [
        ("(503) 555-0199", "503.555.0199", True),
        ("+1 503 555 0199", "(503) 555-0199", True),  # the last ten digits when both have ten
        ("1-503-555-0199", "503 555 0199", True),
        ("555-0199", "5550199", True),  # seven digits: the whole strings
        ("555-0199", "(503) 555-0199", False),  # not the same digit strings
        ("0199", "0199", False),  # fewer than seven digits: never enough
        ("(503) 555-0199", "(503) 555-0198", False),
        ("", "", False),
        ("ext. 12", "ext 12", False),
    ],
)
def test_phones_agree_by_digits_only(ours: str, theirs: str, same: bool) -> None:
    assert matching.same_phone(ours, theirs) is same


def test_any_phone_compares_phone_and_mobile_both_ways() -> None:
    assert matching.any_phone({"mobile": "503-555-0100"}, {"phone": "(503) 555-0100"})
    assert matching.any_phone({"phone": "503-555-0100"}, {"mobile": "5035550100"})
    assert not matching.any_phone({"phone": "503-555-0100"}, {"phone": "503-555-0101"})
    assert not matching.any_phone({}, {"phone": "503-555-0100"})


def test_addresses_agree_when_normalised() -> None:
    theirs = {"line1": "12  OAK ST", "city": "springfield", "region": "il",
              "postal_code": "62701", "country": "us"}  # fmt: skip
    assert matching.same_address(OAK, theirs)
    # Region and country only count when both sides have them.
    assert matching.same_address(OAK, {"line1": "12 Oak St", "city": "Springfield",
                                       "postal_code": "62701"})  # fmt: skip
    # Postal codes compare without their spaces.
    uk = {"line1": "1 High Street", "city": "London", "postal_code": "SW1A 1AA"}
    assert matching.same_address(uk, uk | {"postal_code": "sw1a1aa"})


@pytest.mark.parametrize(
    "change",
    [
        {"line1": "14 Oak St"},
        {"city": "Shelbyville"},
        {"postal_code": "62702"},
        {"region": "WI"},
        {"country": "CA"},
        {"line1": None},
        {"postal_code": ""},
    ],
)
def test_addresses_differ_when_a_part_that_counts_differs_or_is_missing(
    change: dict[str, str | None],
) -> None:
    assert not matching.same_address(OAK, OAK | change)
    assert not matching.same_address(OAK | change, OAK)


def test_no_address_never_agrees() -> None:
    assert not matching.same_address(None, OAK)
    assert not matching.same_address({}, {})


def test_corroborated_says_what_agrees_and_none_for_a_bare_name() -> None:
    ours = {"display_name": "John Smith", "email": "js@example.com", "phone": "503-555-0100",
            "billing_address": OAK}  # fmt: skip
    assert matching.corroborated(ours, {"email": "JS@example.com"}) == matching.EMAIL
    assert matching.corroborated(ours, {"mobile": "+1 (503) 555-0100"}) == matching.PHONE
    assert matching.corroborated(ours, {"billing_address": OAK}) == matching.ADDRESS
    assert matching.corroborated(ours, {"display_name": "John Smith"}) is None
    assert matching.corroborated({"display_name": "John Smith"}, {"email": "a@b.c"}) is None


def test_numbered_names_fit_quickbooks_limit() -> None:
    assert matching.numbered("John Smith", 2) == "John Smith (2)"
    long = "x" * 500
    assert matching.numbered(long, 12) == "x" * 495 + " (12)"
    assert len(matching.numbered(long, 12)) == matching.NAME_LIMIT
    assert matching.numbered("a" * 497 + "  b", 2) == "a" * 496 + " (2)"  # no space left dangling


def test_lowest_free_skips_every_name_taken_in_any_case() -> None:
    assert matching.lowest_free("John Smith", []) == 2
    assert matching.lowest_free("John Smith", ["john smith (2)", " JOHN SMITH (3) "]) == 4
    assert matching.lowest_free("John Smith", ["John Smith (3)"]) == 2
    assert matching.lowest_free("John Smith", ["John Smith (3)"], start=3) == 4


@given(
    name=st.text(min_size=1, max_size=600).filter(lambda s: s.strip()),
    taken=st.sets(st.integers(min_value=2, max_value=40), max_size=30),
)
def test_lowest_free_is_the_lowest_n_not_taken(name: str, taken: set[int]) -> None:
    n = matching.lowest_free(name, [matching.numbered(name, t) for t in taken])
    assert n >= 2
    assert n not in taken
    assert all(m in taken for m in range(2, n))
    assert len(matching.numbered(name, n)) <= matching.NAME_LIMIT


@given(st.text(max_size=30), st.text(max_size=30))
def test_phone_agreement_is_symmetric(a: str, b: str) -> None:
    assert matching.same_phone(a, b) is matching.same_phone(b, a)
