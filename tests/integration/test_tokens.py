"""Tokens that never die by accident: one refresh for many callers, across processes too;
needs-reconnect that keeps the tokens; reconnect and disconnect. The service's own wiring
(Runtime) against the emulator and a real store."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from appliance.config import Settings
from appliance.gateway.runtime import Runtime
from appliance.qbo.errors import ReconnectNeededError
from appliance.qbo.oauth import Callback
from appliance.storage import connections
from appliance.storage.models import Company, QboCustomer
from appliance.storage.store import Store
from tests.harness.emulator import RunningEmulator, approve
from tests.harness.processes import ROOT, wait_until
from tests.harness.runtime import connect

pytestmark = pytest.mark.stores

RACE_SCRIPT = Path(__file__).with_name("refresh_race.py")


def stats(emulator: RunningEmulator) -> dict:
    return httpx.get(emulator.url + "/_emulator/stats").json()


def advance(emulator: RunningEmulator, seconds: float) -> None:
    httpx.post(emulator.url + "/_emulator/clock", json={"advance_seconds": seconds})


def run(settings: Settings, body) -> object:  # type: ignore[no-untyped-def]
    async def main() -> object:
        store = Store.open(settings)
        runtime = Runtime(settings, store)
        try:
            return await body(runtime)
        finally:
            await runtime.aclose()
            store.close()

    return asyncio.run(main())


def test_a_hundred_callers_with_an_expired_token_cause_one_refresh_and_no_failure(
    app_settings: Settings, emulator: RunningEmulator
) -> None:
    async def body(runtime: Runtime) -> list[dict]:
        await connect(runtime, emulator.realm)
        advance(emulator, 3601)  # QBO now answers 401 to the stored access token
        calls = [runtime.qbo.company_info(emulator.realm) for _ in range(100)]
        return await asyncio.gather(*calls)

    before = stats(emulator)["token_refreshes"]
    results = run(app_settings, body)
    assert len(results) == 100
    assert all(r["CompanyName"] for r in results)
    assert stats(emulator)["token_refreshes"] - before == 1


@pytest.mark.parametrize(("processes", "callers"), [(2, 50), (4, 25)])
def test_processes_sharing_one_store_refresh_once_at_expiry(
    app_settings: Settings, emulator: RunningEmulator, tmp_path: Path, processes: int, callers: int
) -> None:
    """Every process holds the expired token; all callers start together (a go file); the store's
    lock lets one refresh and the others read the new tokens: QBO's rotating refresh token is
    spent once, or the losers would hold a dead one."""
    run(app_settings, lambda runtime: connect(runtime, emulator.realm))
    advance(emulator, 3601)
    go = tmp_path / "go"
    args = [str(app_settings.state_dir), emulator.url, emulator.realm, str(go), str(callers)]
    started = [
        subprocess.Popen(
            [sys.executable, str(RACE_SCRIPT), *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    wait_until(
        lambda: (
            len(list(tmp_path.glob("go.ready.*"))) == processes
            or any(p.poll() is not None for p in started)
        ),
        timeout=120,
        what="every process ready to call",
    )
    go.write_text("go")
    outputs = [p.communicate(timeout=180) for p in started]
    for process, (out, err) in zip(started, outputs, strict=True):
        assert process.returncode == 0, err
        assert out.strip() == f"{callers} ok"
    assert stats(emulator)["token_refreshes"] == 1


def test_revoked_in_quickbooks_means_needs_reconnect_with_tokens_kept_and_no_hammering(
    app_settings: Settings, emulator: RunningEmulator
) -> None:
    async def body(runtime: Runtime) -> None:
        await connect(runtime, emulator.realm)
        await asyncio.to_thread(
            httpx.post, emulator.url + "/_emulator/disconnect", json={"realm_id": emulator.realm}
        )
        advance(emulator, 3601)
        with pytest.raises(ReconnectNeededError):
            await runtime.qbo.company_info(emulator.realm)
        requests_after_first = stats(emulator)["token_requests"]
        for _ in range(5):
            with pytest.raises(ReconnectNeededError) as caught:
                await runtime.qbo.company_info(emulator.realm)
        assert "appliance connect" in caught.value.hint
        assert stats(emulator)["token_requests"] == requests_after_first  # no hammering

        stored = runtime.tokens.store.load(emulator.realm)
        assert stored is not None
        assert stored.state == "needs_reconnect"
        assert stored.tokens is not None  # kept
        info = runtime.store.connection_info()
        assert info is not None
        assert info.state == "needs_reconnect"
        assert any("appliance connect" in w for w in info.warnings)

        await connect(runtime, emulator.realm)  # the operator reconnects
        company = await runtime.qbo.company_info(emulator.realm)
        assert company["CompanyName"]
        assert runtime.store.connection_info().state == "connected"

    run(app_settings, body)


def test_disconnect_revokes_at_intuit_and_keeps_imported_data(
    app_settings: Settings, emulator: RunningEmulator
) -> None:
    async def body(runtime: Runtime) -> None:
        await connect(runtime, emulator.realm)
        with runtime.store.session() as session:
            session.add(QboCustomer(realm_id=emulator.realm, qbo_id="1", display_name="Amy's Bird"))
            session.commit()
        stored = runtime.tokens.store.load(emulator.realm)
        report = await runtime.connector.disconnect(actor="test")
        assert report.revoked_at_intuit
        refused = await asyncio.to_thread(
            httpx.post,
            emulator.url + "/oauth2/v1/tokens/bearer",
            data={"grant_type": "refresh_token", "refresh_token": stored.tokens.refresh_token},
            auth=(app_settings.qbo_client_id, app_settings.qbo_client_secret()),
        )
        assert refused.json()["error"] == "invalid_grant"
        with runtime.store.session() as session:
            company = session.get(Company, emulator.realm)
            assert company is not None
            assert company.state == "disconnected"
            assert company.company_name
            assert session.get(QboCustomer, (emulator.realm, "1")) is not None
        assert runtime.tokens.store.load(emulator.realm).tokens is None

    run(app_settings, body)


def test_connecting_another_company_than_the_one_with_data_needs_a_confirmation(
    app_settings: Settings, emulator: RunningEmulator
) -> None:
    other = list(emulator.service.companies)[1]

    async def body(runtime: Runtime) -> None:
        await connect(runtime, emulator.realm)
        with runtime.store.session() as session:
            session.add(QboCustomer(realm_id=emulator.realm, qbo_id="1", display_name="Amy"))
            session.commit()
        with pytest.raises(Exception, match="another company") as caught:
            await connect(runtime, other)
        assert "--allow-other-company" in caught.value.hint
        assert runtime.store.connection_info().realm_id == emulator.realm

        started = runtime.connector.start(actor="test", allow_other_company=True)
        location = await asyncio.to_thread(approve, started.authorization_url, other)
        info = await runtime.connector.finish(Callback.from_url(location), actor="test")
        assert info.realm_id == other

    run(app_settings, body)


@pytest.mark.parametrize(
    ("status", "words"),
    [("user_not_admin", "administrator"), ("subscription_ended", "subscription has ended")],
)
def test_a_company_that_cannot_be_used_is_explained_and_nothing_is_kept(
    app_settings: Settings, emulator: RunningEmulator, status: str, words: str
) -> None:
    httpx.patch(f"{emulator.url}/_emulator/companies/{emulator.realm}", json={"status": status})

    async def body(runtime: Runtime) -> None:
        with pytest.raises(Exception, match=words):
            await connect(runtime, emulator.realm)
        # Nothing at all: no tokens, and no company row shown as "disconnected".
        assert runtime.tokens.store.load(emulator.realm) is None
        assert runtime.store.connection_info() is None

    run(app_settings, body)


def test_the_stored_tokens_are_sealed(app_settings: Settings, emulator: RunningEmulator) -> None:
    run(app_settings, lambda runtime: connect(runtime, emulator.realm))
    store = Store.open(app_settings)
    try:
        tokens = connections.StoreTokens(store.engine, store.vault).load(emulator.realm)
    finally:
        store.close()
    assert tokens is not None
    assert tokens.tokens is not None
    for path in app_settings.state_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert tokens.tokens.refresh_token.encode() not in data
            assert tokens.tokens.access_token.encode() not in data
