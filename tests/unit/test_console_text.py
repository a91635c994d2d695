"""What the console's screens say, from what the service answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from appliance.core.admin import AccountInfo, ImportReport
from appliance.tui.accounts import label, matches
from appliance.tui.common import ago, duration, until
from appliance.tui.imports import progress_line, summary_line

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
FUEL = AccountInfo(
    qbo_id="56",
    name="Fuel",
    fully_qualified_name="Automobile:Fuel",
    account_type="Expense",
    account_sub_type="Auto",
)


def test_an_account_search_needs_every_word_in_any_case() -> None:
    assert matches(FUEL, "auto fuel")
    assert matches(FUEL, "FUEL")
    assert matches(FUEL, "56")  # its id
    assert matches(FUEL, "expense")  # its type
    assert matches(FUEL, "")
    assert not matches(FUEL, "fuel rental")


def test_a_sub_account_is_shown_under_its_parent_and_whole_in_a_search() -> None:
    assert label(FUEL, "") == "  Fuel"
    assert label(FUEL, "fu") == "Automobile:Fuel"


def report(**kw: object) -> ImportReport:
    base: dict[str, object] = {
        "run_id": 1, "kind": "customers", "realm_id": "1", "state": "running", "total": 20_000,
        "done": 11_980, "skipped": 20, "qbo_calls": 13, "started_at": NOW - timedelta(seconds=24),
    }  # fmt: skip
    return ImportReport(**(base | kw))  # type: ignore[arg-type]


def test_import_progress_says_seen_of_total_rate_and_time_left() -> None:
    line = progress_line(report(rate_per_second=500.0, eta_seconds=16))
    assert line == "12,000 of 20,000 · 500/s · about 16s left · 20 skipped"
    assert progress_line(report(total=None, done=0, skipped=0)) == "0 of counting…"


def test_an_import_summary_says_how_it_ended() -> None:
    finished = NOW - timedelta(minutes=20)
    done = report(state="done", finished_at=finished, started_at=finished - timedelta(seconds=95))
    assert "Done" in summary_line(done)
    assert "11,980 imported, 20 skipped in 1m35s (13 QuickBooks calls)" in summary_line(done)
    failed = report(state="failed", finished_at=finished, error="QuickBooks refused the token")
    assert "Failed" in summary_line(failed)
    assert "QuickBooks refused the token" in summary_line(failed)
    assert "Cancelled" in summary_line(report(state="cancelled", finished_at=finished))


def test_times_are_said_the_short_way() -> None:
    assert ago(NOW - timedelta(seconds=42), NOW) == "42s ago"
    assert ago(NOW - timedelta(minutes=3, seconds=20), NOW) == "3m ago"
    assert ago(NOW - timedelta(hours=5), NOW) == "5h ago"
    assert until(NOW + timedelta(minutes=41, seconds=30), NOW) == "in 41m"
    assert until(NOW + timedelta(days=99, hours=12), NOW) == "in 99d"
    assert until(NOW - timedelta(seconds=1), NOW) == "expired"
    assert duration(95) == "1m35s"
    assert duration(3 * 3600 + 120) == "3h02m"
