"""Entity-level rules found by driving the emulator with another published client.

Each test names what real QBO does (../shared/qbo/FACTS.md) and what the emulator used to do
instead: an unmodelled entity answered as if misspelt, a void that overwrote the private note, a
customer memo of any length, and a customer who owes money made inactive.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from appliance.emulator.company import KNOWN
from tests.harness.emulator import RunningEmulator
from tests.harness.processes import shared_dir

XSD = shared_dir() / "qbo" / "samples" / "schemas" / "intuit_xsd" / "IntuitRestServiceDef.xsd"


@pytest.fixture
def api(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    with emulator.api() as client:
        yield client


def query(api: httpx.Client, text: str) -> httpx.Response:
    return api.get("/query", params={"query": text})


def error(response: httpx.Response) -> dict:
    assert response.status_code == 400, response.text
    return response.json()["Fault"]["Error"][0]


def first(api: httpx.Client, entity: str, where: str = "") -> dict:
    rows = query(api, f"SELECT * FROM {entity} {where} MAXRESULTS 1").json()["QueryResponse"]
    return rows[entity][0]


def invoice_body(api: httpx.Client, customer_id: str, **extra: object) -> dict:
    item = first(api, "Item", "WHERE Type = 'Service'")
    line = {
        "Amount": 100.0,
        "DetailType": "SalesItemLineDetail",
        # NON: these tests are about balances, not the tax a Taxable service would add.
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "TaxCodeRef": {"value": "NON"}},
    }
    return {"CustomerRef": {"value": customer_id}, "Line": [line], **extra}


# An entity QBO has but the emulator does not model -----------------------------------------------


@pytest.mark.parametrize("statement", ["SELECT * FROM Bill", "select count(*) from Estimate"])
def test_querying_an_unmodelled_qbo_entity_is_unsupported_not_misspelt(
    api: httpx.Client, statement: str
) -> None:
    found = error(query(api, statement))
    assert (found["code"], found["Message"]) == ("500", "Unsupported Operation")
    assert "invalid context declaration" not in found["Detail"]
    assert "does not model" in found["Detail"]


def test_every_qbo_entity_the_emulator_lacks_is_unsupported_in_queries(api: httpx.Client) -> None:
    """The entity names come from Intuit's schema, not from the emulator's own list."""
    if not XSD.is_file():
        pytest.skip(f"Intuit's schema is not at {XSD} (set JOBROUTR_SHARED_DIR)")
    pattern = r'<xs:element name="(\w+)" type="\w+"\s+substitutionGroup="IntuitObject"'
    entities = set(re.findall(pattern, XSD.read_text(encoding="utf-8")))
    unmodelled = sorted(entities - set(KNOWN))
    assert {"Bill", "Estimate", "JournalEntry"} <= set(unmodelled)
    for entity in unmodelled:
        found = error(query(api, f"SELECT * FROM {entity}"))
        assert found["code"] == "500", (entity, found)


def test_a_name_that_is_no_qbo_entity_keeps_the_recorded_misspelt_entity_fault(
    api: httpx.Client,
) -> None:
    found = error(query(api, "SELECT * FROM Custmer"))
    assert found == {
        "Message": "Invalid query",
        "Detail": "QueryValidationError: invalid context declaration: Custmer",
        "code": "4001",
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/bill/1"), ("GET", "/Estimate/1"), ("POST", "/journalentry"), ("POST", "/bill")],
)
def test_reading_or_writing_an_unmodelled_entity_is_unsupported(
    api: httpx.Client, method: str, path: str
) -> None:
    found = error(api.request(method, path, json={"Id": "1"} if method == "POST" else None))
    assert (found["code"], found["Message"]) == ("500", "Unsupported Operation")
    assert "does not model" in found["Detail"]


def test_a_batch_item_on_an_unmodelled_entity_is_unsupported(api: httpx.Client) -> None:
    response = api.post(
        "/batch",
        json={
            "BatchItemRequest": [
                {"bId": "b1", "operation": "create", "Bill": {"VendorRef": {"value": "1"}}},
                {"bId": "b2", "Query": "SELECT * FROM Estimate"},
                {"bId": "b3", "Query": "SELECT * FROM Custmer"},
            ]
        },
    )
    assert response.status_code == 200
    answers = response.json()["BatchItemResponse"]
    items = {item["bId"]: item["Fault"]["Error"][0] for item in answers}
    assert items["b1"]["code"] == "500"
    assert items["b2"]["code"] == "500"
    assert items["b3"]["code"] == "4001"


def test_cdc_for_an_unmodelled_entity_is_unsupported_and_a_misspelt_one_is_2170(
    api: httpx.Client,
) -> None:
    since = "2026-01-01T00:00:00Z"
    found = error(api.get("/cdc", params={"entities": "Customer,Bill", "changedSince": since}))
    assert (found["code"], found["Message"]) == ("500", "Unsupported Operation")
    assert "Bill" in found["Detail"]
    misspelt = error(api.get("/cdc", params={"entities": "Custmer", "changedSince": since}))
    assert misspelt["code"] == "2170"


# Void keeps the private note ---------------------------------------------------------------------


def test_void_prepends_voided_to_the_private_note(api: httpx.Client) -> None:
    customer = first(api, "Customer")
    noted = api.post(
        "/invoice", json=invoice_body(api, customer["Id"], PrivateNote="JobRoutr job 42")
    ).json()["Invoice"]
    bare = api.post("/invoice", json=invoice_body(api, customer["Id"])).json()["Invoice"]
    voided = [
        api.post(
            "/invoice", params={"operation": "void"}, json={"Id": i["Id"], "SyncToken": "0"}
        ).json()["Invoice"]
        for i in (noted, bare)
    ]
    assert [v["PrivateNote"] for v in voided] == ["Voided - JobRoutr job 42", "Voided"]


# CustomerMemo limit ------------------------------------------------------------------------------


def test_a_customer_memo_over_1000_characters_is_refused(api: httpx.Client) -> None:
    customer = first(api, "Customer")
    longest = api.post(
        "/invoice", json=invoice_body(api, customer["Id"], CustomerMemo={"value": "m" * 1000})
    )
    assert longest.status_code == 200
    too_long = invoice_body(api, customer["Id"], CustomerMemo={"value": "m" * 1001})
    found = error(api.post("/invoice", json=too_long))
    assert (found["code"], found["element"]) == ("6000", "CustomerMemo")
    assert "1000" in found["Detail"]
    invoice = longest.json()["Invoice"]
    sparse = {
        "Id": invoice["Id"],
        "SyncToken": invoice["SyncToken"],
        "sparse": True,
        "CustomerMemo": {"value": "x" * 1001},
    }
    assert error(api.post("/invoice", json=sparse))["code"] == "6000"


# A customer who owes money stays active ----------------------------------------------------------


def test_a_customer_who_owes_money_cannot_be_made_inactive(api: httpx.Client) -> None:
    customer = api.post("/customer", json={"DisplayName": "Owes Money"}).json()["Customer"]
    invoice = api.post("/invoice", json=invoice_body(api, customer["Id"])).json()["Invoice"]
    off = {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Active": False}
    found = error(api.post("/customer", json=off))
    assert found["Message"] == "Delete List Has Balance Error"
    assert "non-zero balance" in found["Detail"]
    deleted = error(
        api.post("/customer", params={"operation": "delete"}, json={"Id": customer["Id"]})
    )
    assert deleted["Message"] == "Delete List Has Balance Error"
    still = api.get(f"/customer/{customer['Id']}").json()["Customer"]
    assert (still["Active"], still["Balance"], still["SyncToken"]) == (True, 100, "0")

    api.post(
        "/invoice", params={"operation": "delete"}, json={"Id": invoice["Id"], "SyncToken": "0"}
    )
    settled = api.post("/customer", json=off)
    assert settled.status_code == 200
    assert settled.json()["Customer"]["Active"] is False
