"""Money as the pull API writes it: one way, with cents."""

from __future__ import annotations

from decimal import Decimal

import pytest

from appliance.core.left_out import left_out_sentence
from appliance.core.money import money_text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (75, "75.00"),
        (0, "0.00"),
        (Decimal("12.5"), "12.50"),
        ("12.50", "12.50"),
        (Decimal("75.000"), "75.00"),
        (Decimal("0.125"), "0.125"),
        (Decimal("-3"), "-3.00"),
        (Decimal("1E+3"), "1000.00"),
    ],
)
def test_money_is_written_with_cents(value: object, text: str) -> None:
    assert money_text(value) == text


@pytest.mark.parametrize("value", [None, True, "abc", Decimal("NaN"), float("inf")])
def test_what_is_not_money_is_none(value: object) -> None:
    assert money_text(value) is None


def test_the_left_out_sentence() -> None:
    assert left_out_sentence({"inactive": 119, "categories": 113}) == (
        "Active only; 119 inactive, 113 categories not imported."
    )
    assert left_out_sentence({"inactive": 1_200}) == "Active only; 1,200 inactive not imported."
    assert left_out_sentence(None) == ""
    # Zero is not said as "0 inactive not imported": the counts that are zero are left out.
    assert left_out_sentence({"inactive": 0, "categories": 3}) == (
        "Active only; 3 categories not imported."
    )
    assert left_out_sentence({"inactive": 0}) == "Active only; QuickBooks has no others."
