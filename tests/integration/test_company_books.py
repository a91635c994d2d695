"""Knowing the company, in-process against the emulator's five company kinds: at connect and on an
accounts import the appliance reads how the company keeps its books (country, tax model, currency)
and shows it in the status; a failed read never fails what asked for it.

The expected figures are written out by hand from ../shared/qbo/FACTS.md section 11 and the
emulator's company kinds (tests/emulator/test_company_kinds.py), not read from the code under test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from appliance.config import Settings
from appliance.gateway.app import create_admin_app, create_app
from appliance.storage import credentials
from appliance.storage.books import get_books
from appliance.storage.store import Store, initialize
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
