"""Importing from QuickBooks as an operator does, against an emulator with large, awkward books."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator

import httpx
import pytest

from appliance.config import Settings
from appliance.emulator.app import EmulatorConfig
from appliance.storage.models import ImportRun, QboCustomer, QboItem, QboTaxCode
from tests.harness.cli import connect_link
from tests.harness.emulator import RunningEmulator, approve
from tests.harness.processes import run_appliance, wait_until
from tests.harness.service import Service, env_for, start
from tests.harness.store import stored

pytestmark = [pytest.mark.slow, pytest.mark.stores]


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
    init = run_appliance("init", env=env)
    assert init.returncode == 0
    svc = start(env, settings)
    svc.api_key = next(w for w in init.stdout.split() if w.startswith("jra_"))  # type: ignore[attr-defined]
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

    pulled = pull(service, "/api/v1/products", limit=1000)
    products_seen: list[dict] = []
    while pulled.json()["items"]:
        products_seen += pulled.json()["items"]
        pulled = pull(service, "/api/v1/products", limit=1000, cursor=pulled.json()["next_cursor"])
    assert sorted(p["qbo_id"] for p in products_seen) == sorted(i.qbo_id for i in items)
    assert all(p["price"] and p["type"] in ("service", "non_inventory", "inventory")
               for p in products_seen)  # fmt: skip


def test_reimport_brings_changes_and_deactivations_in(
    service: Service, settings: Settings, books: RunningEmulator
) -> None:
    do_import(service.env, "customers")
    token = books.token()
    with books.api(token) as api:
        customers = active(books, "Customer")
        first = api.get(f"/customer/{customers[0]['Id']}").json()["Customer"]
        api.post(
            "/customer",
            json={"Id": first["Id"], "SyncToken": first["SyncToken"], "sparse": True,
                  "Notes": "changed in QuickBooks"},
        ).raise_for_status()  # fmt: skip
        # QBO refuses to make inactive a customer who owes money: pick one who owes nothing.
        parents = {c.get("ParentRef", {}).get("value") for c in customers}
        settled = next(
            c for c in customers[1:]
            if not c.get("BalanceWithJobs") and not c.get("Job") and c["Id"] not in parents
        )  # fmt: skip
        second = api.get(f"/customer/{settled['Id']}").json()["Customer"]
        off = {"Id": second["Id"], "SyncToken": second["SyncToken"], "sparse": True,
               "Active": False}  # fmt: skip
        api.post("/customer", json=off).raise_for_status()
    again = do_import(service.env, "customers")
    assert again["state"] == "done"
    rows = {r.qbo_id: r for r in stored(settings, QboCustomer)}
    assert rows[first["Id"]].data["notes"] == "changed in QuickBooks"
    now_inactive = [c["Id"] for c in books.service.companies[books.realm].rows("Customer")
                    if not c.get("Active", True) and c["Id"] in rows]  # fmt: skip
    assert second["Id"] in now_inactive
    for qbo_id in now_inactive:
        assert rows[qbo_id].active is False


def test_tax_codes_are_imported_from_the_command_line_and_shown_in_the_status(
    service: Service, settings: Settings
) -> None:
    tax_codes = do_import(service.env, "tax_codes")
    assert tax_codes["state"] == "done"
    # An automated-sales-tax company: only the line pseudo-codes, no rates of their own.
    assert (tax_codes["done"], tax_codes["skipped"]) == (2, 0)
    assert {(c.qbo_id, c.percent) for c in stored(settings, QboTaxCode)} == {
        ("TAX", None),
        ("NON", None),
    }
    status = pull(service, "/api/v1/status").json()
    assert status["last_imports"]["tax_codes"]["done"] == 2
    assert status["books"]["tax_model"] == "ast"


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


def pull(service: Service, path: str, key: str | None = "use", **params: object) -> httpx.Response:
    headers = {} if key is None else {"Authorization": f"Bearer {service.api_key}"}  # type: ignore[attr-defined]
    return httpx.get(service.url + path, params=params, headers=headers, timeout=30)


def test_the_pull_api_serves_the_imported_sets_and_then_only_what_changed(
    service: Service, books: RunningEmulator
) -> None:
    do_import(service.env, "customers")
    seen: dict[str, dict] = {}
    cursor = None
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        body = pull(service, "/api/v1/customers", **params).json()
        cursor = body["next_cursor"]
        if not body["items"]:
            break
        for item in body["items"]:
            assert item["qbo_id"] not in seen
            seen[item["qbo_id"]] = item
    assert set(seen) == {c["Id"] for c in active(books, "Customer")}
    amy = next(i for i in seen.values() if i["display_name"] == "Amy's Bird Sanctuary")
    assert amy["billing_address"]["city"] == "Bayshore"
    assert amy["jobroutr_id"] is None

    with books.api() as api:
        record = api.get(f"/customer/{amy['qbo_id']}").json()["Customer"]
        api.post(
            "/customer",
            json={"Id": record["Id"], "SyncToken": record["SyncToken"], "sparse": True,
                  "Notes": "pulled again"},
        ).raise_for_status()  # fmt: skip
    do_import(service.env, "customers")
    changed = pull(service, "/api/v1/customers", cursor=cursor).json()
    assert [i["qbo_id"] for i in changed["items"]] == [amy["qbo_id"]]
    assert changed["items"][0]["notes"] == "pulled again"
    assert pull(service, "/api/v1/customers", cursor=changed["next_cursor"]).json()["items"] == []

    status = pull(service, "/api/v1/status").json()
    assert status["connection"]["connected"] is True
    assert status["last_imports"]["customers"]["state"] == "done"


def test_the_pull_api_refuses_without_a_key_and_explains_bad_input(service: Service) -> None:
    assert pull(service, "/api/v1/customers", key=None).status_code == 401
    bad = httpx.get(
        service.url + "/api/v1/customers", headers={"Authorization": "Bearer jra_wrong"}
    )
    assert bad.status_code == 401
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert pull(service, "/api/v1/customers", cursor="not-a-cursor").status_code == 400
    assert pull(service, "/api/v1/customers", limit=5000).status_code == 400
    assert pull(service, "/api/v1/links/customer/jr-1").status_code == 404
    assert pull(service, "/api/v1/accounts", kind="sideways").status_code == 400


def test_default_accounts_accept_only_active_accounts_of_a_fitting_type(
    service: Service, books: RunningEmulator
) -> None:
    do_import(service.env, "accounts")
    listed = run_appliance("accounts", "--kind", "income", "--json", env=service.env)
    income = json.loads(listed.stdout)
    assert income
    assert {a["account_type"] for a in income} <= {"Income", "Other Income"}
    expense = json.loads(
        run_appliance("accounts", "--kind", "expense", "--json", env=service.env).stdout
    )

    wrong = run_appliance(
        "settings", "set", "--income-account", expense[0]["qbo_id"], env=service.env
    )
    assert wrong.returncode == 1
    assert "a default income account must be" in wrong.stderr

    with books.api() as api:
        spare = income[-1]
        record = api.get(f"/account/{spare['qbo_id']}").json()["Account"]
        api.post(
            "/account",
            json={"Id": record["Id"], "SyncToken": record["SyncToken"], "sparse": True,
                  "Active": False},
        ).raise_for_status()  # fmt: skip
    do_import(service.env, "accounts")
    inactive = run_appliance(
        "settings", "set", "--income-account", spare["qbo_id"], env=service.env
    )
    assert inactive.returncode == 1
    assert "inactive" in inactive.stderr

    chosen = run_appliance(
        "settings", "set", "--income-account", income[0]["qbo_id"],
        "--expense-account", expense[0]["qbo_id"], "--json", env=service.env,
    )  # fmt: skip
    assert chosen.returncode == 0, chosen.stderr
    saved = json.loads(run_appliance("settings", "show", "--json", env=service.env).stdout)
    assert saved["income_account"]["qbo_id"] == income[0]["qbo_id"]
    assert saved["expense_account"]["qbo_id"] == expense[0]["qbo_id"]
    picked = pull(service, "/api/v1/accounts", kind="income").json()["items"]
    assert spare["qbo_id"] not in {a["qbo_id"] for a in picked if a["active"]}


def test_mark_complete_is_allowed_with_tasks_left_and_names_them(service: Service) -> None:
    before = json.loads(run_appliance("onboarding", "--json", env=service.env).stdout)
    tasks = {t["task"]: t["done"] for t in before["tasks"]}
    assert tasks["connect"] is True
    done = json.loads(run_appliance("onboarding", "--complete", "--json", env=service.env).stdout)
    assert done["completed_at"]
    undone = [t["name"] for t in done["tasks"] if not t["done"]]
    assert done["skipped"] == undone
