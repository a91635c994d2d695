"""The local defaults across a restart: the service with its bundled emulator keeps pushing."""

from __future__ import annotations

import httpx
import pytest

from appliance.config import Settings
from tests.harness.cli import connect_link, status
from tests.harness.emulator import REALM, approve
from tests.harness.gateway import Gateway
from tests.harness.jobroutr import example
from tests.harness.processes import run_appliance
from tests.harness.service import env_for, start

pytestmark = pytest.mark.slow


def test_after_a_restart_the_bundled_emulator_refreshes_the_token_and_a_push_completes(
    settings: Settings,
) -> None:
    env = env_for(settings, APPLIANCE_PUSH_RETRY_SECONDS="0.2")
    init = run_appliance("init", env=env)
    assert init.returncode == 0, init.stderr
    api_key = next(w for w in init.stdout.split() if w.startswith("jra_"))
    first = start(env, settings)
    try:
        location = approve(connect_link(env), REALM)
        assert run_appliance("connect", "--redirect-url", location, env=env).returncode == 0
        connected = status(env)["connection"]
        code, _, err = first.stop()
        assert code == 0, err
    finally:
        if first.process.poll() is None:
            first.process.kill()
            first.process.wait()

    again = start(env, settings)
    try:
        # An hour passes in QuickBooks: the access token has expired, the next call refreshes.
        moved = httpx.post(
            env["APPLIANCE_QBO_EMULATOR_URL"] + "/_emulator/clock", json={"advance_seconds": 3700}
        )
        assert moved.status_code == 200, moved.text
        gateway = Gateway(again, settings, api_key)
        event_id = gateway.send(example("customer.created"))
        (result,) = gateway.settle(event_id, timeout=30)
        assert result["status"] == "done", result
        refreshed = status(env)["connection"]
        assert refreshed["state"] == "connected"
        assert refreshed["access_token_expires_at"] != connected["access_token_expires_at"]
        assert refreshed["refresh_token_hard_expires_at"]
    finally:
        code, _, err = again.stop()
    assert code == 0, err
