"""Updates replayed: full and sparse, and what each does to the SyncToken."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.fidelity.recordings import nango, vcr
from tests.fidelity.replay import (
    INVOICE_DATA,
    advance_clock,
    allowing,
    current,
    faults,
    invoice_like,
    named,
    send,
)
from tests.fidelity.shape import compare, convention_problems
from tests.harness.emulator import RunningEmulator


def _bump(before: dict[str, Any], after: dict[str, Any]) -> int:
    return int(after["SyncToken"]) - int(before["SyncToken"])


def test_full_customer_update_bumps_the_synctoken_and_renames_as_recorded(
    samples: Path, emulator: RunningEmulator, api: httpx.Client
) -> None:
    read, update = vcr(samples, "update__customer")
    recorded_before = read.json()["Customer"]
    recorded_after = update.json()["Customer"]
    # The recording reads a customer created with only a DisplayName, then updates it.
    created = api.post("/customer", json={"DisplayName": recorded_before["DisplayName"]})
    assert created.status_code == 200, created.text
    rid = created.json()["Customer"]["Id"]

    got = send(api, read, path=f"customer/{rid}")
    assert got.status_code == read.status == 200
    assert compare(read.json(), got.json()) == []

    advance_clock(emulator, 2)  # the recording's LastUpdatedTime moves on; seconds resolution
    body = update.request_json()
    assert "sparse" not in body  # a full update
    body.update(Id=rid, SyncToken=got.json()["Customer"]["SyncToken"])
    response = send(api, update, body=body)
    assert response.status_code == update.status == 200, response.text
    assert compare(update.json(), response.json()) == []
    assert convention_problems(response.json()) == []

    before, after = got.json()["Customer"], response.json()["Customer"]
    assert _bump(before, after) == _bump(recorded_before, recorded_after) == 1
    assert after["MetaData"]["LastUpdatedTime"] != before["MetaData"]["LastUpdatedTime"]
    assert after["MetaData"]["CreateTime"] == before["MetaData"]["CreateTime"]
    for derived in ("FullyQualifiedName", "PrintOnCheckName"):  # follow the new DisplayName
        assert recorded_after[derived] == recorded_after["DisplayName"] == body["DisplayName"]
        assert after[derived] == after["DisplayName"] == body["DisplayName"]


def test_nango_sparse_customer_rename_keeps_other_fields_and_bumps_the_synctoken(
    samples: Path, emulator: RunningEmulator, api: httpx.Client
) -> None:
    exchange = nango(samples, "update-customer")
    recorded = exchange.json()["Customer"]
    # The recording renames the sandbox's customer 1; its CompanyName still names it.
    seeded = named(emulator, "Customer", recorded["CompanyName"])
    before = current(api, "Customer", seeded["Id"])
    body = exchange.request_json()
    assert body["sparse"] is True
    body.update(Id=before["Id"], SyncToken=before["SyncToken"])
    response = send(api, exchange, body=body)
    assert response.status_code == exchange.status == 200, response.text
    assert compare(exchange.json(), response.json()) == []
    assert convention_problems(response.json()) == []
    after = response.json()["Customer"]
    recorded_bump = int(recorded["SyncToken"]) - int(exchange.request_json()["SyncToken"])
    assert _bump(before, after) == recorded_bump == 1
    assert after["sparse"] is recorded["sparse"] is False  # echoed false after a sparse update
    assert after["DisplayName"] == after["FullyQualifiedName"] == body["DisplayName"]
    for kept in ("GivenName", "FamilyName", "CompanyName", "PrimaryPhone", "BillAddr"):
        assert after[kept] == before[kept], kept


def test_nango_sparse_item_update_that_changes_nothing_keeps_the_synctoken(
    samples: Path, emulator: RunningEmulator, api: httpx.Client
) -> None:
    exchange = nango(samples, "update-item")
    request, recorded = exchange.request_json(), exchange.json()["Item"]
    # Recorded: the item already had that name, and the SyncToken stayed at 1.
    assert recorded["Name"] == request["Name"]
    assert recorded["SyncToken"] == request["SyncToken"]
    item = named(emulator, "Item", recorded["Name"])  # the sandbox's item 1 (SANDBOX_RENAMES)
    rename = {"Id": item["Id"], "SyncToken": item["SyncToken"], "sparse": True}
    renamed = api.post("/item", json={**rename, "Name": request["Name"]})
    assert renamed.status_code == 200, renamed.text
    assert _bump(item, renamed.json()["Item"]) == 1  # a real change does bump it

    before = renamed.json()["Item"]
    request.update(Id=before["Id"], SyncToken=before["SyncToken"])
    response = send(api, exchange, body=request)
    assert response.status_code == exchange.status == 200, response.text
    assert compare(exchange.json(), response.json()) == []
    assert convention_problems(response.json()) == []
    assert _bump(before, response.json()["Item"]) == 0


def test_nango_sparse_invoice_note_bumps_the_synctoken_and_keeps_the_lines(
    samples: Path, emulator: RunningEmulator, api: httpx.Client
) -> None:
    exchange = nango(samples, "update-invoice")
    # The recording notes a sandbox invoice: create one like it (customer, lines, memo).
    created = api.post("/invoice", json=invoice_like(emulator, exchange.json()["Invoice"]))
    assert created.status_code == 200, created.text
    before = created.json()["Invoice"]
    body = exchange.request_json()
    assert body["sparse"] is True
    body.update(Id=before["Id"], SyncToken=before["SyncToken"])
    response = send(api, exchange, body=body)
    assert response.status_code == exchange.status == 200, response.text
    allowed = allowing(INVOICE_DATA)
    assert compare(exchange.json(), response.json(), allowed_missing=allowed) == []
    assert convention_problems(response.json()) == []
    after = response.json()["Invoice"]
    recorded_bump = int(exchange.json()["Invoice"]["SyncToken"]) - int(
        exchange.request_json()["SyncToken"]
    )
    assert _bump(before, after) == recorded_bump == 1
    assert after["PrivateNote"] == body["PrivateNote"]
    assert after["Line"] == before["Line"]
    assert after["DocNumber"] == before["DocNumber"]


def test_update_with_a_stale_synctoken_is_the_recorded_5010_fault(
    samples: Path, emulator: RunningEmulator, api: httpx.Client
) -> None:
    (batch,) = vcr(samples, "batch__basic")
    (recorded,) = [
        item for item in batch.json()["BatchItemResponse"] if item["bId"] == "bid3"
    ]  # the recorded stale update
    customer = api.post("/customer", json={"DisplayName": "Fidelity stale"}).json()["Customer"]
    first = {"Id": customer["Id"], "SyncToken": customer["SyncToken"], "sparse": True}
    assert api.post("/customer", json={**first, "Notes": "one"}).status_code == 200
    response = api.post("/customer", json={**first, "Notes": "two"})  # SyncToken now stale
    assert response.status_code == 400
    assert faults(response.json()) == faults(recorded) == [("5010", "ValidationFault")]
    assert compare(recorded["Fault"], response.json()["Fault"], path="$.Fault") == []
