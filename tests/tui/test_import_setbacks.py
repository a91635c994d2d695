"""The Import screen when things go wrong after a good import: QuickBooks ends the connection, or
the operator cancels a re-import. The console is driven with keys (Textual's pilot, 80x24)
against the real service as a process and the emulator."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from rich.text import Text

from appliance.tui.app import ConsoleApp
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, running_gateway
from tests.harness.processes import run_appliance
from tests.tui.pilot import drive, text, until


def imported(gateway: Gateway, kind: str) -> dict:  # type: ignore[type-arg]
    done = run_appliance("import", kind, "--wait", "--json", env=gateway.env, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["state"] == "done"
    return report  # type: ignore[no-any-return]


def end_the_connection(books: RunningEmulator) -> None:
    """The company disconnects the app in QuickBooks; an hour on, the access token has lapsed
    too, so the service's next call finds the connection ended."""
    httpx.post(books.url + "/_emulator/disconnect", json={"realm_id": books.realm})
    httpx.post(books.url + "/_emulator/clock", json={"advance_seconds": 3601})


@pytest.mark.timeout(180)
def test_an_ended_connection_gives_one_notice_keeps_the_results_and_stops_the_rereading(
    tmp_path: Path,
) -> None:
    with RunningEmulator() as books, running_gateway(books, tmp_path) as gateway:
        customers = imported(gateway, "customers")
        end_the_connection(books)
        app = ConsoleApp(gateway.settings.admin_socket_path)
        reads: list[str] = []
        latest = app.api.import_latest

        async def counted(kind: str):  # type: ignore[no-untyped-def]
            reads.append(kind)
            return await latest(kind)

        app.api.import_latest = counted  # type: ignore[method-assign]

        async def steps(pilot) -> None:  # type: ignore[no-untyped-def]
            await pilot.press("i")
            await until(lambda: "Done" in text(app, "#line-customers"), "the last results")
            await pilot.press("2")  # the next call to QuickBooks finds the connection ended
            await until(lambda: "Failed" in text(app, "#line-products"), "the failed import")
            await until(lambda: "reconnect" in text(app, "#import-connection"), "the cause")
            before = len(reads)
            await pilot.pause(4)
            # Backing off: a read or two in those seconds, not eight rounds of three.
            assert len(reads) - before <= 6, reads
            # The last results are still there, and the cause is said once, with the key.
            assert f"{customers['done']:,} imported" in text(app, "#line-customers")
            notices = [Text.from_markup(str(n.message)).plain for n in app._notifications]
            ended = [n for n in notices if "reconnect" in n.casefold()]
            assert len(ended) == 1, notices
            assert "press c" in ended[0].casefold()
            assert len(notices) == len(set(notices)), notices  # nothing stacked twice
            assert "press c" in text(app, "#import-connection").casefold()

        drive(app, steps)
        # The command line shows the last results too, whatever the connection's state.
        last = run_appliance("import", "customers", "--last", "--json", env=gateway.env)
        assert last.returncode == 0, last.stderr
        assert json.loads(last.stdout)["run_id"] == customers["run_id"]


@pytest.mark.timeout(180)
def test_a_cancelled_reimport_leaves_import_customers_done_in_onboarding(
    books: RunningEmulator, tmp_path: Path
) -> None:
    with running_gateway(books, tmp_path) as gateway:
        customers = imported(gateway, "customers")
        app = ConsoleApp(gateway.settings.admin_socket_path)

        async def steps(pilot) -> None:  # type: ignore[no-untyped-def]
            await pilot.press("i")
            await until(lambda: "Done" in text(app, "#line-customers"), "the last results")
            # QuickBooks is slow to answer: the re-import is still running when cancelled.
            stall = {"kind": "stall", "stall_seconds": 3, "path_contains": "/query"}
            added = await asyncio.to_thread(httpx.post, books.url + "/_emulator/faults", json=stall)
            added.raise_for_status()
            await pilot.press("1")
            await until(lambda: "Importing" in text(app, "#line-customers"), "the re-import")
            await pilot.press("x")
            await until(lambda: "Cancelled" in text(app, "#line-customers"), "the cancel")
            await pilot.press("o")
            await until(lambda: "Import customers" in text(app, "#steps"), "the steps")
            line = next(li for li in text(app, "#steps").splitlines() if "Import customers" in li)
            assert "✓ done" in line, text(app, "#steps")

        try:
            drive(app, steps)
        finally:
            httpx.delete(books.url + "/_emulator/faults")
        shown = run_appliance("onboarding", "--json", env=gateway.env)
        tasks = {t["task"]: t["done"] for t in json.loads(shown.stdout)["tasks"]}
        assert tasks["import_customers"], customers
