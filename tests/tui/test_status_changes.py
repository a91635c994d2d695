"""The Status screen says what the bookkeeper changed in QuickBooks (the change feed), when
QuickBooks was last read, and why the last read failed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from appliance.core.admin import StatusReport
from appliance.core.changes import FeedInfo
from tests.tui.fake import FakeApi, fake_console
from tests.tui.pilot import drive, text


class ChangedApi(FakeApi):
    async def status(self) -> StatusReport:
        report = await super().status()
        now = datetime.now(UTC)
        feed = FeedInfo(
            last_polled_at=now - timedelta(minutes=3),
            read_until=now - timedelta(minutes=5),
            last_error="QuickBooks answered 503",
            gap_at=None,
            changed_last_day={"invoice": 2},
        )
        return msgspec.structs.replace(report, feed=feed)


def test_the_status_screen_says_how_many_invoices_changed_in_quickbooks() -> None:
    app = fake_console()
    app.api = ChangedApi()
    shown: list[str] = []

    async def steps(pilot: Any) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        shown.append(text(app, "#health"))

    drive(app, steps, size=(100, 30))
    said = " ".join(shown[0].split())
    assert "2 invoices changed in QuickBooks since yesterday" in said
    assert "QuickBooks' changes last read" in said
    assert "The last read of QuickBooks' changes failed: QuickBooks answered 503" in said
