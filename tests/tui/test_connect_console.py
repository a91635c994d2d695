"""The Connect screen follows an attempt to its end (issue 22, items 1, 2 and 6): the browser
approves or refuses, the screen says what happened within a few seconds and clears the used link;
a refused connect keeps nothing; after pasting the address, the keys are the screen's again.

Each test drives the console (Textual's pilot, 80x24) against the real service as a process and
the emulator, whose consent form is posted with httpx as a browser would, then the browser's
second step: it follows the redirect to the service's /oauth/callback."""

from __future__ import annotations

import asyncio
import html
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from textual.widgets import Input

from appliance.tui.app import ConsoleApp
from appliance.tui.common import REFRESH_SECONDS
from appliance.tui.connect import ConnectScreen
from tests.harness.emulator import RunningEmulator, approve
from tests.harness.gateway import Gateway, running_gateway
from tests.harness.processes import APPLIANCE, appliance_env, run_appliance
from tests.tui.pilot import drive, text, until


def browser(
    gateway: Gateway, authorization_url: str, realm: str, action: str = "connect"
) -> tuple[str, str]:
    """The consent page's button, then the redirect to the service: the sentence and the hint
    of the page the browser shows."""
    location = urlsplit(approve(authorization_url, realm, action))
    page = httpx.get(f"{gateway.base}{location.path}?{location.query}", timeout=30)
    found = re.search(r"</h1><p>(.*?)</p><p>(.*?)</p>", page.text, re.S)
    assert found is not None, page.text
    return html.unescape(found[1]), html.unescape(found[2])


@pytest.fixture
def company(books: RunningEmulator) -> Iterator[str]:
    """The emulator's company, as QuickBooks has it again after the test (status active)."""
    yield books.realm
    httpx.patch(f"{books.url}/_emulator/companies/{books.realm}", json={"status": "active"})


def company_name(books: RunningEmulator) -> str:
    return books.service.companies[books.realm].name


async def open_link(pilot, app: ConsoleApp) -> str:  # type: ignore[no-untyped-def]
    await pilot.press("c")
    await until(lambda: "Not connected" in text(app, "#connection"), "the state")
    await pilot.press("n")
    screen = app.screen
    await until(lambda: bool(screen.authorization_url), "the link")  # type: ignore[attr-defined]
    return str(screen.authorization_url)  # type: ignore[attr-defined]


def test_the_connect_screen_sees_the_browser_connect(
    books: RunningEmulator, tmp_path: Path, company: str
) -> None:
    with running_gateway(books, tmp_path, connect=False) as gateway:
        app = ConsoleApp(gateway.settings.admin_socket_path)

        async def steps(pilot) -> None:  # type: ignore[no-untyped-def]
            link = await open_link(pilot, app)
            message, _ = await asyncio.to_thread(browser, gateway, link, company)
            assert message == "Your QuickBooks Online account is connected."
            screen = app.screen
            assert isinstance(screen, ConnectScreen)
            # Nothing pressed: the screen notices by itself, within a few seconds.
            await until(lambda: "is connected" in text(app, "#link"), "the outcome", seconds=10)
            assert company_name(books) in text(app, "#link")
            assert link[:40] not in text(app, "#link").replace("\n", "")
            assert screen.authorization_url == ""
            await until(lambda: company in text(app, "#connection"), "the connection")
            assert "connected" in text(app, "#connection")

        drive(app, steps)


REFUSALS = {
    "cancel": ("The connection was cancelled in QuickBooks", "Nothing was changed"),
    "wrong_secret": ("QuickBooks refused to connect", ""),
    "user_not_admin": ("only company administrators can connect apps", "Nothing was kept"),
    "subscription_ended": ("subscription has ended", "Nothing was kept"),
}


