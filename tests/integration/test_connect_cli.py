"""Connecting from a shell, as an operator does: `appliance connect` against a running service
with its bundled emulator, finished by pasting the redirect URL or by the browser's callback."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from appliance.config import Settings
from appliance.emulator.app import EmulatorConfig
from tests.harness.cli import connect_link, status
from tests.harness.emulator import REALM, RunningEmulator, approve
from tests.harness.processes import run_appliance
from tests.harness.service import Service, env_for, start


def test_connect_by_pasting_the_redirect_url_and_a_second_paste_changes_nothing(
    service: Service,
) -> None:
    location = approve(connect_link(service.env), REALM)
    assert location.startswith(service.url + "/oauth/callback?")

    pasted = run_appliance("connect", "--redirect-url", location, env=service.env)
    assert pasted.returncode == 0, pasted.stderr
    assert "Your QuickBooks Online account is connected." in pasted.stdout
    assert "Sandbox Company_US_1" in pasted.stdout

    connection = status(service.env)["connection"]
    assert connection["state"] == "connected"
    assert connection["realm_id"] == REALM
    assert connection["company_name"] == "Sandbox Company_US_1"
    assert connection["environment"] == "emulator"
    for key in ("access_token_expires_at", "refresh_token_expires_at"):
        assert connection[key]
    assert connection["refresh_token_hard_expires_at"]

    again = run_appliance("connect", "--redirect-url", location, env=service.env)
    assert again.returncode == 1
    assert "already used" in again.stderr
    assert "Traceback" not in again.stderr
    assert status(service.env)["connection"] == connection


def test_connect_through_the_browser_callback_shows_a_page(service: Service) -> None:
    location = approve(connect_link(service.env), REALM)
    page = httpx.get(location)
    assert page.status_code == 200
    assert "Your QuickBooks Online account is connected." in page.text
    assert status(service.env)["connection"]["state"] == "connected"
    human = run_appliance("status", env=service.env)
    assert "connected: Sandbox Company_US_1" in human.stdout
    # The company's books, read at connect: the default company uses automated sales tax.
    assert "Sales tax:        US automated sales tax" in human.stdout
    assert "[ast]" in human.stdout
    assert "home currency USD, multi-currency off" in human.stdout


def test_cancelling_in_quickbooks_is_explained(service: Service) -> None:
    location = approve(connect_link(service.env), REALM, action="cancel")
    result = run_appliance("connect", "--redirect-url", location, env=service.env)
    assert result.returncode == 1
    assert "cancelled in QuickBooks" in result.stderr
    assert "Hint:" in result.stderr
    assert status(service.env)["connection"] is None


def test_a_hostile_callback_gets_a_page_not_a_server_error(idle_service: Service) -> None:
    for query in ("", "?state=nope&code=x&realmId=1", "?error=access_denied", "?state=%ff"):
        page = httpx.get(idle_service.url + "/oauth/callback" + query)
        assert page.status_code == 400
        assert "QuickBooks was not connected" in page.text


def test_a_wrong_client_secret_is_explained(settings: Settings, tmp_path: Path) -> None:
    redirect = f"http://127.0.0.1:{settings.http_port}/oauth/callback"
    config = EmulatorConfig(client_secret="the-real-secret", redirect_uris=[redirect])
    with RunningEmulator(config) as emulator:
        env = env_for(
            settings,
            APPLIANCE_QBO_EMULATOR_URL=emulator.url,
            APPLIANCE_QBO_EMULATOR_EMBEDDED="false",
        )
        assert run_appliance("init", env=env).returncode == 0
        svc = start(env, settings)
        try:
            location = approve(connect_link(env), emulator.realm)
            result = run_appliance("connect", "--redirect-url", location, env=env)
        finally:
            svc.stop()
    assert result.returncode == 1
    assert "client ID or secret" in result.stderr
    assert "the-real-secret" not in result.stderr


def test_an_unregistered_redirect_uri_is_refused_by_intuits_page(settings: Settings) -> None:
    with RunningEmulator(EmulatorConfig(redirect_uris=["https://elsewhere/cb"])) as emulator:
        env = env_for(
            settings,
            APPLIANCE_QBO_EMULATOR_URL=emulator.url,
            APPLIANCE_QBO_EMULATOR_EMBEDDED="false",
        )
        assert run_appliance("init", env=env).returncode == 0
        svc = start(env, settings)
        try:
            result = run_appliance("connect", env=env)
            link = re.search(r"(http://\S+/connect/oauth2\?\S+)", result.stdout).group(1)
            page = httpx.get(link)
        finally:
            svc.stop()
    assert page.status_code == 400
    assert "redirect_uri" in page.text
    # The operator was told which address Intuit must know.
    assert f"http://127.0.0.1:{settings.http_port}/oauth/callback" in result.stdout


def test_disconnect_from_the_shell(service: Service) -> None:
    location = approve(connect_link(service.env), REALM)
    assert run_appliance("connect", "--redirect-url", location, env=service.env).returncode == 0
    result = run_appliance("disconnect", "--yes", env=service.env)
    assert result.returncode == 0, result.stderr
    assert "revoked at Intuit" in result.stdout
    assert status(service.env)["connection"]["state"] == "disconnected"
    again = run_appliance("disconnect", "--yes", env=service.env)
    assert again.returncode == 1
    assert "not connected" in again.stderr
