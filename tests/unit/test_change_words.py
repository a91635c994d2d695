"""The change feed's judgement of a record and its sentence in the status, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

from appliance.core.changes import changed_sentence
from appliance.storage.changes import Held
from appliance.sync.changes import classify

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _held(**fields: object) -> Held:
    base: dict[str, object] = {
        "invoices": {}, "payments": {}, "customers": {}, "seen_payments": {},
        "undone": set(), "busy": set(),
    }  # fmt: skip
    return Held(**{**base, **fields})  # type: ignore[arg-type]


def test_the_status_sentence_counts_records_by_kind_in_plain_words() -> None:
    assert changed_sentence({"invoice": 2}) == (
        "2 invoices changed in QuickBooks since yesterday (GET /api/v1/changes)."
    )
    assert changed_sentence({"invoice": 1, "customer": 1, "payment": 3}).startswith(
        "1 customer, 1 invoice and 3 payments changed"
    )
    assert changed_sentence({}) == "Nothing JobRoutr wrote changed in QuickBooks since yesterday."


def test_a_customer_made_inactive_is_not_also_renamed_for_quickbooks_deleted_suffix() -> None:
    held = _held(customers={"7": ("cus_7", "Acme", True)})
    record = {"Id": "7", "DisplayName": "Acme (deleted)", "Active": False}
    found = classify({"Customer": [record]}, held, NOW).changes
    assert [(f.jobroutr_id, f.change) for f in found] == [("cus_7", "made_inactive")]


def test_a_record_a_worker_is_writing_now_is_put_off_to_the_next_poll() -> None:
    figures = {"doc_number": "1", "total": "10.00", "tax": "0.00", "state": "open"}
    held = _held(invoices={"5": ("inv_5", figures)}, busy={"invoice:inv_5"})
    record = {"Id": "5", "DocNumber": "1", "TotalAmt": 20, "Balance": 20,
              "MetaData": {"LastUpdatedTime": "2026-12-07T00:30:00-08:00"}}  # fmt: skip
    outcome = classify({"Invoice": [record]}, held, NOW)
    assert outcome.changes == []
    assert outcome.deferred == datetime(2026, 12, 7, 8, 30, tzinfo=UTC)


def test_an_answer_older_than_the_appliances_own_later_write_is_no_change() -> None:
    """The feed's Change Data Capture answer held the invoice as the appliance's update left it;
    the appliance voided it before the feed judged the answer (its figures: SyncToken 3)."""
    voided = {"doc_number": "1", "total": "0.00", "tax": "0.00", "state": "voided",
              "sync_token": "3"}  # fmt: skip
    held = _held(invoices={"5": ("inv_5", voided)})
    updated = {"Id": "5", "SyncToken": "2", "DocNumber": "1", "TotalAmt": 20, "Balance": 20}
    outcome = classify({"Invoice": [updated]}, held, NOW)
    assert outcome.changes == []
    assert outcome.figures == {}  # the store's newer figures stay
    edited = {**updated, "SyncToken": "4", "TotalAmt": 25}  # the bookkeeper's edit after it
    assert [f.change for f in classify({"Invoice": [edited]}, held, NOW).changes] == ["changed"]
