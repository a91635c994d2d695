"""Knowing the company, in-process against the emulator's five company kinds: at connect and on an
accounts import the appliance reads how the company keeps its books (country, tax model, currency)
and shows it in the status; a failed read never fails what asked for it.

The expected figures are written out by hand from ../shared/qbo/FACTS.md section 11 and the
emulator's company kinds (tests/emulator/test_company_kinds.py), not read from the code under test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from sqlmodel import select

from appliance.config import Settings
from appliance.gateway.app import create_admin_app, create_app
from appliance.storage import credentials
from appliance.storage.books import get_books
from appliance.storage.models import QboTaxCode
from appliance.storage.store import Store, initialize
from appliance.storage.taxes import learn, mappings
from tests.harness.emulator import RunningEmulator, approve

KIND_REALMS = {
    kind: f"462081636500001{n}"
    for n, kind in enumerate(("us-ast", "us-manual", "ca", "uk", "au"), 1)
}
# kind: (tax model, country, home currency)
BOOKS = {
    "us-ast": ("ast", "US", "USD"),
    "us-manual": ("us_manual", "US", "USD"),
    "ca": ("per_line", "CA", "CAD"),
    "uk": ("per_line", "GB", "GBP"),
    "au": ("per_line", "AU", "AUD"),
}


@pytest.fixture(scope="module")
def kinds() -> Iterator[RunningEmulator]:
    """One emulator with a company of each kind, made through its control API."""
    with RunningEmulator() as running:
        for kind, realm in KIND_REALMS.items():
            made = httpx.put(f"{running.url}/_emulator/companies/{realm}", json={"kind": kind})
            assert made.status_code == 200, made.text
        yield running


@pytest.fixture
def appliance_store(tmp_path: Path, kinds: RunningEmulator, short_dir: Path) -> Iterator[Store]:
    settings = Settings(
        state_dir=tmp_path / "state",
        qbo_emulator_url=kinds.url,
        admin_socket=short_dir / "admin.sock",
        log_format="json",
        qbo_retry_initial_seconds=0.01,
    )
    initialize(settings, actor="test")
    store = Store.open(settings)
    yield store
    store.close()


@pytest.fixture
def admin(appliance_store: Store) -> Iterator[TestClient]:
    """The admin API with its own runtime, as the CLI and the console reach it."""
    with TestClient(create_admin_app(appliance_store.settings, appliance_store)) as client:
        client.headers["X-Appliance-Operator"] = "dana@cli"
        yield client


def connect(admin: TestClient, realm: str) -> dict[str, Any]:
    started = admin.post("/v1/connect/start", json={})
    assert started.status_code == 200, started.text
    location = approve(started.json()["authorization_url"], realm)
    finished = admin.post("/v1/connect/finish", json={"redirect_url": location})
    assert finished.status_code == 200, finished.text
    return dict(finished.json())


def run_import(admin: TestClient, kind: str) -> dict[str, Any]:
    started = admin.post(f"/v1/imports/{kind}")
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        latest = admin.get(f"/v1/imports/{kind}").json()
        if latest["state"] != "running":
            return dict(latest)
        time.sleep(0.05)
    raise AssertionError(f"the import of {kind} did not end within 60 s")


def fault(emulator: RunningEmulator, **rule: object) -> None:
    httpx.post(emulator.url + "/_emulator/faults", json=rule).raise_for_status()


@pytest.mark.parametrize("kind", list(KIND_REALMS))
def test_connecting_reads_the_companys_tax_model_country_and_currency(
    admin: TestClient, appliance_store: Store, kind: str
) -> None:
    realm = KIND_REALMS[kind]
    connect(admin, realm)
    model, country, currency = BOOKS[kind]
    books = get_books(appliance_store.engine, realm)
    assert books is not None
    assert (books.tax_model.value, books.country, books.home_currency) == (
        model,
        country,
        currency,
    )
    assert books.multicurrency is False
    assert books.allow_discount is True
    assert books.custom_txn_numbers is False
    shown = admin.get("/v1/status").json()["books"]
    assert (shown["tax_model"], shown["country"], shown["home_currency"]) == (
        model,
        country,
        currency,
    )
    assert shown["multicurrency"] is False
    assert shown["tax_model_name"]
    assert shown["read_at"]


def test_the_pull_api_status_carries_the_books(
    admin: TestClient, appliance_store: Store, kinds: RunningEmulator
) -> None:
    connect(admin, KIND_REALMS["uk"])
    with appliance_store.session() as session:
        _, key = credentials.create_api_key(session, label="test")
        session.commit()
    with TestClient(create_app(appliance_store.settings, appliance_store)) as public:
        answer = public.get("/api/v1/status", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text
    books = answer.json()["books"]
    assert books["tax_model"] == "per_line"
    assert (books["country"], books["home_currency"], books["multicurrency"]) == (
        "GB",
        "GBP",
        False,
    )


def test_an_accounts_import_reads_the_preferences_again(
    admin: TestClient, appliance_store: Store, kinds: RunningEmulator
) -> None:
    realm = KIND_REALMS["ca"]
    connect(admin, realm)
    before = get_books(appliance_store.engine, realm)
    assert before is not None
    assert before.multicurrency is False
    turned_on = httpx.patch(
        f"{kinds.url}/_emulator/companies/{realm}", json={"multicurrency": True}
    )
    assert turned_on.status_code == 200, turned_on.text
    assert run_import(admin, "accounts")["state"] == "done"
    after = get_books(appliance_store.engine, realm)
    assert after is not None
    assert after.multicurrency is True
    assert after.read_at is not None
    assert before.read_at is not None
    assert after.read_at > before.read_at
    assert admin.get("/v1/status").json()["books"]["multicurrency"] is True


def test_a_failed_read_of_the_preferences_keeps_the_old_books_and_says_so(
    admin: TestClient, appliance_store: Store, kinds: RunningEmulator
) -> None:
    realm = KIND_REALMS["au"]
    fault(kinds, kind="500", count=50, path_contains="/preferences")
    try:
        info = connect(admin, realm)  # connecting works all the same
        assert info["state"] == "connected"
        assert get_books(appliance_store.engine, realm) is None
        status = admin.get("/v1/status").json()
        assert status["books"] is None
        (warning,) = [w for w in status["connection"]["warnings"] if "settings" in w]
        assert "could not be read from QuickBooks at connect" in warning
        assert "appliance import accounts" in warning
    finally:
        httpx.delete(kinds.url + "/_emulator/faults").raise_for_status()
    assert run_import(admin, "accounts")["state"] == "done"
    kept = get_books(appliance_store.engine, realm)
    assert kept is not None
    assert kept.tax_model.value == "per_line"
    status = admin.get("/v1/status").json()
    assert not [w for w in status["connection"]["warnings"] if "settings" in w]

    # A later failure keeps the books read before, and the import of the accounts still runs.
    fault(kinds, kind="500", count=50, path_contains="/preferences")
    try:
        assert run_import(admin, "accounts")["state"] == "done"
    finally:
        httpx.delete(kinds.url + "/_emulator/faults").raise_for_status()
    assert get_books(appliance_store.engine, realm) == kept
    status = admin.get("/v1/status").json()
    assert status["books"]["tax_model"] == "per_line"
    (warning,) = [w for w in status["connection"]["warnings"] if "settings" in w]
    assert "at accounts import" in warning
    assert "are used meanwhile" in warning


# kind: {TaxCode Name: (sum of its sales rates' percents, or None for none, taxable, group)}
TAX_CODES: dict[str, dict[str, tuple[str | None, bool, bool]]] = {
    "us-ast": {"TAX": (None, True, False), "NON": (None, False, False)},
    "us-manual": {
        "TAX": (None, True, False),
        "NON": (None, False, False),
        "California": ("8", True, False),
        "Tucson": ("8.2", True, True),  # a group: AZ State tax 5.6 + Tucson City 2.6
    },
    "ca": {
        "GST": ("5", True, False),
        "HST ON": ("13", True, False),
        "Zero-rated": ("0", True, False),
        "Exempt": ("0", False, False),
    },
    "uk": {
        "20.0% S": ("20", True, False),
        "5.0% R": ("5", True, False),
        "0.0% Z": ("0", True, False),
        "Exempt": ("0", False, False),
    },
    "au": {"GST": ("10", True, False), "GST-free": ("0", False, False)},
}


def tax_codes(store: Store, realm: str) -> dict[str, QboTaxCode]:
    with store.session() as session:
        rows = session.exec(select(QboTaxCode).where(QboTaxCode.realm_id == realm)).all()
        return {row.name: row for row in rows}


@pytest.mark.parametrize("kind", list(KIND_REALMS))
def test_the_tax_codes_import_brings_in_each_code_with_its_rates_and_percent(
    admin: TestClient, appliance_store: Store, kind: str
) -> None:
    realm = KIND_REALMS[kind]
    connect(admin, realm)
    run = run_import(admin, "tax_codes")
    assert run["state"] == "done", run
    assert (run["done"], run["skipped"]) == (len(TAX_CODES[kind]), 0)
    found = tax_codes(appliance_store, realm)
    assert {
        name: (
            None if row.percent is None else Decimal(row.percent),
            row.taxable,
            row.tax_group,
        )
        for name, row in found.items()
    } == {
        name: (None if percent is None else Decimal(percent), taxable, group)
        for name, (percent, taxable, group) in TAX_CODES[kind].items()
    }
    assert all(row.active for row in found.values())
    for row in found.values():  # the percent is the sum of the rates it lists
        total = sum((Decimal(rate["percent"]) for rate in row.rates), Decimal(0))
        assert (row.percent is None) == (not row.rates)
        assert row.percent is None or Decimal(row.percent) == total
    if kind == "us-manual":
        tucson = found["Tucson"]
        assert [(r["name"], Decimal(r["percent"])) for r in tucson.rates] == [
            ("AZ State tax", Decimal("5.6")),
            ("Tucson City", Decimal("2.6")),
        ]
        assert [r["qbo_id"] for r in found["California"].rates] == ["3"]  # the recorded rate
    assert admin.get("/v1/imports/tax_codes").json()["state"] == "done"


def test_a_tax_code_made_inactive_or_gone_in_quickbooks_is_inactive_after_the_next_import(
    admin: TestClient, appliance_store: Store, kinds: RunningEmulator
) -> None:
    realm = "4620816365000019"
    made = httpx.put(f"{kinds.url}/_emulator/companies/{realm}", json={"kind": "uk"})
    assert made.status_code == 200, made.text
    connect(admin, realm)
    assert run_import(admin, "tax_codes")["state"] == "done"
    assert all(row.active for row in tax_codes(appliance_store, realm).values())

    records = kinds.service.companies[realm].records["TaxCode"]
    reduced = next(code for code in records.values() if code["Name"] == "5.0% R")
    reduced["Active"] = False  # QBO keeps a code once used: it can only be made inactive
    exempt = next(qbo_id for qbo_id, code in records.items() if code["Name"] == "Exempt")
    del records[exempt]  # not listed any more, however that came about
    assert run_import(admin, "tax_codes")["state"] == "done"
    found = tax_codes(appliance_store, realm)
    assert {name for name, row in found.items() if not row.active} == {"5.0% R", "Exempt"}
    assert found["20.0% S"].active
    assert found["Exempt"].data["active"] is False


def test_an_unknown_import_kind_is_refused_naming_tax_codes_among_the_choices(
    admin: TestClient,
) -> None:
    answer = admin.post("/v1/imports/taxes")
    assert answer.status_code == 404
    assert "tax_codes" in answer.json()["hint"]


def test_a_rate_learned_before_the_codes_were_imported_is_suggested_by_the_import(
    admin: TestClient, appliance_store: Store
) -> None:
    realm = KIND_REALMS["uk"]
    connect(admin, realm)
    rate = {"id": "vat20", "name": "VAT 20%", "percent": "20"}
    learn(appliance_store.engine, realm, [rate], "evt_first")
    assert mappings(appliance_store.engine, realm)["vat20"].suggested_qbo_id is None  # no codes
    assert run_import(admin, "tax_codes")["state"] == "done"
    suggested = mappings(appliance_store.engine, realm)["vat20"].suggested_qbo_id
    assert suggested is not None
    assert tax_codes(appliance_store, realm)["20.0% S"].qbo_id == suggested
