"""The console's words as a newcomer reads them (issue 22, items 4 and 8), driven by keys with
Textual's pilot at 80x24 against the real service and the emulator: the tasks before connecting,
keys named instead of shell commands, the step after Mark Complete, a refusal from QuickBooks said
once in plain words, another company named and allowed by a key, states in words."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual import events
from textual.widgets import DataTable

from appliance.tui.app import ConsoleApp
from appliance.tui.common import Confirm
from tests.harness.emulator import RunningEmulator, approve
from tests.harness.gateway import Gateway, choose_default_accounts, running_gateway
from tests.harness.processes import run_appliance
from tests.tui.pilot import drive, notices, text, until

SHELL_COMMAND = re.compile(r"`appliance (connect|import|events|accounts|settings|taxes|status)")


@pytest.fixture
def gateway(books: RunningEmulator, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(books, tmp_path) as running:
        yield running


def test_onboarding_before_connecting_shows_the_tasks_and_the_key_to_connect(
    books: RunningEmulator, tmp_path: Path
) -> None:
    with running_gateway(books, tmp_path, connect=False) as gateway:
        app = ConsoleApp(gateway.settings.admin_socket_path)

        async def steps(pilot) -> None:  # type: ignore[no-untyped-def]
            await pilot.press("o")
            await until(lambda: "Import products" in text(app, "#steps"), "the tasks")
            shown = text(app, "#steps")
            assert "No QuickBooks company is connected yet." in shown
            assert shown.count("• to do") == 4
            assert "✓ done" not in shown
            assert "Connect to QuickBooks" in shown
            assert "(Connect: press c)" in shown
            await pilot.press("m")  # nothing to mark yet: it asks, then says which key to press
            await until(lambda: isinstance(app.screen, Confirm), "the question")
            await pilot.press("y")
            await until(lambda: any("not been connected" in n for n in notices(app)), "why")
            told = next(n for n in notices(app) if "not been connected" in n)
            assert "Press c, then n (Connect)" in told
            assert not SHELL_COMMAND.search(told), told

        drive(app, steps)


def test_mark_complete_says_the_next_step(gateway: Gateway) -> None:
    app = ConsoleApp(gateway.settings.admin_socket_path)

    async def steps(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("o")
        await until(lambda: "Connect to QuickBooks" in text(app, "#steps"), "the tasks")
        await pilot.press("m")
        await until(lambda: isinstance(app.screen, Confirm), "the question")
        await pilot.press("y")
        await until(lambda: "Marked complete" in text(app, "#steps"), "Mark Complete")
        assert "go on to Step 3: Build Service in JobRoutr" in text(app, "#steps")
        assert any("go on to Step 3: Build Service in JobRoutr" in n for n in notices(app))

    drive(app, steps)


def product_with_unknown_account(jobroutr_id: str) -> dict[str, Any]:
    data = {"id": jobroutr_id, "name": "Edging", "type": "service", "price": "50.00"}
    return {
        "type": "product.created",
        "timestamp": "2026-11-25T10:00:00Z",
        "data": {**data, "active": True, "income_account_id": "99999"},
    }


def test_a_refusal_from_quickbooks_is_one_plain_sentence_with_the_code_once(
    gateway: Gateway,
) -> None:
    choose_default_accounts(gateway)
    [failed] = gateway.settle(gateway.send(product_with_unknown_account("prd_words")))
    assert failed["status"] == "failed"
    assert "2500" in json.dumps(failed["error"]), failed["error"]
    app = ConsoleApp(gateway.settings.admin_socket_path)

    async def steps(pilot) -> None:  # type: ignore[no-untyped-def]
        table = app.screen.query_one("#events", DataTable)
        await until(lambda: table.row_count == 1, "the failed event")
        await until(lambda: "2500" in text(app, "#detail"), "its reason")
        shown = " ".join(text(app, "#detail").split())
        assert shown.count("2500") == 1, shown
        assert "an account or record it names does not exist in QuickBooks" in shown
        assert "Invalid Reference Id: Invalid Reference Id" not in shown
        assert "IncomeAccountRef element id 99999 not found" in shown  # what QuickBooks named
        assert not SHELL_COMMAND.search(shown), shown  # the hint names the Accounts screen
        assert "the Accounts screen (a)" in shown

    drive(app, steps)
    listed = run_appliance("events", "--status", "failed", env=gateway.env)
    assert listed.stdout.count("2500") == 1, listed.stdout


def test_another_company_is_named_and_allowed_by_a_key_after_a_question(
    gateway: Gateway, books: RunningEmulator
) -> None:
    imported = run_appliance("import", "customers", "--wait", env=gateway.env)
    assert imported.returncode == 0, imported.stderr
    other = next(r for r in books.service.companies if r != books.realm)
    app = ConsoleApp(gateway.settings.admin_socket_path)

    async def link(pilot, key: str) -> str:  # type: ignore[no-untyped-def]
        screen = app.screen
        screen.authorization_url = ""  # type: ignore[attr-defined]
        await pilot.press("escape")  # out of the address field, where a key would be typing
        await pilot.press(key)
        if key == "N":
            await until(lambda: isinstance(app.screen, Confirm), "the question")
            assert "another QuickBooks company" in text(app, "Confirm Static")
            await pilot.press("y")
        await until(lambda: bool(screen.authorization_url), "the link")  # type: ignore[attr-defined]
        return str(screen.authorization_url)  # type: ignore[attr-defined]

    async def paste(pilot, url: str) -> None:  # type: ignore[no-untyped-def]
        location = await asyncio.to_thread(approve, url, other)
        app.screen.post_message(events.Paste(location))
        await pilot.pause(0.2)
        await pilot.press("enter")

    async def steps(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("c")
        await until(lambda: books.realm in text(app, "#connection"), "the connection")
        await paste(pilot, await link(pilot, "n"))
        await until(lambda: any("holds the data" in n for n in notices(app)), "the refusal")
        refused = next(n for n in notices(app) if "holds the data" in n)
        assert f"Sandbox Company_US_1 (realm {books.realm})" in refused
        assert f"the QuickBooks company with realm {other}" in refused
        assert "press c, then N" in refused
        assert not SHELL_COMMAND.search(refused), refused
        await paste(pilot, await link(pilot, "N"))
        await until(lambda: other in text(app, "#connection"), "the other company connected")

    drive(app, steps)


def test_a_connection_that_needs_reconnecting_is_said_in_words(tmp_path: Path) -> None:
    with RunningEmulator() as books, running_gateway(books, tmp_path) as gateway:
        httpx.post(books.url + "/_emulator/disconnect", json={"realm_id": books.realm})
        httpx.post(books.url + "/_emulator/clock", json={"advance_seconds": 3601})
        refused = run_appliance("import", "customers", "--wait", env=gateway.env)
        assert refused.returncode != 0
        shown = json.loads(run_appliance("status", "--json", env=gateway.env).stdout)
        assert shown["connection"]["state"] == "needs_reconnect"
        app = ConsoleApp(gateway.settings.admin_socket_path)

        async def steps(pilot) -> None:  # type: ignore[no-untyped-def]
            await until(lambda: "! QuickBooks:" in text(app, "#queue"), "the readiness line")
            on_status = " ".join(text(app, "#queue").split())
            assert "needs reconnecting" in on_status
            assert "needs_reconnect" not in on_status
            assert "Press c, then n (Connect)" in on_status
            assert not SHELL_COMMAND.search(on_status), on_status
            await pilot.press("c")
            await until(lambda: "needs reconnecting" in text(app, "#connection"), "the state")
            assert not SHELL_COMMAND.search(text(app, "#connection")), text(app, "#connection")

        drive(app, steps)
        human = run_appliance("status", env=gateway.env).stdout
        assert "needs reconnecting" in human
        assert "needs_reconnect" not in human
