"""What QuickBooks holds of an invoice, as the pull API tells it: amounts as decimal strings with
cents (never floats), and its state read off the record (QBO has no state field)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from appliance.sync.figures import invoice_figures, invoice_state, money

AT = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)


def test_an_open_invoice_has_its_number_total_tax_and_balance_in_cents() -> None:
    record = {
        "Id": "171",
        "SyncToken": "2",
        "DocNumber": "JR-10042",
        "TotalAmt": Decimal("236.86"),
        "Balance": Decimal("236.86"),
        "TxnTaxDetail": {"TotalTax": Decimal("19.36")},
        "PrivateNote": "Created by JobRoutr (invoice inv_0007)",
    }
    assert invoice_figures(record, AT) == {
        "doc_number": "JR-10042",
        "total": "236.86",
        "tax": "19.36",
        "balance": "236.86",
        "state": "open",
        "read_at": "2026-12-07T08:30:00+00:00",
        "sync_token": "2",
    }


def test_an_invoice_without_tax_detail_has_tax_zero() -> None:
    figures = invoice_figures({"TotalAmt": 100, "Balance": 100}, AT)
    assert (figures["total"], figures["tax"], figures["doc_number"]) == ("100.00", "0.00", None)


@pytest.mark.parametrize(
    ("record", "state"),
    [
        ({"TotalAmt": 50, "Balance": 50}, "open"),
        ({"TotalAmt": 50, "Balance": 20}, "open"),  # partly paid: still owed
        ({"TotalAmt": 50, "Balance": 0}, "paid"),
        ({"TotalAmt": 0, "Balance": 0}, "open"),  # nothing to pay is not "paid"
        ({"TotalAmt": 0, "Balance": 0, "PrivateNote": "Voided - Created by JobRoutr"}, "voided"),
        ({"status": "Deleted", "Id": "171"}, "deleted"),
    ],
)
def test_the_state_is_read_off_the_record(record: dict[str, object], state: str) -> None:
    assert invoice_state(record) == state


def test_money_keeps_cents_exactly_and_refuses_what_is_not_a_number() -> None:
    assert money(Decimal("107.2")) == "107.20"
    assert money(0.1 + 0.2) == "0.30"
    assert money(None) is None
    assert money("n/a") is None
