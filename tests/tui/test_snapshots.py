"""SVG snapshots of each screen at 80x24 (pytest-textual-snapshot), fed fixed answers (fake.py).

A change to how a screen looks fails here with a side-by-side report; look at it, and if the new
look is right, accept it: `python3 tasks.py test tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.tui.fake import fake_console

SIZE = (80, 24)


async def settled(pilot: Any) -> None:
    """Let the screen's load worker answer and paint."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize(
    "keys",
    [(), ("c", "n"), ("i",), ("o",)],
    ids=["status", "connect-link", "import", "onboarding"],
)
def test_screen(snap_compare: Any, keys: tuple[str, ...]) -> None:
    async def before(pilot: Any) -> None:
        await settled(pilot)
        for key in keys:
            await pilot.press(key)
            await settled(pilot)

    assert snap_compare(fake_console(), run_before=before, terminal_size=SIZE)


def test_accounts_with_an_unsaved_choice(snap_compare: Any) -> None:
    async def before(pilot: Any) -> None:
        await settled(pilot)
        await pilot.press("a")
        await settled(pilot)
        await pilot.press("tab", *"job", "enter", "enter")  # the expense search, then choose
        await settled(pilot)

    assert snap_compare(fake_console(), run_before=before, terminal_size=SIZE)


def test_not_running(snap_compare: Any) -> None:
    assert snap_compare(fake_console(running=False), run_before=settled, terminal_size=SIZE)


def test_status_uses_a_larger_terminal(snap_compare: Any) -> None:
    assert snap_compare(fake_console(), run_before=settled, terminal_size=(120, 36))


def test_the_screens_follow_a_resize() -> None:
    app = fake_console()

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await settled(pilot)
            table = app.screen.query_one("#events")
            small = table.size
            await pilot.resize_terminal(132, 43)
            await settled(pilot)
            assert table.size.width > small.width
            assert table.size.height > small.height
            await pilot.press("i")  # another screen is laid out for the new size too
            await settled(pilot)
            assert app.screen.query_one("#skips").size.width == 132
            await pilot.resize_terminal(*SIZE)
            await settled(pilot)
            assert app.screen.query_one("#skips").size.width == SIZE[0]

    asyncio.run(main())
