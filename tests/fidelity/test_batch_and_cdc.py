"""Batch (HTTP 200 with per-item faults) and change data capture, in the recorded shapes.

Both recordings use SalesReceipt/Estimate, which the emulator does not model: the replays keep
every operation and swap that entity for Invoice, and compare the envelopes only where the
entity's own fields would differ by nature.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.fidelity.recordings import vcr
from tests.fidelity.replay import faults, invoice_like, named, send
from tests.fidelity.shape import compare, convention_problems
from tests.harness.emulator import RunningEmulator


def _as_invoices(body: Any, entity: str) -> Any:
    """The recorded body with ``entity`` lists renamed Invoice and emptied (envelope only)."""
    body = copy.deepcopy(body)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if entity in node:
                node.pop(entity)
                node["Invoice"] = []
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(body)
    return body


def test_batch_answers_200_with_per_item_faults_610_and_5010_in_the_recorded_shape(
    samples: Path, emulator: RunningEmulator, api: httpx.Client
) -> None:
    (exchange,) = vcr(samples, "batch__basic")
    assert exchange.scrubbed  # really /v3/company/{realm}/batch (SOURCES.md)
    create_vendor, delete_gone, update_stale, query = exchange.request_json()["BatchItemRequest"]
    invoices = emulator.service.companies[emulator.realm].rows("Invoice")
    missing = str(max(int(row["Id"]) for row in invoices) + 1000)
    created = api.post("/invoice", json=invoice_like(emulator, _recorded_invoice(samples)))
    stale = created.json()["Invoice"]
    moved_on = {"Id": stale["Id"], "SyncToken": stale["SyncToken"], "sparse": True}
    bumped = api.post("/invoice", json={**moved_on, "PrivateNote": "moved on"})
    assert bumped.status_code == 200, bumped.text

    delete_gone["Invoice"] = {"Id": missing, "SyncToken": "0"}  # recorded: an unknown invoice
    receipt = update_stale.pop("SalesReceipt")
    update_stale["Invoice"] = {**receipt, "Id": stale["Id"], "SyncToken": stale["SyncToken"]}
    query["Query"] = query["Query"].replace("SalesReceipt", "Invoice")
    request = {"BatchItemRequest": [create_vendor, delete_gone, update_stale, query]}

    response = send(api, exchange, body=request)
    assert response.status_code == exchange.status == 200, response.text
    items = response.json()["BatchItemResponse"]
    recorded_items = exchange.json()["BatchItemResponse"]
    assert [i["bId"] for i in items] == [i["bId"] for i in recorded_items]
    expected = [[], [("610", "ValidationFault")], [("5010", "ValidationFault")], []]
    assert [faults(i) for i in recorded_items] == expected
    assert [faults(i) for i in items] == expected
    recorded = _as_invoices(exchange.json(), "SalesReceipt")
    assert compare(recorded, response.json()) == []
    assert convention_problems(response.json()) == []
    assert items[3]["QueryResponse"]["Invoice"]  # the seeded sales over 300.00


def _recorded_invoice(samples: Path) -> dict[str, Any]:
    (create,) = vcr(samples, "create__invoice")
    return dict(create.json()["Invoice"])


def _changed_since(emulator: RunningEmulator, seconds: float) -> str:
    moment: datetime = emulator.service.clock.now() - timedelta(seconds=seconds)
    return moment.isoformat(timespec="seconds")


def test_cdc_answers_a_query_response_array_per_entity_as_recorded(
    samples: Path, emulator: RunningEmulator, api: httpx.Client
) -> None:
    (exchange,) = vcr(samples, "cdc__basic")
    assert exchange.params["entities"] == "estimate"
    created = api.post("/invoice", json=invoice_like(emulator, _recorded_invoice(samples)))
    assert created.status_code == 200, created.text
    params = {"entities": "invoice", "changedSince": _changed_since(emulator, 3600)}
    response = send(api, exchange, params=params)
    assert response.status_code == exchange.status == 200, response.text
    assert compare(_as_invoices(exchange.json(), "Estimate"), response.json()) == []
    (block,) = response.json()["CDCResponse"]
    (page,) = block["QueryResponse"]  # an array: one element per entity asked for
    assert created.json()["Invoice"]["Id"] in [row["Id"] for row in page["Invoice"]]
    assert page["maxResults"] == len(page["Invoice"])
    # Full payloads: each changed invoice in the shape a create answers (create__invoice.yml).
    for row in page["Invoice"]:
        assert compare(_recorded_invoice(samples), row, path="$.Invoice") == []


def test_cdc_with_the_recorded_old_changed_since_answers_200(
    samples: Path, api: httpx.Client
) -> None:
    (exchange,) = vcr(samples, "cdc__basic")
    params = {**exchange.params, "entities": "invoice"}
    response = send(api, exchange, params=params)
    assert response.status_code == exchange.status == 200, response.text
    assert compare(_as_invoices(exchange.json(), "Estimate"), response.json()) == []


def test_vendor_created_in_a_batch_has_the_recorded_shape(
    samples: Path, emulator: RunningEmulator, api: httpx.Client
) -> None:
    (exchange,) = vcr(samples, "batch__basic")
    (create_vendor,) = [
        item for item in exchange.request_json()["BatchItemRequest"] if item["bId"] == "bid1"
    ]
    create_vendor["Vendor"]["DisplayName"] = "Fidelity batch vendor"
    response = send(api, exchange, body={"BatchItemRequest": [create_vendor]})
    assert response.status_code == 200, response.text
    (item,) = response.json()["BatchItemResponse"]
    recorded = exchange.json()["BatchItemResponse"][0]
    assert compare(recorded, item, path="$.BatchItemResponse[bId=bid1]") == []
    assert item["Vendor"]["SyncToken"] == recorded["Vendor"]["SyncToken"] == "0"
    assert named(emulator, "Vendor", "Fidelity batch vendor")["Id"] == item["Vendor"]["Id"]
