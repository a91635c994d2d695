"""The emulator's v3 API: shapes, rules and faults as QBO answers them."""

from __future__ import annotations

import socket
import time
from datetime import timedelta, timezone

import httpx
import pytest

from tests.harness.emulator import RunningEmulator


def query(api: httpx.Client, text: str) -> httpx.Response:
    return api.get("/query", params={"query": text})


@pytest.fixture
def api(emulator: RunningEmulator) -> httpx.Client:
    with emulator.api() as client:
        yield client


def fault_code(response: httpx.Response) -> str:
    return str(response.json()["Fault"]["Error"][0]["code"])


# Queries -----------------------------------------------------------------------------------------


def test_count_then_pages_return_each_active_customer_once_and_then_an_empty_response(
    api: httpx.Client,
) -> None:
    total = query(api, "SELECT COUNT(*) FROM Customer").json()["QueryResponse"]["totalCount"]
    assert total > 10
    seen: list[str] = []
    start = 1
    while True:
        body = query(api, f"SELECT * FROM Customer STARTPOSITION {start} MAXRESULTS 7").json()
        page = body["QueryResponse"]
        assert "time" in body
        if not page:
            break
        assert page["startPosition"] == start
        assert page["maxResults"] == len(page["Customer"])
        assert all(c["Active"] for c in page["Customer"])
        seen += [c["Id"] for c in page["Customer"]]
        start += 7
    assert len(seen) == total == len(set(seen))


def test_a_misspelled_entity_is_the_recorded_4001_fault(api: httpx.Client) -> None:
    response = query(api, "SELECT * FROM Custmoer")
    assert response.status_code == 400
    error = response.json()["Fault"]["Error"][0]
    assert error == {
        "Message": "Invalid query",
        "Detail": "QueryValidationError: invalid context declaration: Custmoer",
        "code": "4001",
    }
    assert response.json()["Fault"]["type"] == "ValidationFault"


def test_an_apostrophe_is_escaped_with_a_backslash(api: httpx.Client) -> None:
    body = query(api, "SELECT * FROM Customer WHERE DisplayName = 'Amy\\'s Bird Sanctuary'").json()
    (amy,) = body["QueryResponse"]["Customer"]
    assert amy["DisplayName"] == "Amy's Bird Sanctuary"
    assert isinstance(amy["Id"], str)


def test_an_entity_name_in_any_case_is_answered_under_its_proper_name(api: httpx.Client) -> None:
    # FACTS §3: real QBO answers ``select * from customer`` under ``Customer``.
    for written in ("customer", "CUSTOMER", "invoice"):
        response = query(api, f"select * from {written} MAXRESULTS 1")
        assert response.status_code == 200, response.text
        (key,) = [k for k in response.json()["QueryResponse"] if k[0].isupper()]
        assert key == written.capitalize()
    lower = query(api, "select count(*) from customer").json()["QueryResponse"]
    assert lower == query(api, "SELECT COUNT(*) FROM Customer").json()["QueryResponse"]


def test_start_position_zero_is_the_first_page(api: httpx.Client) -> None:
    first = query(api, "SELECT * FROM Customer STARTPOSITION 1 MAXRESULTS 3").json()
    zero = query(api, "SELECT * FROM Customer STARTPOSITION 0 MAXRESULTS 3").json()
    assert zero["QueryResponse"] == first["QueryResponse"]
    assert zero["QueryResponse"]["startPosition"] == 1


