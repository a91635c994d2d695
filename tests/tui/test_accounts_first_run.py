"""The Accounts screen as a newcomer meets it: no chart imported yet, r imports it, Tab goes from
list to list, / searches the list it is on, and a search that finds nothing says so. Keys only
(Textual's pilot, 80x24) against the real service as a process and the emulator. The footer
calls r "Import chart" until a chart is imported, "Re-import chart" after."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import Input, OptionList
from textual.widgets._footer import FooterKey

from appliance.tui.accounts import AccountsScreen
from appliance.tui.app import ConsoleApp
from tests.harness.cli import connect_link
from tests.harness.emulator import RunningEmulator, approve
from tests.harness.gateway import running_gateway
from tests.harness.processes import run_appliance
from tests.tui.pilot import drive, text, until


def test_the_chart_is_imported_with_r_and_tab_and_slash_and_an_empty_search_say_what_they_do(
    books: RunningEmulator, tmp_path: Path
) -> None:
    with running_gateway(books, tmp_path, connect=False) as gateway:
        location = approve(connect_link(gateway.env), books.realm)  # connected, no chart yet
        connected = run_appliance("connect", "--redirect-url", location, env=gateway.env)
        assert connected.returncode == 0, connected.stderr
        app = ConsoleApp(gateway.settings.admin_socket_path)

        def intro() -> str:
            return text(app, "#accounts-intro")

        def r_says() -> list[str]:
            return [k.description for k in app.screen.query(FooterKey) if k.key == "r"]

        async def steps(pilot) -> None:  # type: ignore[no-untyped-def]
            await pilot.press("a")
            screen = app.screen
            assert isinstance(screen, AccountsScreen)
            await until(lambda: "No accounts imported yet" in intro(), "the empty chart")
            assert "press r" in intro().casefold()
            await until(lambda: r_says() == ["Import chart"], "r in the footer before a chart")
            income = screen.query_one("#income-list", OptionList)
            await pilot.press("r")
            await until(lambda: income.option_count > 0, "the imported chart", seconds=60)
            await until(lambda: "No accounts imported yet" not in intro(), "the top line")
            await until(lambda: r_says() == ["Re-import chart"], "r in the footer after it")
            assert "New products pushed to QuickBooks" in intro()

            # Tab goes across the lists, never into a search field: / always means search.
            await pilot.press("tab")
            assert app.focused is screen.query_one("#expense-list", OptionList)
            await pilot.press("slash")
            search = screen.query_one("#expense-search", Input)
            assert app.focused is search
            assert search.value == ""
            await pilot.press("tab")  # from a search field: the next list
            assert app.focused is screen.query_one("#deposit-list", OptionList)
            await pilot.press("shift+tab", "shift+tab")
            assert app.focused is income
            await pilot.press("slash")
            assert app.focused is screen.query_one("#income-search", Input)

            # A search that finds nothing says so.
            await pilot.press(*"zzqx")
            await until(lambda: income.option_count == 1, "the answer to the search")
            shown = str(income.get_option_at_index(0).prompt)
            assert "No account matches 'zzqx'" in shown
            await pilot.press("enter", "enter")  # back to the list; Enter chooses nothing
            assert not screen.unsaved
            await asyncio.sleep(0)

        drive(app, steps)
