"""Ending records as recorded: deactivating an account, deleting and voiding invoices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.fidelity.recordings import vcr
from tests.fidelity.replay import named, send
from tests.fidelity.shape import ENVELOPES, compare, convention_problems
from tests.harness.emulator import RunningEmulator

DELETED = " (deleted)"


def test_deactivating_an_account_marks_its_name_and_repeating_it_changes_nothing(
    samples: Path, emulator: RunningEmulator, api: httpx.Client
) -> None:
    read, update = vcr(samples, "deactivate__account")
    recorded = update.json()["Account"]
    assert recorded["Active"] is False
    assert recorded["Name"].endswith(DELETED)
    account = named(emulator, "Account", recorded["Name"].removesuffix(DELETED))
    assert account["Active"] is True

    # First the deactivation itself (the recording shows the account after it) ...
    body = update.request_json()
    assert body["sparse"] is True
    body.update(Id=account["Id"], SyncToken=account["SyncToken"], Name=account["Name"])
    first = send(api, update, body=body)
    assert first.status_code == 200, first.text
    deactivated = first.json()["Account"]
    assert deactivated["Active"] is False
    assert deactivated["Name"] == deactivated["FullyQualifiedName"] == account["Name"] + DELETED
    assert int(deactivated["SyncToken"]) == int(account["SyncToken"]) + 1

    # ... then the recorded exchanges: read it, send the same sparse update again.
    got = send(api, read, path=f"account/{account['Id']}")
    assert got.status_code == read.status == 200
    assert compare(read.json(), got.json()) == []
    body = update.request_json()
    body.update(Id=account["Id"], SyncToken=deactivated["SyncToken"])
    assert body["Name"] == deactivated["Name"]  # the recorded request names it "... (deleted)"
    again = send(api, update, body=body)
    assert again.status_code == update.status == 200, again.text
    assert compare(update.json(), again.json()) == []
    assert convention_problems(again.json()) == []
    recorded_before = read.json()["Account"]
    assert recorded["SyncToken"] == recorded_before["SyncToken"]  # recorded: no change
    assert again.json()["Account"]["SyncToken"] == deactivated["SyncToken"]


def _new_invoice(emulator: RunningEmulator, api: httpx.Client, samples: Path) -> dict[str, Any]:
    """An invoice as the recording's (one Services line for Amy's Bird Sanctuary)."""
    (create,) = vcr(samples, "create__invoice")
    body = create.request_json()
    body["CustomerRef"] = {"value": named(emulator, "Customer", "Amy's Bird Sanctuary")["Id"]}
    item = body["Line"][0]["SalesItemLineDetail"]["ItemRef"]
    item["value"] = named(emulator, "Item", item["name"])["Id"]
    response = api.post("/invoice", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json()["Invoice"])


def test_deleting_an_invoice_answers_the_recorded_tombstone(
    samples: Path, emulator: RunningEmulator, api: httpx.Client
) -> None:
    read, delete = vcr(samples, "delete__invoice")
    invoice = _new_invoice(emulator, api, samples)
    got = send(api, read, path=f"invoice/{invoice['Id']}")
    assert got.status_code == read.status == 200
    assert compare(read.json(), got.json()) == []

    assert delete.params == {"operation": "delete"}
    assert set(delete.request_json()) == {"Id", "SyncToken"}
    response = send(api, delete, body={"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]})
    assert response.status_code == delete.status == 200, response.text
    # The tombstone is exactly {domain, status, Id}: compared as strictly as an envelope.
    strict = ENVELOPES | {"$.Invoice"}
    assert compare(delete.json(), response.json(), envelopes=strict) == []
    assert response.json()["Invoice"]["status"] == delete.json()["Invoice"]["status"] == "Deleted"
    assert response.json()["Invoice"]["Id"] == invoice["Id"]


def test_voiding_an_invoice_zeroes_its_amounts_and_bumps_the_synctoken(
    samples: Path, emulator: RunningEmulator, api: httpx.Client
) -> None:
    read, void = vcr(samples, "void__invoice")
    assert read.scrubbed  # really /v3/company/{realm}/invoice/{id} (SOURCES.md)
    assert void.scrubbed
    invoice = _new_invoice(emulator, api, samples)
    got = send(api, read, path=f"invoice/{invoice['Id']}")
    assert got.status_code == read.status == 200
    assert compare(read.json(), got.json()) == []

    assert void.params == {"operation": "void"}
    response = send(api, void, body={"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]})
    assert response.status_code == void.status == 200, response.text
    assert compare(void.json(), response.json()) == []
    assert convention_problems(response.json()) == []
    recorded, emulated = void.json()["Invoice"], response.json()["Invoice"]
    recorded_before = read.json()["Invoice"]
    assert int(recorded["SyncToken"]) - int(recorded_before["SyncToken"]) == 1
    assert int(emulated["SyncToken"]) - int(invoice["SyncToken"]) == 1
    for key in ("TotalAmt", "Balance"):
        assert recorded[key] == emulated[key] == 0, key
    assert [line["Amount"] for line in recorded["Line"]] == [0, 0]
    assert all(line["Amount"] == 0 for line in emulated["Line"])
    assert emulated["Id"] == invoice["Id"]
    assert emulated["DocNumber"] == invoice["DocNumber"]
    # The recorded invoice had no private note; void left "Voided" alone in it.
    assert "PrivateNote" not in recorded_before
    assert "PrivateNote" not in invoice
    assert recorded["PrivateNote"] == emulated["PrivateNote"] == "Voided"