def test_a_last_updated_bound_in_utc_finds_what_changed_in_the_last_hour(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    created = api.post("/customer", json={"DisplayName": "Changed Lately"}).json()["Customer"]
    assert not created["MetaData"]["LastUpdatedTime"].endswith("Z")  # company-local offset
    an_hour_ago = emulator.service.clock.now() - timedelta(hours=1)
    for bound in (
        an_hour_ago.strftime("%Y-%m-%dT%H:%M:%SZ"),
        an_hour_ago.astimezone(timezone(timedelta(hours=9))).isoformat(timespec="seconds"),
    ):
        text = f"SELECT * FROM Customer WHERE MetaData.LastUpdatedTime > '{bound}'"
        rows = query(api, text).json()["QueryResponse"].get("Customer", [])
        assert [c["DisplayName"] for c in rows] == ["Changed Lately"], bound


def test_primary_email_is_filterable_with_equals_and_like(api: httpx.Client) -> None:
    email = {"Address": "Billing@Example-Query.test"}
    api.post("/customer", json={"DisplayName": "Mail Co", "PrimaryEmailAddr": email})
    for condition in (
        "PrimaryEmailAddr = 'billing@example-query.test'",
        "PrimaryEmailAddr LIKE '%@example-query.test'",
        "PrimaryEmailAddr LIKE 'billing%'",
    ):
        body = query(api, f"SELECT * FROM Customer WHERE {condition}").json()
        assert [c["DisplayName"] for c in body["QueryResponse"]["Customer"]] == ["Mail Co"]


@pytest.mark.parametrize(
    ("statement", "prop"),
    [
        ("SELECT * FROM Customer WHERE Notes = 'x'", "Notes"),
        ("SELECT * FROM Customer ORDERBY Notes", "Notes"),
        ("SELECT * FROM Customer WHERE BillAddr = 'x'", "BillAddr"),
        ("SELECT * FROM Customer ORDERBY BillAddr DESC", "BillAddr"),
        ("SELECT * FROM Customer WHERE AcctNum = '1'", "AcctNum"),
        ("SELECT * FROM Vendor WHERE AcctNum = '1'", "AcctNum"),
        ("SELECT * FROM Vendor WHERE PrimaryEmailAddr = 'a@b.c'", "PrimaryEmailAddr"),
        ("SELECT * FROM Account WHERE AcctNum = '1000'", "AcctNum"),
    ],
)
def test_a_filter_or_sort_on_a_property_that_is_not_filterable_is_4001(
    api: httpx.Client, statement: str, prop: str
) -> None:
    response = query(api, statement)
    assert response.status_code == 400
    assert response.json()["Fault"]["type"] == "ValidationFault"
    error = response.json()["Fault"]["Error"][0]
    assert error["code"] == "4001"
    assert error["Message"] == "Invalid query"
    # The wording of a real refusal (ruckus/quickbooks-ruby issue #403).
    assert error["Detail"].startswith(f"QueryValidationError: property '{prop}' is not queryable")


def test_a_query_can_be_posted_as_text(api: httpx.Client) -> None:
    response = api.post(
        "/query",
        content="SELECT COUNT(*) FROM Item",
        headers={"Content-Type": "application/text"},
    )
    assert response.status_code == 200
    assert response.json()["QueryResponse"]["totalCount"] > 0


# Customers ---------------------------------------------------------------------------------------


def test_a_minimal_customer_gets_qbos_defaults(api: httpx.Client) -> None:
    response = api.post("/customer", json={"DisplayName": "Doe5, Jane"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["intuit_tid"].startswith("1-")
    customer = response.json()["Customer"]
    assert customer["SyncToken"] == "0"
    assert isinstance(customer["Id"], str)
    assert customer["Taxable"] is True
    assert customer["Job"] is False
    assert customer["Balance"] == 0
    assert customer["FullyQualifiedName"] == "Doe5, Jane"
    assert customer["PrintOnCheckName"] == "Doe5, Jane"
    assert customer["CurrencyRef"] == {"value": "USD", "name": "United States Dollar"}
    assert set(customer["MetaData"]) == {"CreateTime", "LastUpdatedTime"}
    assert None not in customer.values()


def test_a_display_name_used_by_a_vendor_is_a_6240_whatever_its_case(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    vendor = emulator.service.companies[emulator.realm].rows("Vendor")[0]["DisplayName"]
    response = api.post("/customer", json={"DisplayName": f"  {vendor.upper()} "})
    assert response.status_code == 400
    assert fault_code(response) == "6240"


def test_sparse_update_bumps_the_sync_token_and_a_stale_one_is_5010(api: httpx.Client) -> None:
    created = api.post("/customer", json={"DisplayName": "Sparse Co", "Notes": "keep"}).json()
    customer = created["Customer"]
    update = {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "CompanyName": "Sparse"}
    updated = api.post("/customer", json=update).json()["Customer"]
    assert updated["SyncToken"] == "1"
    assert updated["Notes"] == "keep"
    assert updated["CompanyName"] == "Sparse"

    again = api.post("/customer", json=update)
    assert again.status_code == 400
    assert fault_code(again) == "5010"

    same = {"Id": customer["Id"], "SyncToken": "1", "sparse": True, "CompanyName": "Sparse"}
    assert api.post("/customer", json=same).json()["Customer"]["SyncToken"] == "1"


def test_a_full_update_clears_the_fields_it_leaves_out(api: httpx.Client) -> None:
    customer = api.post("/customer", json={"DisplayName": "Full Co", "Notes": "gone"}).json()
    full = {"Id": customer["Customer"]["Id"], "SyncToken": "0", "DisplayName": "Full Co"}
    updated = api.post("/customer", json=full).json()["Customer"]
    assert "Notes" not in updated
    assert updated["SyncToken"] == "1"


def test_a_deactivated_customer_leaves_default_queries_and_frees_its_name(
    api: httpx.Client,
) -> None:
    customer = api.post("/customer", json={"DisplayName": "Gone Away"}).json()["Customer"]
    off = {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Active": False}
    inactive = api.post("/customer", json=off).json()["Customer"]
    assert inactive["Active"] is False
    assert inactive["DisplayName"] == "Gone Away (deleted)"
    assert not query(api, f"SELECT * FROM Customer WHERE Id = '{customer['Id']}'").json()[
        "QueryResponse"
    ]
    both = query(
        api, f"SELECT * FROM Customer WHERE Id = '{customer['Id']}' AND Active IN (true, false)"
    ).json()["QueryResponse"]
    assert both["Customer"][0]["Id"] == customer["Id"]
    assert api.post("/customer", json={"DisplayName": "Gone Away"}).status_code == 200


def test_a_sub_customer_carries_its_parent_in_its_name(api: httpx.Client) -> None:
    parent = api.post("/customer", json={"DisplayName": "Parent Co"}).json()["Customer"]
    job = api.post(
        "/customer",
        json={"DisplayName": "Job 1", "ParentRef": {"value": parent["Id"]}, "BillWithParent": True},
    ).json()["Customer"]
    assert job["Job"] is True
    assert job["Level"] == 1
    assert job["FullyQualifiedName"] == "Parent Co:Job 1"
    assert job["ParentRef"] == {"value": parent["Id"]}


# Validation --------------------------------------------------------------------------------------


def test_an_unknown_property_is_a_2010(api: httpx.Client) -> None:
    response = api.post("/invoice", json={"BadJson": True})
    assert response.status_code == 400
    error = response.json()["Fault"]["Error"][0]
    assert error["code"] == "2010"
    assert 'Unrecognized field "BadJson"' in error["Detail"]


def test_a_non_numeric_id_is_a_2030_naming_the_id(api: httpx.Client) -> None:
    response = api.get("/customer/1.5")
    error = response.json()["Fault"]["Error"][0]
    assert (response.status_code, error["code"], error["element"]) == (400, "2030", "Id")


def test_an_unknown_path_is_an_unsupported_operation(api: httpx.Client) -> None:
    response = api.get("/customer/1/5")
    assert response.status_code == 400
    assert fault_code(response) == "500"


def test_reading_a_missing_record_is_a_610(api: httpx.Client) -> None:
    response = api.get("/customer/999999")
    assert response.status_code == 400
    assert fault_code(response) == "610"


def test_an_item_without_an_income_account_is_a_2020(api: httpx.Client) -> None:
    response = api.post("/item", json={"Name": "No Account", "Type": "Service"})
    assert response.status_code == 400
    assert fault_code(response) == "2020"


def test_an_item_with_an_unknown_account_is_a_2500(api: httpx.Client) -> None:
    response = api.post(
        "/item",
        json={"Name": "Bad Ref", "Type": "Service", "IncomeAccountRef": {"value": "99999"}},
    )
    assert fault_code(response) == "2500"


# Invoices ----------------------------------------------------------------------------------------


def _first(api: httpx.Client, entity: str, where: str = "") -> dict:
    rows = query(api, f"SELECT * FROM {entity} {where} MAXRESULTS 1").json()["QueryResponse"]
    return rows[entity][0]


def test_a_new_invoice_gets_the_server_filled_fields_and_raises_the_balance(
    api: httpx.Client,
) -> None:
    customer = api.post("/customer", json={"DisplayName": "Invoice Me"}).json()["Customer"]
    item = _first(api, "Item", "WHERE Type = 'Service'")
    invoice = api.post(
        "/invoice",
        json={
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {
                    "Amount": 337.50,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": item["Id"]},
                        "UnitPrice": 75,
                        "Qty": 4.5,
                    },
                }
            ],
        },
    ).json()["Invoice"]
    assert invoice["DocNumber"].isdigit()
    # The first service, Concrete, is Taxable, so its line is TAX under automated sales tax; the
    # customer has no address, so the company's (San Pablo, CA: 7.25 % + 2.5 %) is used:
    # 337.50 x 7.25 % = 24.47, x 2.5 % = 8.44; 337.50 + 32.91 = 370.41.
    assert invoice["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "TAX"}
    assert invoice["TxnTaxDetail"]["TotalTax"] == 32.91
    assert invoice["TotalAmt"] == 370.41
    assert invoice["Balance"] == 370.41
    assert invoice["Line"][-1] == {
        "Amount": 337.5,
        "DetailType": "SubTotalLineDetail",
        "SubTotalLineDetail": {},
    }
    assert invoice["Line"][0]["Id"] == "1"
    assert invoice["Line"][0]["SalesItemLineDetail"]["ItemRef"]["name"] == item["Name"]
    assert invoice["CustomerRef"] == {"value": customer["Id"], "name": "Invoice Me"}
    assert invoice["DueDate"] > invoice["TxnDate"]
    assert api.get(f"/customer/{customer['Id']}").json()["Customer"]["Balance"] == 370.41


def test_a_duplicate_doc_number_is_a_6140_unless_allowed(api: httpx.Client) -> None:
    customer = _first(api, "Customer")
    item = _first(api, "Item", "WHERE Type = 'Service'")
    body = {
        "DocNumber": "JR-1",
        "CustomerRef": {"value": customer["Id"]},
        "Line": [
            {
                "Amount": 10,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
            }
        ],
    }
    assert api.post("/invoice", json=body).status_code == 200
    duplicate = api.post("/invoice", json=body)
    assert fault_code(duplicate) == "6140"
    allowed = api.post("/invoice", json=body, params={"include": "allowduplicatedocnum"})
    assert allowed.status_code == 200


def test_an_invoice_can_be_voided_and_deleted(api: httpx.Client) -> None:
    customer = _first(api, "Customer")
    item = _first(api, "Item", "WHERE Type = 'Service'")
    line = {
        "Amount": 100.0,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
    }
    make = {"CustomerRef": {"value": customer["Id"]}, "Line": [line]}
    first = api.post("/invoice", json=make).json()["Invoice"]
    voided = api.post(
        "/invoice", params={"operation": "void"}, json={"Id": first["Id"], "SyncToken": "0"}
    ).json()["Invoice"]
    assert (voided["SyncToken"], voided["TotalAmt"], voided["Balance"]) == ("1", 0, 0)
    second = api.post("/invoice", json=make).json()["Invoice"]
    deleted = api.post(
        "/invoice", params={"operation": "delete"}, json={"Id": second["Id"], "SyncToken": "0"}
    ).json()
    assert deleted["Invoice"] == {"domain": "QBO", "status": "Deleted", "Id": second["Id"]}
    assert fault_code(api.get(f"/invoice/{second['Id']}")) == "610"


# Batch, CDC, requestid ---------------------------------------------------------------------------


def test_a_batch_answers_200_with_a_fault_per_failed_item(api: httpx.Client) -> None:
    response = api.post(
        "/batch",
        json={
            "BatchItemRequest": [
                {"bId": "bid1", "operation": "create", "Vendor": {"DisplayName": "Boraski"}},
                {
                    "bId": "bid2",
                    "operation": "delete",
                    "Invoice": {"Id": "99999", "SyncToken": "0"},
                },
                {"bId": "bid3", "Query": "SELECT COUNT(*) FROM Customer"},
            ]
        },
    )
    assert response.status_code == 200
    items = {item["bId"]: item for item in response.json()["BatchItemResponse"]}
    assert items["bid1"]["Vendor"]["DisplayName"] == "Boraski"
    assert items["bid2"]["Fault"]["Error"][0]["code"] == "610"
    assert items["bid3"]["QueryResponse"]["totalCount"] > 0


def test_a_batch_of_more_than_30_items_is_refused(api: httpx.Client) -> None:
    items = [
        {"bId": f"b{i}", "operation": "create", "Vendor": {"DisplayName": f"V{i}"}}
        for i in range(31)
    ]
    response = api.post("/batch", json={"BatchItemRequest": items})
    assert response.status_code == 400


def test_cdc_returns_changes_including_deletions(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    since = emulator.service.clock.now().isoformat()
    created = api.post("/customer", json={"DisplayName": "Changed Lately"}).json()["Customer"]
    body = api.get("/cdc", params={"entities": "Customer,Invoice", "changedSince": since}).json()
    responses = body["CDCResponse"][0]["QueryResponse"]
    customers = next(r["Customer"] for r in responses if "Customer" in r)
    assert [c["Id"] for c in customers] == [created["Id"]]


def test_cdc_answers_an_old_changed_since_with_the_last_30_days_only(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    created = api.post("/customer", json={"DisplayName": "Aged Out"}).json()["Customer"]
    httpx.post(emulator.url + "/_emulator/clock", json={"advance_seconds": 31 * 86400})
    with emulator.api() as fresh:
        response = fresh.get("/cdc", params={"entities": "Customer", "changedSince": "2001-01-01"})
    assert response.status_code == 200
    assert response.json()["CDCResponse"][0]["QueryResponse"] == [{}]
    assert created["Id"]


def test_a_repeated_requestid_returns_the_first_answer_and_writes_once(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    company = emulator.service.companies[emulator.realm]
    before = company.count("Customer")
    first = api.post("/customer", json={"DisplayName": "Once Only"}, params={"requestid": "r-1"})
    second = api.post("/customer", json={"DisplayName": "Once Only"}, params={"requestid": "r-1"})
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert company.count("Customer") == before + 1
    third = api.post("/customer", json={"DisplayName": "Once Only"}, params={"requestid": "r-2"})
    assert fault_code(third) == "6240"


def test_a_write_cut_off_mid_body_is_neither_applied_nor_remembered(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    """A client killed while sending (kill -9 between headers and body): QBO never saw a whole
    request, so the retry with the same requestid is a first write, not a replayed refusal."""
    company = emulator.service.companies[emulator.realm]
    before = company.count("Customer")
    body = b'{"DisplayName": "Half Sent"}'
    head = (
        f"POST /v3/company/{emulator.realm}/customer?requestid=cut-1 HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: Bearer {emulator.token()}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", emulator.port)) as raw:
        raw.sendall(head.encode() + body[:10])  # then the sender dies
    time.sleep(0.3)
    assert company.count("Customer") == before

    retried = api.post(
        "/customer", json={"DisplayName": "Half Sent"}, params={"requestid": "cut-1"}
    )
    assert retried.status_code == 200, retried.text
    assert retried.json()["Customer"]["DisplayName"] == "Half Sent"
    assert company.count("Customer") == before + 1
