"""The invoice push end to end in a British company: the service as installed, JobRoutr's
signed events, the operator's tax mappings in the store, and the emulator as the judge. Without
a tax code on every line QuickBooks refuses a UK invoice (6000); with them it holds the bill."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from appliance.emulator.app import EmulatorConfig
from appliance.storage import taxes
from appliance.storage.store import Store
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, choose_default_accounts, running_gateway
from tests.harness.jobroutr import example


@pytest.fixture(scope="module")
def uk_books() -> Iterator[RunningEmulator]:
    with RunningEmulator(EmulatorConfig(company="uk")) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def gateway(
    uk_books: RunningEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    with running_gateway(uk_books, tmp_path_factory.mktemp("uk")) as running:
        yield running


def _product(product_id: str, name: str, price: str) -> dict[str, Any]:
    return {
        "type": "product.created",
        "timestamp": "2026-12-02T09:00:00Z",
        "data": {"id": product_id, "name": name, "type": "service", "price": price},
    }


def test_the_vat_example_reaches_a_uk_company_with_the_bills_totals(
    gateway: Gateway, uk_books: RunningEmulator
) -> None:
    choose_default_accounts(gateway)
    store = Store.open(gateway.settings)
    try:  # the operator's mapping step, as the store keeps it
        for rate_id, name, percent, code in (("vat20", "VAT 20%", "20", "1"),
                                             ("vat0", "Zero-rated", "0", "3")):  # fmt: skip
            taxes.learn(store.engine, uk_books.realm, [{"id": rate_id, "name": name,
                                                        "percent": percent}], None)  # fmt: skip
            taxes.set_mapping(store.engine, uk_books.realm, rate_id, code, "test")
    finally:
        store.close()
    sent = [
        gateway.send(example("customer.created.vat")),
        gateway.send(_product("prd_boiler_service", "Annual boiler service", "85.00")),
        gateway.send(_product("prd_parts", "Thermocouple", "12.50")),
        gateway.send(_product("prd_callout", "Call-out", "30.00")),
        gateway.send(example("invoice.created.vat")),
    ]
    results = gateway.settle(*sent)
    assert [r["status"] for r in results] == ["done"] * 5, results
    invoice_id = gateway.link("invoice", "inv_uk_0003")
    assert invoice_id
    record = uk_books.service.companies[uk_books.realm].get("Invoice", invoice_id)
    assert Decimal(str(record["TotalAmt"])) == Decimal("162.00")
    assert Decimal(str(record["TxnTaxDetail"]["TotalTax"])) == Decimal("22.00")

    # A currency the company does not keep is refused before anything is written.
    euro = copy.deepcopy(example("invoice.created.vat"))
    euro["data"].update(id="inv_uk_eur", currency="EUR", exchange_rate="0.86")
    count = len(uk_books.service.companies[uk_books.realm].rows("Invoice"))
    [refused] = gateway.settle(gateway.send(euro))
    assert refused["status"] == "failed"
    assert refused["error"]["code"] == "currency-off"
    assert "EUR" in refused["error"]["message"]
    assert refused["error"]["hint"]
    assert len(uk_books.service.companies[uk_books.realm].rows("Invoice")) == count
