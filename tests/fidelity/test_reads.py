"""Reads by id replayed: a seeded customer, an item created through the API, a seeded invoice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.fidelity.recordings import nango, vcr
from tests.fidelity.replay import INVOICE_2026_GAPS, INVOICE_DATA, allowing, media_type, named, send
from tests.fidelity.shape import compare, convention_problems
from tests.harness.emulator import RunningEmulator

#: The same sandbox customer (Id 5, SyncToken 1) is recorded with DefaultTaxCodeRef in
#: get__id.yml and without it in all__alt_select.yml: its presence is that record's data.
CUSTOMER_DATA = {"DefaultTaxCodeRef": "present or not on the same recorded customer"}


def test_read_customer_by_id_has_the_recorded_shape_and_headers(
    samples: Path, emulator: RunningEmulator, api: httpx.Client
) -> None:
    (exchange,) = vcr(samples, "get__id")
    recorded = exchange.json()["Customer"]
    rid = named(emulator, "Customer", recorded["DisplayName"])["Id"]
    response = send(api, exchange, path=f"customer/{rid}")
    assert response.status_code == exchange.status == 200
    assert media_type(response.headers["content-type"]) == media_type(
        exchange.headers["content-type"]
    )
    assert "intuit-tid" in exchange.headers
    assert response.headers.get("intuit-tid")
    assert compare(exchange.json(), response.json(), allowed_missing=allowing(CUSTOMER_DATA)) == []
    assert convention_problems(response.json()) == []


def test_nango_read_of_an_item_created_through_the_api_has_the_recorded_shape(
    samples: Path, emulator: RunningEmulator, api: httpx.Client
) -> None:
    # Item 19 of the recording was created by the API minutes earlier; do the same here.
    exchange = nango(samples, "get-item")
    recorded = exchange.json()["Item"]
    income = named(emulator, "Account", recorded["IncomeAccountRef"]["name"])
    created = api.post(
        "/item",
        json={
            "Name": "Fidelity read item",
            "Type": recorded["Type"],
            "IncomeAccountRef": {"value": income["Id"]},
        },
    )
    assert created.status_code == 200, created.text
    response = send(api, exchange, path=f"item/{created.json()['Item']['Id']}")
    assert response.status_code == exchange.status == 200
    assert compare(exchange.json(), response.json()) == []
    assert convention_problems(response.json()) == []


def _seeded_like(emulator: RunningEmulator, recorded: dict[str, Any]) -> dict[str, Any]:
    """The seeded invoice that sells the same items as the recorded one (the same sandbox sale)."""
    wanted = [
        line["SalesItemLineDetail"]["ItemRef"]["name"]
        for line in recorded["Line"]
        if line["DetailType"] == "SalesItemLineDetail"
    ]
    for row in emulator.service.companies[emulator.realm].rows("Invoice"):
        items = [
            line["SalesItemLineDetail"]["ItemRef"]["name"]
            for line in row["Line"]
            if line["DetailType"] == "SalesItemLineDetail"
        ]
        if items == wanted:
            return dict(row)
    raise LookupError(f"no seeded invoice sells {wanted}")


def test_nango_read_of_a_seeded_invoice_has_the_recorded_shape(
    samples: Path, emulator: RunningEmulator, api: httpx.Client
) -> None:
    exchange = nango(samples, "get-invoice")
    seeded = _seeded_like(emulator, exchange.json()["Invoice"])
    response = send(api, exchange, path=f"invoice/{seeded['Id']}")
    assert response.status_code == exchange.status == 200
    allowed = allowing(INVOICE_DATA, INVOICE_2026_GAPS)
    assert compare(exchange.json(), response.json(), allowed_missing=allowed) == []


def test_a_seeded_invoice_read_follows_qbos_value_conventions(
    samples: Path, emulator: RunningEmulator, api: httpx.Client
) -> None:
    exchange = nango(samples, "get-invoice")
    seeded = _seeded_like(emulator, exchange.json()["Invoice"])
    response = send(api, exchange, path=f"invoice/{seeded['Id']}")
    assert response.status_code == 200
    assert convention_problems(response.json()) == []
