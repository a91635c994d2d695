"""The Status screen lists a mismatch (an invoice whose QuickBooks totals differ from the bill)
beside the failed events, shows both figures and what to do, and accepts it on its key after a
confirmation; it can be retried, never skipped (it is in QuickBooks already)."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable

from tests.tui.fake import FakeApi, fake_console
from tests.tui.pilot import drive, notices, text

MISMATCH = "evt_2Yb7kQ2mT8"


def run(steps: Any) -> FakeApi:
    app = fake_console()
    api = app.api
    assert isinstance(api, FakeApi)

    async def settled(pilot: Any) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await steps(app, pilot)

    drive(app, settled, size=(100, 30))
    return api


async def choose_mismatch(app: Any, pilot: Any) -> None:
    table = app.screen.query_one("#events", DataTable)
    keys = [row.value for row in table.rows]
    assert MISMATCH in keys
    for _ in range(keys.index(MISMATCH)):
        await pilot.press("down")
    await pilot.pause()


def test_a_mismatch_is_listed_with_both_figures_and_a_hint_and_accepted_on_its_key() -> None:
    async def steps(app: Any, pilot: Any) -> None:
        title = text(app, "#events-title")
        assert "Failed and mismatched events" in title
        assert "1 mismatched" in text(app, "#queue")
        await choose_mismatch(app, pilot)
        table = app.screen.query_one("#events", DataTable)
        assert "mismatch" in str(table.get_row(MISMATCH)[3])
        shown = text(app, "#detail")
        assert "QuickBooks: total 236.86, tax 19.36" in shown
        assert "JobRoutr: total 236.85, tax 19.35" in shown
        assert "Hint:" in shown
        await pilot.press("m")
        await pilot.pause()
        await pilot.press("y")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    api = run(steps)
    assert api.acted == [("accept", [MISMATCH])]


def test_a_mismatch_is_retried_but_never_skipped_and_a_failed_event_is_not_accepted() -> None:
    async def steps(app: Any, pilot: Any) -> None:
        await pilot.press("m")  # the first row: a failed event
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await choose_mismatch(app, pilot)
        await pilot.press("k")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert any("Choose a failed event" in n for n in notices(app))
        await pilot.press("r")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    api = run(steps)
    assert api.acted == [("retry", [MISMATCH])]
