"""The operator console driven as an operator would (Textual's pilot, keys only, 80x24), against
the real service as a process and the emulator."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from textual import events
from textual.widgets import DataTable, Input, OptionList, ProgressBar

from appliance.emulator.app import EmulatorConfig
from appliance.tui.accounts import AccountsScreen
from appliance.tui.app import ConsoleApp
from appliance.tui.common import Confirm
from appliance.tui.connect import QrScreen
from tests.harness.emulator import RunningEmulator, approve
from tests.harness.gateway import Gateway, running_gateway
from tests.harness.jobroutr import created
from tests.harness.processes import run_appliance
from tests.harness.qr import decode
from tests.tui.pilot import drive, notices, text, until


@pytest.fixture(scope="module")
def books() -> Iterator[RunningEmulator]:
    # Enough customers for several pages; the generated items include some with no price.
    with RunningEmulator(EmulatorConfig(customers=2_500, items=150)) as emulator:
        yield emulator


@pytest.fixture
def gateway(books: RunningEmulator, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(books, tmp_path, APPLIANCE_PUSH_NAME_CLASH="hold") as running:
        yield running


def test_without_the_service_the_console_says_how_to_start_it(short_dir: Path) -> None:
    app = ConsoleApp(short_dir / "nobody.sock")

    async def steps(pilot) -> None:  # type: ignore[no-untyped-def]
        await until(lambda: "not running" in text(app, "#health"), "the notice")
        assert "appliance serve" in text(app, "#health")
        await pilot.press("o")  # another screen: a notice, not a traceback
        await pilot.pause(0.5)
        assert app.is_running
        assert any("not running" in n for n in notices(app))

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
            await pilot.press("g")  # the link as a QR code, for a phone
            await until(lambda: isinstance(app.screen, QrScreen), "the QR code")
            assert decode(app.screen.lines) == link  # type: ignore[attr-defined]
            await pilot.press("escape")
            location = await asyncio.to_thread(approve, link, books.realm)
            # The operator pastes the address the browser ended on: anywhere on the screen.
            app.screen.post_message(events.Paste(location))
            field = app.screen.query_one("#redirect", Input)
            await until(lambda: field.value == location and field.has_focus, "the pasted address")
            await pilot.press("enter")
            try:
                await until(lambda: books.realm in text(app, "#connection"), "the connection")
            except AssertionError:
                raise AssertionError(told) from None
            assert "connected" in text(app, "#connection")
            assert any("Connected to" in n for n in notices(app))

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
        # No failed events left: the screen shows the recent ones, the retried one done.
        await until(lambda: "Recent events" in text(app, "#events-title"), "the recent events")
        await until(
            lambda: table.get_row(failed["event_id"])[3] == "done", "the retried event done"
        )
        assert "Nothing needs you" not in text(app, "#detail")

    drive(app, steps)
    [done] = gateway.settle(failed["event_id"])
    assert done["status"] == "done"


def test_onboarding_is_marked_complete(gateway: Gateway) -> None:
    app = ConsoleApp(gateway.settings.admin_socket_path)

    async def steps(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("o")
        await until(lambda: "Connect to QuickBooks" in text(app, "#steps"), "the steps")
        assert "✓ done" in text(app, "#steps")  # connected
        await pilot.press("m")  # the imports are not done: it asks first
        await until(lambda: isinstance(app.screen, Confirm), "the question")
        await pilot.press("y")
        await until(lambda: "Marked complete" in text(app, "#steps"), "Mark Complete")
        assert "Skipped then: Import customers" in text(app, "#steps")

    drive(app, steps)
    shown = run_appliance("onboarding", "--json", env=gateway.env)
    assert shown.returncode == 0
    assert '"completed_at": null' not in shown.stdout


def last_import(gateway: Gateway, kind: str) -> dict:  # type: ignore[type-arg]
    shown = run_appliance("import", kind, "--last", "--json", env=gateway.env)
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)  # type: ignore[no-any-return]


@pytest.mark.timeout(180)
def test_imports_show_progress_to_the_total_and_the_skipped_records(
    gateway: Gateway, books: RunningEmulator
) -> None:
    app = ConsoleApp(gateway.settings.admin_socket_path)
    seen: list[str] = []

    async def steps(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("i")
        await until(lambda: "Never imported" in text(app, "#line-customers"), "the screen")
        bar = app.screen.query_one("#bar-customers", ProgressBar)
        await pilot.press("1")

        def finished() -> bool:
            seen.append(text(app, "#line-customers"))
            return "Done" in seen[-1]

        await until(finished, "the customer import", seconds=90)
        report = last_import(gateway, "customers")
        assert any(line.startswith("Importing") for line in seen)  # live progress was shown
        assert report["total"] == report["done"] + report["skipped"]
        assert bar.total == bar.progress == report["total"]
        assert f"{report['done']:,} imported" in seen[-1]
        await pilot.press("2")
        await until(lambda: "Done" in text(app, "#line-products"), "the product import", 90)
        products = last_import(gateway, "products")
        assert products["skipped"] > 0
        table = app.screen.query_one("#skips", DataTable)
        await until(lambda: table.row_count == products["skipped"], "the skipped products")
        reasons = {str(table.get_row_at(i)[2]) for i in range(table.row_count)}
        assert reasons == {s["reason"] for s in products["skips"]}
        await pilot.press("v", "v")  # after the tax codes', the customers' skips: none
        assert "No customers were skipped" in text(app, "#skips-title") or report["skipped"]

    httpx.patch(books.url + "/_emulator/limits", json={"latency_ms": 400})  # a visible pace
    try:
        drive(app, steps)
    finally:
        httpx.patch(books.url + "/_emulator/limits", json={"latency_ms": 0})


def chosen_settings(gateway: Gateway) -> dict:  # type: ignore[type-arg]
    shown = run_appliance("settings", "show", "--json", env=gateway.env)
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)  # type: ignore[no-any-return]


def test_accounts_are_searched_chosen_and_saved_and_unsaved_choices_are_asked_about(
    gateway: Gateway,
) -> None:
    app = ConsoleApp(gateway.settings.admin_socket_path)
    before = chosen_settings(gateway)

    async def steps(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("a")
        screen = app.screen
        assert isinstance(screen, AccountsScreen)
        income = screen.query_one("#income-list", OptionList)
        expense = screen.query_one("#expense-list", OptionList)
        await until(lambda: income.option_count > 0 and expense.option_count > 0, "the lists")
        everything = income.option_count
        await pilot.press("slash")  # search the income accounts
        await pilot.press(*"services")
        await until(lambda: 0 < income.option_count < everything, "the search")
        wanted = [a for a in screen.accounts["income"] if "services" in
                  a.fully_qualified_name.casefold()]  # fmt: skip
        assert income.option_count == len(wanted)
        await pilot.press("enter", "enter")  # back to the list, choose the first match
        assert screen.pending["income"].qbo_id == wanted[0].qbo_id
        await pilot.press("tab", "slash", *"cost of goods", "enter", "enter")  # the expense list
        cogs = screen.pending["expense"]
        assert "cost of goods" in cogs.fully_qualified_name.casefold()
        assert "Not saved yet" in text(app, "#pending")

        await pilot.press("s")  # leaving with unsaved choices asks first; n stays
        await until(lambda: isinstance(app.screen, Confirm), "the question")
        await pilot.press("n")
        await until(lambda: app.screen is screen, "the accounts screen again")
        assert screen.unsaved
        assert chosen_settings(gateway) == before

        await pilot.press("ctrl+s")
        await until(lambda: not screen.unsaved, "the save")
        saved = chosen_settings(gateway)
        assert saved["income_account"]["qbo_id"] == wanted[0].qbo_id
        assert saved["expense_account"]["qbo_id"] == cogs.qbo_id
        await until(lambda: cogs.fully_qualified_name in text(app, "#expense-current"), "shown")

        # Choose again, then leave without saving: nothing changes.
        await pilot.press("slash", "ctrl+u", *"advertising", "enter", "enter")
        assert screen.pending["expense"].qbo_id != cogs.qbo_id
        await pilot.press("o")
        await until(lambda: isinstance(app.screen, Confirm), "the question")
        await pilot.press("y")
        await until(lambda: app.current_mode == "onboarding", "the onboarding screen")
        assert chosen_settings(gateway) == saved
        await pilot.press("a")  # what was left unsaved is gone
        await until(lambda: not screen.unsaved and app.screen is screen, "the screen again")

    drive(app, steps)


def test_the_deposit_account_is_searched_chosen_saved_and_set_back_to_undeposited_funds(
    gateway: Gateway,
) -> None:
    app = ConsoleApp(gateway.settings.admin_socket_path)
    assert chosen_settings(gateway)["deposit_account"] is None

    async def steps(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("a")
        screen = app.screen
        assert isinstance(screen, AccountsScreen)
        deposit = screen.query_one("#deposit-list", OptionList)
        await until(lambda: deposit.option_count > 1, "the deposit list")
        assert "Deposit account: Undeposited Funds" in text(app, "#deposit-current")
        listed = screen.accounts["deposit"]
        assert listed[0].qbo_id == ""  # Undeposited Funds, QuickBooks' default, first
        assert {a.account_type for a in listed[1:]} <= {"Bank", "Other Current Asset"}
        bank = next(a for a in listed if a.account_type == "Bank")
        screen.query_one("#deposit-search", Input).focus()
        await pilot.press(*bank.name, "enter", "enter")  # search, back to the list, choose
        assert screen.pending["deposit"].qbo_id == bank.qbo_id
        await pilot.press("ctrl+s")
        await until(lambda: not screen.unsaved, "the save")
        assert chosen_settings(gateway)["deposit_account"]["qbo_id"] == bank.qbo_id
        await until(lambda: bank.name in text(app, "#deposit-current"), "the saved account")

        screen.query_one("#deposit-search", Input).focus()
        await pilot.press("ctrl+u", *"undeposited", "enter", "enter")
        assert screen.pending["deposit"].qbo_id == ""
        await pilot.press("w")
        await until(lambda: not screen.unsaved, "the save")
        assert chosen_settings(gateway)["deposit_account"] is None

    drive(app, steps)
