"""Queries replayed: COUNT, paging, escaped literals, the 4001 fault, Nango's 2026 list pages."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.fidelity.recordings import nango, vcr
from tests.fidelity.replay import faults, named, send
from tests.fidelity.shape import compare, convention_problems
from tests.harness.emulator import RunningEmulator


def test_count_and_pages_over_listed_ids_have_the_recorded_envelopes(
    samples: Path, emulator: RunningEmulator, api: httpx.Client
) -> None:
    exchanges = vcr(samples, "all__alt_select")
    # The ids in the statement are the sandbox's: map each through the customer it names.
    names = {
        c["Id"]: c["DisplayName"]
        for e in exchanges
        for c in e.json()["QueryResponse"].get("Customer", [])
    }
    assert len(names) == 6
    ids = {rid: named(emulator, "Customer", name)["Id"] for rid, name in names.items()}

    for exchange in exchanges:
        statement = re.sub(r"'(\d+)'", lambda m: f"'{ids[m.group(1)]}'", exchange.params["query"])
        response = send(api, exchange, params={"query": statement})
        assert response.status_code == exchange.status, exchange.source
        assert compare(exchange.json(), response.json()) == [], exchange.source
        assert convention_problems(response.json()) == []
    # The recorded walk ends in a page past the end: {"QueryResponse": {}} (compared above).
    assert exchanges[-1].json()["QueryResponse"] == {}


def test_count_then_one_page_of_every_customer_has_the_recorded_shape(
    samples: Path, api: httpx.Client
) -> None:
    count, page = vcr(samples, "all__customers")
    counted = send(api, count)
    assert counted.status_code == 200
    assert compare(count.json(), counted.json()) == []
    listed = send(api, page)
    assert listed.status_code == 200
    assert compare(page.json(), listed.json()) == []
    body = listed.json()["QueryResponse"]
    total = counted.json()["QueryResponse"]["totalCount"]
    assert body["maxResults"] == len(body["Customer"]) == total


def test_select_without_paging_returns_the_recorded_page(samples: Path, api: httpx.Client) -> None:
    exchange = vcr(samples, "error__400")[0]  # the cassette's successful query
    assert exchange.params == {"query": "SELECT * FROM Customer"}
    response = send(api, exchange)
    assert response.status_code == 200
    assert compare(exchange.json(), response.json()) == []


def test_display_name_with_an_escaped_apostrophe_finds_the_one_customer(
    samples: Path, api: httpx.Client
) -> None:
    (exchange,) = vcr(samples, "get__display_name")
    assert "\\'" in exchange.params["query"]
    response = send(api, exchange)
    assert response.status_code == 200
    assert compare(exchange.json(), response.json()) == []
    page = response.json()["QueryResponse"]
    assert [c["DisplayName"] for c in page["Customer"]] == ["Amy's Bird Sanctuary"]
    assert page["maxResults"] == exchange.json()["QueryResponse"]["maxResults"] == 1


def test_ampersand_in_a_string_literal_finds_the_vendor(samples: Path, api: httpx.Client) -> None:
    (exchange,) = vcr(samples, "misc__ampersand")
    response = send(api, exchange)
    assert response.status_code == 200
    page = response.json()["QueryResponse"]
    assert [v["DisplayName"] for v in page["Vendor"]] == ["Robertson & Associates"]
    # The envelope and everything but the seeded vendor's own fields (next test) agree.
    differences = compare(exchange.json(), response.json())
    assert [d for d in differences if not d.startswith("$.QueryResponse.Vendor[]")] == []


def test_seeded_vendor_found_by_ampersand_query_has_the_recorded_fields(
    samples: Path, api: httpx.Client
) -> None:
    (exchange,) = vcr(samples, "misc__ampersand")
    response = send(api, exchange)
    assert compare(exchange.json(), response.json()) == []


def test_misspelled_entity_is_the_recorded_4001_validation_fault(
    samples: Path, api: httpx.Client
) -> None:
    exchange = vcr(samples, "error__400")[1]
    response = send(api, exchange)
    assert response.status_code == exchange.status == 400
    assert faults(response.json()) == faults(exchange.json()) == [("4001", "ValidationFault")]
    assert compare(exchange.json(), response.json()) == []


def test_recorded_customer_query_written_in_lower_case_has_the_recorded_reply(
    samples: Path, api: httpx.Client
) -> None:
    # FACTS §3: real QBO answers ``select * from customer`` under ``Customer``.
    exchange = vcr(samples, "error__400")[0]  # the cassette's successful SELECT * FROM Customer
    response = api.get("/query", params={"query": exchange.params["query"].lower()})
    assert response.status_code == exchange.status == 200
    assert compare(exchange.json(), response.json()) == []
    assert "Customer" in response.json()["QueryResponse"]


@pytest.mark.parametrize(
    "statement",
    ["SELECT * FROM Customer WHERE Notes = 'x'", "SELECT * FROM Customer ORDERBY BillAddr"],
)
def test_a_property_that_is_not_filterable_is_the_recorded_4001_fault_shape(
    samples: Path, api: httpx.Client, statement: str
) -> None:
    exchange = vcr(samples, "error__400")[1]
    response = api.get("/query", params={"query": statement})
    assert response.status_code == exchange.status == 400
    assert faults(response.json()) == faults(exchange.json()) == [("4001", "ValidationFault")]
    assert compare(exchange.json(), response.json()) == []
    assert response.json()["Fault"]["Error"][0]["Message"] == "Invalid query"


@pytest.mark.parametrize("name", ["list-items", "query-entities"])
def test_nango_query_pages_have_the_recorded_2026_shape(
    samples: Path, api: httpx.Client, name: str
) -> None:
    exchange = nango(samples, name)
    response = send(api, exchange)
    assert response.status_code == exchange.status == 200
    assert compare(exchange.json(), response.json()) == []
    assert convention_problems(response.json()) == []


def test_post_query_with_the_statement_as_text_body_has_the_list_accounts_shape(
    samples: Path, api: httpx.Client
) -> None:
    exchange = nango(samples, "list-accounts")
    # The whole chart, so that the page holds sub-accounts (ParentRef) as the recorded first page
    # does, whatever the order rows come in (see the ordering test below).
    statement = exchange.params["query"].replace("MAXRESULTS 10", "MAXRESULTS 1000")
    response = api.post(
        "/query", content=statement.encode(), headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 200
    assert compare(exchange.json(), response.json()) == []
    assert response.json()["QueryResponse"]["startPosition"] == 1


def test_nango_list_accounts_posted_with_the_statement_in_the_url_answers_the_page(
    samples: Path, api: httpx.Client
) -> None:
    exchange = nango(samples, "list-accounts")
    response = send(api, exchange)
    assert response.status_code == exchange.status == 200
    assert compare(exchange.json(), response.json()) == []


@pytest.mark.parametrize("name", ["list-items", "list-accounts"])
def test_name_list_pages_without_orderby_come_in_name_order_as_recorded(
    samples: Path, api: httpx.Client, name: str
) -> None:
    exchange = nango(samples, name)
    entity = "Item" if name == "list-items" else "Account"
    recorded = [row["Name"] for row in exchange.json()["QueryResponse"][entity]]
    assert recorded == sorted(recorded, key=str.casefold)  # what the recording shows
    response = api.get("/query", params={"query": exchange.params["query"]})
    emulated = [row["Name"] for row in response.json()["QueryResponse"][entity]]
    assert emulated == sorted(emulated, key=str.casefold)
