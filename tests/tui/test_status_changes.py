"""The Status screen says what the bookkeeper changed in QuickBooks (the change feed), when
QuickBooks was last read, and why the last read failed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from textual.widgets import Static

from appliance.core.admin import StatusReport
from appliance.core.changes import FeedInfo
from tests.tui.fake import FakeApi, fake_console


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

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            shown.append(str(app.screen.query_one("#health", Static).render()))

    asyncio.run(main())
    text: Any = " ".join(shown[0].split())
    assert "2 invoices changed in QuickBooks since yesterday" in text
    assert "QuickBooks' changes last read" in text
    assert "The last read of QuickBooks' changes failed: QuickBooks answered 503" in text
