"""What the console tests do with Textual's Pilot, in one place: run the console at 80x24 and
drive it (``drive``), wait for what it shows (``until``), and read it (``text``, ``notices``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from textual.widgets import Static

from appliance.tui.app import ConsoleApp

#: The terminal the console tests run in: the smallest the console is made for.
SIZE = (80, 24)


def text(app: ConsoleApp, selector: str) -> str:
    """What the Static at ``selector`` on the current screen shows."""
    return str(app.screen.query_one(selector, Static).render())


def notices(app: ConsoleApp) -> list[str]:
    """The console's notifications (toasts) so far, as text."""
    return [str(n.message) for n in app._notifications]


async def until(check: Callable[[], bool], what: str, seconds: float = 30) -> None:
    """Wait until ``check()`` holds; after ``seconds``, fail naming ``what`` was waited for."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while not check():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def drive(
    app: ConsoleApp, steps: Callable[[Any], Awaitable[None]], size: tuple[int, int] = SIZE
) -> None:
    """Run ``app`` headless at ``size`` and take ``steps`` with its pilot."""

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await steps(pilot)

    asyncio.run(main())
