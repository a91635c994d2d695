"""``payment.*`` events checked at intake as the contract says (CONTRACT.md section 1): the
example passes, and every wrong field is named in the 422, each one by its JSON path."""

from __future__ import annotations

from typing import Any

import pytest

from appliance.core.events import KNOWN_TYPES, validate
from tests.harness.jobroutr import example


def _problems(
    change: dict[str, Any], *, kind: str = "payment.created", home: str = "USD"
) -> dict[str, str]:
    document = example("payment.created")
    document["type"] = kind
    document["data"].update(change)
    document["data"] = {k: v for k, v in document["data"].items() if v is not ...}
    _, _, problems = validate(document, home_currency=home)
    return {p.name: p.reason for p in problems}


def test_the_four_payment_types_are_known_and_the_example_is_valid() -> None:
    for kind in ("payment.created", "payment.updated", "payment.voided", "payment.deleted"):
        assert kind in KNOWN_TYPES
    assert _problems({}) == {}
    assert _problems({}, kind="payment.updated") == {}


# (the change to the example's data, the field named, words of its reason); ... removes a field
TABLE = [
    ({"amount": "0.00"}, "data.amount", "more than 0"),
    ({"amount": "-5.00"}, "data.amount", "0 or more"),
    ({"amount": "1.234"}, "data.amount", "at most 2 decimals"),
    ({"amount": ...}, "data.amount", "is required"),
    ({"method": "bitcoin"}, "data.method", "cash, check, card, ach, other"),
    ({"method": ...}, "data.method", "is required"),
    ({"reference": "x" * 22}, "data.reference", "at most 21"),
    ({"date": "2026-02-30"}, "data.date", "calendar date"),
    ({"date": ...}, "data.date", "is required"),
    ({"customer_id": ...}, "data.customer_id", "is required"),
    ({"currency": "usd"}, "data.currency", "ISO 4217"),
    ({"currency": "EUR"}, "data.exchange_rate", "is required"),
    ({"currency": "EUR", "exchange_rate": "0"}, "data.exchange_rate", "more than 0"),
    ({"memo": "x" * 3901}, "data.memo", "at most 3900"),
    ({"applied_to": "inv_1"}, "data.applied_to", "must be a list"),
    ({"applied_to": ["inv_1"]}, "data.applied_to[0]", "must be an object"),
    ({"applied_to": [{"amount": "1.00"}]}, "data.applied_to[0].invoice_id", "is required"),
    ({"applied_to": [{"invoice_id": "a", "amount": "0"}]}, "data.applied_to[0].amount",
     "more than 0"),
    ({"applied_to": [{"invoice_id": "a"}]}, "data.applied_to[0].amount", "is required"),
    ({"applied_to": [{"invoice_id": "a", "amount": "200.00"},
                     {"invoice_id": "a", "amount": "1.00"}]},
     "data.applied_to[1].invoice_id", "already in applied_to"),
    ({"applied_to": [{"invoice_id": "a", "amount": "200.00"},
                     {"invoice_id": "b", "amount": "49.76"}]},
     "data.applied_to", "more than the payment's amount (249.75)"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "name", "words"), TABLE)
def test_a_wrong_payment_field_is_named(change: dict[str, Any], name: str, words: str) -> None:
    problems = _problems(change)
    assert name in problems, problems
    assert words in problems[name]


def test_every_wrong_field_is_named_at_once() -> None:
    problems = _problems({"amount": "0", "method": "gold", "reference": "r" * 30, "date": "soon"})
    assert {"data.amount", "data.method", "data.reference", "data.date"} <= set(problems)


def test_a_payment_may_leave_all_of_it_as_a_credit_and_pay_exactly_its_amount() -> None:
    assert _problems({"applied_to": []}) == {}
    assert _problems({"applied_to": ...}) == {}
    split = [{"invoice_id": "a", "amount": "200.00"}, {"invoice_id": "b", "amount": "49.75"}]
    assert _problems({"applied_to": split}) == {}
    assert _problems({"currency": "EUR", "exchange_rate": "1.08"}) == {}


@pytest.mark.parametrize("kind", ["payment.voided", "payment.deleted"])
def test_a_void_or_delete_carries_only_the_id(kind: str) -> None:
    document = {"type": kind, "timestamp": "2026-11-29T10:00:00Z", "data": {"id": "pay_7Hq2"}}
    assert validate(document, home_currency="USD")[2] == []
    document["data"] = {}
    assert [p.name for p in validate(document, home_currency="USD")[2]] == ["data.id"]
