"""The round trip JobRoutr makes with a company's existing customers: the appliance imports them
from QuickBooks, JobRoutr reads them from the pull API and creates its own, and sends each back
as ``customer.created`` with its ``qbo_id``. Every one must link exactly to the customer it came
from: no review, no customer created, and (each already as JobRoutr has it) no write at all."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from appliance.emulator.app import EmulatorConfig
from appliance.storage.models import Event
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, running_gateway
from tests.harness.processes import run_appliance, wait_until
from tests.harness.store import queue_empty, stored

pytestmark = pytest.mark.slow

CUSTOMERS = 5_000
#: The fields of the contract's ``customer.*`` data that JobRoutr keeps from a pulled customer.
CONTRACT = (
    "display_name",
    "given_name",
    "family_name",
    "company_name",
    "email",
    "phone",
    "mobile",
    "billing_address",
    "service_address",
    "notes",
    "taxable",
    "active",
)


@pytest.fixture(scope="module")
def books() -> Iterator[RunningEmulator]:
    with RunningEmulator(EmulatorConfig(customers=CUSTOMERS, items=50)) as emulator:
        yield emulator


@pytest.fixture
def gateway(books: RunningEmulator, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(books, tmp_path, APPLIANCE_PUSH_WORKERS="8") as running:
        yield running


def pulled(gateway: Gateway) -> list[dict[str, Any]]:
    """Every imported customer, page by page, as JobRoutr reads them."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        params: dict[str, Any] = {"limit": 1000} | ({"cursor": cursor} if cursor else {})
        page = gateway.http.get("/api/v1/customers", params=params)
        page.raise_for_status()
        body = page.json()
        if not body["items"]:
            return found
        found += body["items"]
        cursor = body["next_cursor"]
    raise AssertionError("the pull did not end")


def jobroutr_created(customer: dict[str, Any]) -> dict[str, Any]:
    """JobRoutr's customer.created for a customer it made from the pull."""
    data = {k: customer[k] for k in CONTRACT if customer.get(k) is not None}
    data |= {"id": f"cus_rt_{customer['qbo_id']}", "qbo_id": customer["qbo_id"]}
    return {"type": "customer.created", "timestamp": "2026-12-01T09:00:00Z", "data": data}


def test_five_thousand_pulled_customers_sent_back_with_qbo_id_link_exactly_and_write_nothing(
    gateway: Gateway, books: RunningEmulator
) -> None:
    imported = run_appliance(
        "import", "customers", "--wait", "--json", env=gateway.env, timeout=600
    )
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["state"] == "done"
    company = books.service.companies[books.realm]
    tokens = {c["Id"]: c["SyncToken"] for c in company.rows("Customer")}

    customers = pulled(gateway)
    assert len(customers) >= CUSTOMERS * 0.9, "the import brings the company's active customers"
    docs = [jobroutr_created(c) for c in customers]
    with ThreadPoolExecutor(4) as pool:
        sent = list(pool.map(gateway.send, docs))
    assert len(set(sent)) == len(customers)
    wait_until(lambda: queue_empty(gateway.settings), timeout=240, what="every event to be pushed")

    statuses: dict[str, int] = {}
    for row in stored(gateway.settings, Event):
        statuses[row.status] = statuses.get(row.status, 0) + 1
    assert statuses == {"done": len(customers)}, "none in review, none failed"
    linked = {c["qbo_id"]: c.get("jobroutr_id") for c in pulled(gateway)}
    assert linked == {c["qbo_id"]: f"cus_rt_{c['qbo_id']}" for c in customers}
    after = {c["Id"]: c["SyncToken"] for c in company.rows("Customer")}
    assert len(after) == len(tokens), "no customer created in QuickBooks"
    assert after == tokens, "no customer written: each already had JobRoutr's record"
