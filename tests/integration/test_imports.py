"""Importing from QuickBooks as an operator does, against an emulator with large, awkward books."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator

import httpx
import pytest
from sqlmodel import select

from appliance.config import Settings
from appliance.emulator.app import EmulatorConfig
from appliance.storage.models import ImportRun, QboCustomer, QboItem
from appliance.storage.store import Store
from tests.integration.test_connect_cli import connect_link
from tests.integration.test_service import Service, env_for, start
from tests.support import RunningEmulator, approve, run_appliance, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def books() -> Iterator[RunningEmulator]:
    with RunningEmulator(EmulatorConfig(customers=20_000, items=2_000)) as emulator:
        yield emulator


@pytest.fixture
def service(settings: Settings, books: RunningEmulator) -> Iterator[Service]:
    env = env_for(
        settings,
        APPLIANCE_QBO_EMULATOR_URL=books.url,
        APPLIANCE_QBO_EMULATOR_EMBEDDED="false",
        # A redirect URI the shared emulator knows; the redirect is pasted, never followed.
        APPLIANCE_PUBLIC_URL="http://127.0.0.1:8780",
    )
    assert run_appliance("init", env=env).returncode == 0
    svc = start(env, settings)
    location = approve(connect_link(env), books.realm)
    assert run_appliance("connect", "--redirect-url", location, env=env).returncode == 0
    yield svc
    if svc.process.poll() is None:
        svc.process.kill()
        svc.process.wait()


def do_import(env: dict[str, str], kind: str) -> dict:
    result = run_appliance("import", kind, "--wait", "--json", env=env, timeout=600)
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def active(books: RunningEmulator, entity: str) -> list[dict]:
    rows = books.service.companies[books.realm].rows(entity)
    return [r for r in rows if r.get("Active", True)]


def stored(settings: Settings, model: type) -> list:
    store = Store.open(settings)
    try:
        with store.session() as session:
            return list(session.exec(select(model)).all())
    finally:
        store.close()


def test_customers_and_products_import_every_active_record_once_and_skip_with_reasons(
    service: Service, settings: Settings, books: RunningEmulator
) -> None:
    customers = do_import(service.env, "customers")
    expected = {c["Id"] for c in active(books, "Customer")}
    assert customers["state"] == "done"
    assert customers["done"] == customers["total"] == len(expected)
    assert customers["qbo_calls"] >= 1 + len(expected) // 1000
    rows = stored(settings, QboCustomer)
    assert {r.qbo_id for r in rows} == expected
    assert all(r.active for r in rows)

    products = do_import(service.env, "products")
    sellable = [
        i for i in active(books, "Item") if i["Type"] in ("Service", "NonInventory", "Inventory")
    ]
    no_price = {i["Id"] for i in sellable if "UnitPrice" not in i}
    assert no_price, "the generated books should have items without a price"
    assert products["skipped"] == len(no_price)
    assert {s["qbo_id"] for s in products["skips"]} == no_price
    assert {s["reason"] for s in products["skips"]} == {"has no price"}
    assert products["done"] == len(sellable) - len(no_price)
    items = stored(settings, QboItem)
    assert {i.qbo_id for i in items} == {i["Id"] for i in sellable} - no_price
    assert all(i.price is not None for i in items)


def test_reimport_brings_changes_and_deactivations_in(
    service: Service, settings: Settings, books: RunningEmulator
) -> None:
    do_import(service.env, "customers")
    token = books.token()
    with books.api(token) as api:
        pick = active(books, "Customer")[:2]
        first = api.get(f"/customer/{pick[0]['Id']}").json()["Customer"]
        api.post(
            "/customer",
            json={"Id": first["Id"], "SyncToken": first["SyncToken"], "sparse": True,
                  "Notes": "changed in QuickBooks"},
        ).raise_for_status()  # fmt: skip
        second = api.get(f"/customer/{pick[1]['Id']}").json()["Customer"]
        if second.get("Job") is False and not any(
            c.get("ParentRef", {}).get("value") == second["Id"] for c in active(books, "Customer")
        ):
            off = {"Id": second["Id"], "SyncToken": second["SyncToken"], "sparse": True,
                   "Active": False}  # fmt: skip
            api.post("/customer", json=off).raise_for_status()
    again = do_import(service.env, "customers")
    assert again["state"] == "done"
    rows = {r.qbo_id: r for r in stored(settings, QboCustomer)}
    assert rows[first["Id"]].data["notes"] == "changed in QuickBooks"
    now_inactive = [c["Id"] for c in books.service.companies[books.realm].rows("Customer")
                    if not c.get("Active", True) and c["Id"] in rows]  # fmt: skip
    for qbo_id in now_inactive:
        assert rows[qbo_id].active is False


def test_a_second_import_while_one_runs_is_refused(
    service: Service, books: RunningEmulator
) -> None:
    httpx.patch(books.url + "/_emulator/limits", json={"latency_ms": 200})
    try:
        started = run_appliance("import", "customers", env=service.env)
        assert started.returncode == 0, started.stderr
        second = run_appliance("import", "customers", env=service.env)
        assert second.returncode == 1
        assert "already running" in second.stderr
        cancel = run_appliance("import", "customers", "--cancel", env=service.env)
        assert cancel.returncode == 0
        last = do_last(service.env)
        assert last["state"] in ("cancelled", "done")
    finally:
        httpx.patch(books.url + "/_emulator/limits", json={"latency_ms": 0})


def do_last(env: dict[str, str]) -> dict:
    def ended() -> bool:
        result = run_appliance("import", "customers", "--last", "--json", env=env)
        return json.loads(result.stdout)["state"] != "running"

    wait_until(ended, timeout=60, what="the import to stop")
    result = run_appliance("import", "customers", "--last", "--json", env=env)
    return json.loads(result.stdout)


def test_an_import_killed_half_way_finishes_after_a_restart_without_duplicates(
    service: Service, settings: Settings, books: RunningEmulator
) -> None:
    httpx.patch(books.url + "/_emulator/limits", json={"latency_ms": 150})
    try:
        assert run_appliance("import", "customers", env=service.env).returncode == 0

        def half_way() -> bool:
            result = run_appliance("import", "customers", "--last", "--json", env=service.env)
            report = json.loads(result.stdout)
            return report["done"] > 0 and report["state"] == "running"

        wait_until(half_way, timeout=60, what="the import to be half way")
        service.process.send_signal(signal.SIGKILL)
        service.process.wait()
        runs = stored(settings, ImportRun)
        assert runs[-1].state == "running"

        httpx.patch(books.url + "/_emulator/limits", json={"latency_ms": 0})
        restarted = start(service.env, settings)
        service.process = restarted.process
        report = do_last(service.env)
    finally:
        httpx.patch(books.url + "/_emulator/limits", json={"latency_ms": 0})
    assert report["state"] == "done"
    expected = {c["Id"] for c in active(books, "Customer")}
    rows = stored(settings, QboCustomer)
    assert len(rows) == len({r.qbo_id for r in rows}) == len(expected)
    assert {r.qbo_id for r in rows} == expected


def test_import_before_connecting_says_to_connect(settings: Settings) -> None:
    env = env_for(settings)
    assert run_appliance("init", env=env).returncode == 0
    svc = start(env, settings)
    try:
        result = run_appliance("import", "customers", env=env)
    finally:
        svc.stop()
    assert result.returncode == 1
    assert "appliance connect" in result.stderr
