"""What the pull API and the import summaries say, as JobRoutr and an operator read them: money
written one way ("75.00"), and what an import left out on purpose (inactive records, categories)
said in the CLI and the pull status, with the numbers QuickBooks has."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from appliance.emulator.app import EmulatorConfig
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, running_gateway
from tests.harness.processes import run_appliance

pytestmark = pytest.mark.slow

MONEY = re.compile(r"^-?\d+\.\d{2,}$")
SELLABLE = ("Service", "NonInventory", "Inventory")


@pytest.fixture(scope="module")
def books() -> Iterator[RunningEmulator]:
    """Generated books: some customers and items inactive, categories, whole-unit prices."""
    with RunningEmulator(EmulatorConfig(customers=400, items=150)) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def gateway(books: RunningEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Connected, customers and products imported."""
    with running_gateway(books, tmp_path_factory.mktemp("plain")) as running:
        for kind in ("customers", "products"):
            done = run_appliance("import", kind, "--wait", "--json", env=running.env)
            assert done.returncode == 0, done.stderr
        yield running


def rows(books: RunningEmulator, entity: str) -> list[dict[str, Any]]:
    return list(books.service.companies[books.realm].rows(entity))


def pulled(gateway: Gateway, path: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page = gateway.http.get(path, params={"limit": 1000}).json()
    while page["items"]:
        found += page["items"]
        page = gateway.http.get(path, params={"limit": 1000, "cursor": page["next_cursor"]}).json()
    return found


def test_prices_and_balances_are_written_with_cents(
    gateway: Gateway, books: RunningEmulator
) -> None:
    whole = [
        i for i in rows(books, "Item")
        if i.get("Active", True) and i["Type"] in SELLABLE and "UnitPrice" in i
        and Decimal(str(i["UnitPrice"])) == Decimal(str(i["UnitPrice"])).to_integral_value()
    ]  # fmt: skip
    assert whole, "the books should have items priced in whole units (75, 0)"
    products = {p["qbo_id"]: p for p in pulled(gateway, "/api/v1/products")}
    assert all(MONEY.match(p["price"]) for p in products.values()), [
        p["price"] for p in products.values() if not MONEY.match(p["price"])
    ]
    for item in whole:
        assert products[item["Id"]]["price"] == f"{Decimal(str(item['UnitPrice'])):.2f}"
    balances = [c.get("balance") for c in pulled(gateway, "/api/v1/customers")]
    assert all(MONEY.match(b) for b in balances if b is not None), balances


def left_out(books: RunningEmulator) -> dict[str, dict[str, int]]:
    customers = rows(books, "Customer")
    items = rows(books, "Item")
    return {
        "customers": {"inactive": sum(1 for c in customers if c.get("Active") is False)},
        "products": {
            "inactive": sum(1 for i in items if i.get("Active") is False and i["Type"] in SELLABLE),
            "categories": sum(
                1 for i in items if i["Type"] == "Category" and i.get("Active") is not False
            ),
        },
    }


def test_the_import_summary_says_what_it_left_out_on_purpose(
    gateway: Gateway, books: RunningEmulator
) -> None:
    expected = left_out(books)
    assert expected["customers"]["inactive"], "the books should have inactive customers"
    assert expected["products"]["categories"], "the books should have categories"
    for kind, counts in expected.items():
        shown = run_appliance("import", kind, "--last", "--json", env=gateway.env)
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["left_out"] == counts
    customers = run_appliance("import", "customers", "--last", env=gateway.env)
    inactive = expected["customers"]["inactive"]
    assert f"Active only; {inactive} inactive not imported." in customers.stdout
    products = run_appliance("import", "products", "--last", env=gateway.env)
    sentence = (
        f"Active only; {expected['products']['inactive']} inactive, "
        f"{expected['products']['categories']} categories not imported."
    )
    assert sentence in products.stdout, products.stdout

    status = gateway.http.get("/api/v1/status").json()
    assert status["last_imports"]["customers"]["left_out"] == expected["customers"]
    assert status["last_imports"]["products"]["left_out"] == expected["products"]
    assert status["last_imports"]["products"]["summary"].endswith(sentence)
