"""The operator console driven as an operator would (Textual's pilot, keys only, 80x24), against
the real service as a process and the emulator."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from appliance.tui.app import ConsoleApp
from tests.integration.test_push import Gateway, created, running_gateway
from tests.support import RunningEmulator, approve, run_appliance

SIZE = (80, 24)


@pytest.fixture(scope="module")
def books() -> Iterator[RunningEmulator]:
    with RunningEmulator() as emulator:
        yield emulator


@pytest.fixture
def gateway(books: RunningEmulator, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(books, tmp_path, APPLIANCE_PUSH_NAME_CLASH="hold") as running:
        yield running


def text(app: ConsoleApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def until(check: Callable[[], bool], what: str, seconds: float = 20) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while not check():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def drive(app: ConsoleApp, steps: Callable[..., Awaitable[None]]) -> None:
    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await steps(pilot)

    asyncio.run(main())


def test_without_the_service_the_console_says_how_to_start_it(short_dir: Path) -> None:
    app = ConsoleApp(short_dir / "nobody.sock")

    async def steps(pilot) -> None:  # type: ignore[no-untyped-def]
        await until(lambda: "not running" in text(app, "#health"), "the notice")
        assert "appliance serve" in text(app, "#health")
        await pilot.press("o")  # another screen: a notice, not a traceback
        await pilot.pause(0.5)
        assert app.is_running
        assert any("not running" in str(n.message) for n in app._notifications)

    drive(app, steps)


def test_connect_by_pasting_the_redirect_url(books: RunningEmulator, tmp_path: Path) -> None:
    with running_gateway(books, tmp_path, connect=False) as gateway:
        app = ConsoleApp(gateway.settings.admin_socket_path)
        told: list[str] = []
        notify = app.notify
        app.notify = lambda message, **kw: (told.append(str(message)), notify(message, **kw))  # type: ignore[method-assign]

        async def steps(pilot) -> None:  # type: ignore[no-untyped-def]
            await pilot.press("c")
            await until(lambda: "Not connected" in text(app, "#connection"), "the state")
            await pilot.press("n")
            screen = app.screen
            await until(lambda: bool(screen.authorization_url), "the link")  # type: ignore[attr-defined]
            link = screen.authorization_url  # type: ignore[attr-defined]
            assert link[:40] in text(app, "#link").replace("\n", "")
            location = await asyncio.to_thread(approve, link, books.realm)
            field = app.screen.query_one("#redirect", Input)
            field.value = location
            field.focus()
            await pilot.pause()
            await pilot.press("enter")
            try:
                await until(lambda: books.realm in text(app, "#connection"), "the connection")
            except AssertionError:
                raise AssertionError(told) from None
            assert "connected" in text(app, "#connection")
            assert any("Connected to" in str(n.message) for n in app._notifications)

        drive(app, steps)


def test_a_failed_event_is_shown_with_its_hint_and_retried(
    gateway: Gateway, books: RunningEmulator
) -> None:
    with books.api() as api:
        vendor = api.post("/vendor", json={"DisplayName": "Console Supply"}).json()["Vendor"]
    [failed] = gateway.settle(gateway.send(created("cus_console", "Console Supply")))
    assert failed["status"] == "failed"
    app = ConsoleApp(gateway.settings.admin_socket_path)

    async def steps(pilot) -> None:  # type: ignore[no-untyped-def]
        table = app.screen.query_one("#events", DataTable)
        await until(lambda: table.row_count == 1, "the failed event")
        assert "6240" in text(app, "#detail")
        assert "Hint:" in text(app, "#detail")
        # The operator renames the vendor in QuickBooks, then retries from the console.
        with books.api() as api:
            api.post(
                "/vendor",
                json={"Id": vendor["Id"], "SyncToken": vendor["SyncToken"], "sparse": True,
                      "DisplayName": "Console Supply (vendor)"},
            ).raise_for_status()  # fmt: skip
        await pilot.press("r")
        await until(lambda: table.row_count == 0, "the retried event to leave the failed list")

    drive(app, steps)
    [done] = gateway.settle(failed["event_id"])
    assert done["status"] == "done"


def test_onboarding_is_marked_complete(gateway: Gateway) -> None:
    app = ConsoleApp(gateway.settings.admin_socket_path)

    async def steps(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("o")
        await until(lambda: "Connect to QuickBooks" in text(app, "#steps"), "the steps")
        await pilot.press("m")
        await until(lambda: "Marked complete" in text(app, "#steps"), "Mark Complete")

    drive(app, steps)
    shown = run_appliance("onboarding", "--json", env=gateway.env)
    assert shown.returncode == 0
    assert '"completed_at": null' not in shown.stdout