@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_the_connect_screen_shows_why_the_browser_did_not_connect(
    books: RunningEmulator, tmp_path: Path, company: str, refusal: str
) -> None:
    extra: dict[str, str] = {}
    if refusal == "wrong_secret":
        secret = tmp_path / "client_secret"
        secret.write_text("not-the-emulator-secret\n")
        secret.chmod(0o600)
        extra["APPLIANCE_QBO_CLIENT_SECRET_FILE"] = str(secret)
    if refusal in ("user_not_admin", "subscription_ended"):
        patched = httpx.patch(
            f"{books.url}/_emulator/companies/{company}", json={"status": refusal}
        )
        assert patched.status_code == 200, patched.text
    sentence, kept = REFUSALS[refusal]
    with running_gateway(books, tmp_path, connect=False, **extra) as gateway:
        app = ConsoleApp(gateway.settings.admin_socket_path)

        async def steps(pilot) -> None:  # type: ignore[no-untyped-def]
            link = await open_link(pilot, app)
            action = "cancel" if refusal == "cancel" else "connect"
            message, hint = await asyncio.to_thread(browser, gateway, link, company, action)
            assert sentence in message
            assert kept in message
            # Nothing pressed: the screen shows what the browser showed, within a few seconds.
            await until(lambda: message in text(app, "#link"), "the reason", seconds=10)
            shown = text(app, "#link")
            assert hint
            # The page's hint is for whoever approved in the browser; the console says what to
            # do here, with its keys, never a shell command.
            assert "Press n for a new link" in shown
            assert "appliance connect" not in shown.replace("\n", " ")
            assert link[:40] not in shown.replace("\n", "")
            assert app.screen.authorization_url == ""  # type: ignore[attr-defined]

        drive(app, steps)


@pytest.mark.parametrize("refusal", ["user_not_admin", "subscription_ended"])
def test_a_connect_quickbooks_refuses_keeps_nothing(
    books: RunningEmulator, tmp_path: Path, company: str, refusal: str
) -> None:
    patched = httpx.patch(f"{books.url}/_emulator/companies/{company}", json={"status": refusal})
    assert patched.status_code == 200, patched.text
    with running_gateway(books, tmp_path, connect=False) as gateway:
        app = ConsoleApp(gateway.settings.admin_socket_path)

        async def steps(pilot) -> None:  # type: ignore[no-untyped-def]
            link = await open_link(pilot, app)
            message, _ = await asyncio.to_thread(browser, gateway, link, company)
            assert "Nothing was kept" in message
            # Not even a company "disconnected" with no tokens, that was never connected.
            await pilot.press("s")  # shown since the start: read again when shown, and after
            await pilot.pause(2 * REFRESH_SECONDS)  # the refresh, at the latest
            shown = text(app, "#health")
            assert "Not connected" in shown
            assert "disconnected" not in shown
            assert "expires" not in shown

        drive(app, steps)
        status = run_appliance("status", env=gateway.env)
        assert status.returncode == 0, status.stderr
        assert "not connected" in status.stdout
        assert "disconnected" not in status.stdout
        assert "expires" not in status.stdout


def test_after_pasting_the_address_the_keys_are_the_screens_again(
    books: RunningEmulator, tmp_path: Path, company: str
) -> None:
    with running_gateway(books, tmp_path, connect=False) as gateway:
        app = ConsoleApp(gateway.settings.admin_socket_path)

        async def steps(pilot) -> None:  # type: ignore[no-untyped-def]
            link = await open_link(pilot, app)
            location = await asyncio.to_thread(approve, link, company)
            await pilot.press("p")
            field = app.screen.query_one("#redirect", Input)
            assert field.has_focus
            field.value = location
            await pilot.press("enter")
            await until(lambda: company in text(app, "#connection"), "the connection")
            assert not field.has_focus
            assert field.value == ""
            assert "is connected" in text(app, "#link")
            await pilot.press("i")  # a screen key, not a letter in the field
            await until(lambda: app.current_mode == "import", "the Import screen")
            assert field.value == ""
            await pilot.press("c")
            await until(lambda: app.current_mode == "connect", "the Connect screen")
            await pilot.press("s")
            await until(lambda: app.current_mode == "status", "the Status screen")
            assert field.value == ""

        drive(app, steps)


def test_connect_wait_in_a_shell_says_why_the_browser_did_not_connect(
    books: RunningEmulator, tmp_path: Path, company: str
) -> None:
    """`appliance connect --wait` follows the attempt as the screen does: a Cancel in the
    browser ends the wait at once, with the page's sentence and hint (not a time-out)."""
    with running_gateway(books, tmp_path, connect=False) as gateway:
        env = appliance_env({**gateway.env, "PYTHONUNBUFFERED": "1"})
        with subprocess.Popen(
            [str(APPLIANCE), "connect", "--wait", "25"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as waiting:
            assert waiting.stdout is not None
            link = next(line.strip() for line in waiting.stdout if "/connect/oauth2" in line)
            message, hint = browser(gateway, link, company, "cancel")
            _, err = waiting.communicate(timeout=20)
        assert waiting.returncode != 0
        assert message in " ".join(err.split())
        assert hint.split()[0] in err
