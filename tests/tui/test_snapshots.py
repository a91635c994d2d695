"""SVG snapshots of each screen (tests/tui/snapshots/), fed fixed answers (fake.py).

A screen that looks different from its snapshot fails here, and the new picture is written
beside the old one as NAME.new.svg: open both in a browser. If the new look is right, accept it:
`python3 tasks.py test tests/tui/test_snapshots.py --snapshot-update`, and look at the files
before committing them. A missing snapshot fails too (CI never writes one by itself).

(pytest-textual-snapshot does this with syrupy, but its pinned syrupy needs pytest < 9.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from appliance.tui.app import ConsoleApp
from tests.tui.fake import fake_console

SIZE = (80, 24)
SNAPSHOTS = Path(__file__).parent / "snapshots"

Steps = Callable[[Any], Awaitable[None]]


async def settled(pilot: Any) -> None:
    """Let the screen's load worker answer and paint."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def screenshot(app: ConsoleApp, steps: Steps, size: tuple[int, int] = SIZE) -> str:
    async def main() -> str:
        async with app.run_test(size=size) as pilot:
            await settled(pilot)
            await steps(pilot)
            await settled(pilot)
            await pilot.wait_for_scheduled_animations()
            await pilot.pause()
            return app.export_screenshot(title=ConsoleApp.TITLE)

    return asyncio.run(main())


@pytest.fixture
def matches_snapshot(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    update = bool(request.config.getoption("--snapshot-update"))

    def check(name: str, svg: str) -> None:
        path = SNAPSHOTS / f"{name}.svg"
        new = SNAPSHOTS / f"{name}.new.svg"
        if update:
            path.write_text(svg, encoding="utf-8")
            new.unlink(missing_ok=True)
            return
        if not path.exists():
            new.write_text(svg, encoding="utf-8")
            pytest.fail(f"No snapshot {path.name} yet: look at {new}, then --snapshot-update.")
        if path.read_text(encoding="utf-8") != svg:
            new.write_text(svg, encoding="utf-8")
            pytest.fail(
                f"The screen looks different from {path}: see {new}. If the new one is right, "
                "run again with --snapshot-update."
            )
        new.unlink(missing_ok=True)

    return check


def pressing(*keys: str) -> Steps:
    async def steps(pilot: Any) -> None:
        for key in keys:
            await pilot.press(key)
            await settled(pilot)

    return steps


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        ("status", ()),
        ("connect-link", ("c", "n")),
        ("import", ("i",)),
        ("onboarding", ("o",)),
        # The expense search, then choose: a choice not saved yet.
        ("accounts-unsaved", ("a", "tab", "slash", "j", "o", "b", "enter", "enter")),
        # A search that finds nothing says so.
        ("accounts-no-match", ("a", "slash", "z", "z", "q", "x")),
        # The second rate highlighted: its codes, the one of its percent first and suggested.
        ("taxes", ("t", "down")),
        ("taxes-discount", ("t", "d")),
        # From Status: the questions for the operator, the first one's records side by side.
        ("review", ("v",)),
    ],
)
def test_screen(
    matches_snapshot: Callable[[str, str], None], name: str, keys: tuple[str, ...]
) -> None:
    matches_snapshot(name, screenshot(fake_console(), pressing(*keys)))


def test_not_running(matches_snapshot: Callable[[str, str], None]) -> None:
    matches_snapshot("not-running", screenshot(fake_console(running=False), pressing()))


def test_accounts_before_a_chart_is_imported(
    matches_snapshot: Callable[[str, str], None],
) -> None:
    """The top line says to press r, and the footer calls r "Import chart" (not "Re-import")."""
    shot = screenshot(fake_console(charted=False), pressing("a"))
    matches_snapshot("accounts-first-run", shot)


def test_status_uses_a_larger_terminal(matches_snapshot: Callable[[str, str], None]) -> None:
    matches_snapshot("status-120x36", screenshot(fake_console(), pressing(), size=(120, 36)))


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
