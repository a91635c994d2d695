"""The suite's own tools: the recordings' loaders and the shape comparison can tell things apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fidelity.recordings import (
    VCR_DIR,
    CassetteError,
    load_cassette,
    nango,
    parse_cassette_yaml,
    vcr,
)
from tests.fidelity.shape import compare, convention_problems

# The cassette reader ------------------------------------------------------------------------

CASSETTE = """---
http_interactions:
- request:
    method: post
    uri: https://example.test/v3/x?a=1
    body:
      encoding: UTF-8
      string: '{"Name":"Pye''s
        Cakes",

        "n":1}'
    headers:
      Accept:
      - application/json
      Qbo-Version:
      - '1944.190'
  response:
    status:
      code: 200
      message: OK
    body:
      string: ''
  recorded_at: Tue, 29 Sep 2020 12:59:12 GMT
recorded_with: VCR 6.0.0
"""


def test_cassette_reader_folds_quoted_scalars_and_types_plain_ones_like_yaml() -> None:
    assert parse_cassette_yaml(CASSETTE) == {
        "http_interactions": [
            {
                "request": {
                    "method": "post",
                    "uri": "https://example.test/v3/x?a=1",
                    "body": {"encoding": "UTF-8", "string": '{"Name":"Pye\'s Cakes",\n"n":1}'},
                    "headers": {"Accept": ["application/json"], "Qbo-Version": ["1944.190"]},
                },
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "body": {"string": ""},
                },
                "recorded_at": "Tue, 29 Sep 2020 12:59:12 GMT",
            }
        ],
        "recorded_with": "VCR 6.0.0",
    }


@pytest.mark.parametrize("text", ["a: {b: 1}", "a: 'open", "a: 1\n  b: 2", "just text"])
def test_cassette_reader_refuses_yaml_it_does_not_understand(text: str) -> None:
    with pytest.raises(CassetteError):
        parse_cassette_yaml(text)


def test_cassette_reader_agrees_with_pyyaml_on_every_recorded_cassette(samples: Path) -> None:
    yaml = pytest.importorskip("yaml")
    cassettes = sorted((samples / VCR_DIR).glob("*.yml"))
    assert len(cassettes) >= 18
    for cassette in cassettes:
        text = cassette.read_text(encoding="utf-8")
        assert parse_cassette_yaml(text) == yaml.safe_load(text), cassette.name


def test_scrubbed_uris_are_flagged_and_blank_requestids_dropped(samples: Path) -> None:
    (created,) = vcr(samples, "create__customer")
    assert created.scrubbed
    assert (created.method, created.path, created.params) == ("POST", "customer", {})
    assert created.request_json() == {"DisplayName": "Doe5, Jane"}
    (read,) = vcr(samples, "get__id")
    assert not read.scrubbed
    assert (read.method, read.path, read.status) == ("GET", "customer/5", 200)
    assert read.headers["content-type"] == "application/json;charset=utf-8"
    assert read.json()["Customer"]["Id"] == "5"


def test_every_cassette_loads_into_exchanges(samples: Path) -> None:
    for cassette in sorted((samples / VCR_DIR).glob("*.yml")):
        for exchange in load_cassette(cassette):
            assert exchange.method in ("GET", "POST")
            assert isinstance(exchange.json(), dict), exchange.source


def test_nango_fixture_yields_only_qbos_request_and_response(samples: Path) -> None:
    exchange = nango(samples, "list-accounts")
    assert (exchange.method, exchange.path) == ("POST", "query")
    assert exchange.params == {"query": "SELECT * FROM Account STARTPOSITION 1 MAXRESULTS 10"}
    assert exchange.request_content_type == "text/plain"
    assert exchange.headers == {}  # the fixture's headers are Nango's proxy's, not Intuit's
    assert set(exchange.json()) == {"QueryResponse", "time"}
    created = nango(samples, "create-item")
    assert created.request_json()["Type"] == "Service"


# The shape comparison -----------------------------------------------------------------------

RECORDED = {
    "Customer": {
        "Id": "5",
        "SyncToken": "1",
        "Balance": 12.5,
        "Active": True,
        "BillAddr": {"Id": "6", "City": "Tucson", "Lat": "32.28"},
        "PrimaryPhone": {"FreeFormNumber": "(520) 420-5638"},
    },
    "time": "2020-09-29T05:59:12.852-07:00",
}


def test_compare_ignores_values_and_extra_entity_fields() -> None:
    emulated = {
        "Customer": {
            "Id": "77",
            "SyncToken": "0",
            "Balance": 0,
            "Active": False,
            "BillAddr": {"Id": "1", "City": "Elsewhere"},  # no Lat: allowed
            "PrimaryPhone": {"FreeFormNumber": "1"},
            "Notes": "more than the recording has",
        },
        "time": "2026-05-05T02:05:12.193-07:00",
    }
    assert compare(RECORDED, emulated) == []


def test_compare_reports_missing_fields_types_and_envelope_keys() -> None:
    emulated = {
        "Customer": {
            "Id": 5,  # a number where QBO sends a string
            "SyncToken": "0",
            "Balance": "12.50",  # a string where QBO sends a number
            "Active": True,
            "BillAddr": {"Id": "6"},  # City missing
        },  # PrimaryPhone missing
        "time": "2026-05-05T02:05:12.193-07:00",
        "status": "extra envelope key",
    }
    assert sorted(compare(RECORDED, emulated)) == [
        "$.Customer.Balance: type string where the recording has number",
        "$.Customer.BillAddr.City: missing (recorded string)",
        "$.Customer.Id: type number where the recording has string",
        "$.Customer.PrimaryPhone: missing (recorded object)",
        "$.status: unexpected key (not in the recording)",
    ]


def test_compare_never_allows_a_missing_envelope_key() -> None:
    recorded = {"Fault": {"Error": [{"code": "2030", "element": "Id"}], "type": "x"}}
    emulated = {"Fault": {"Error": [{"code": "2030"}], "type": "x"}, "time": "t"}
    assert sorted(compare(recorded, emulated, allowed_missing={"element"})) == [
        "$.Fault.Error[].element: missing (recorded string)",
        "$.time: unexpected key (not in the recording)",
    ]


def test_compare_groups_lines_by_detail_type_and_batch_items_by_bid() -> None:
    recorded = {
        "BatchItemResponse": [
            {"Invoice": {"Line": [{"DetailType": "SubTotalLineDetail", "Amount": 1}]}, "bId": "a"},
            {"Fault": {"Error": [], "type": "ValidationFault"}, "bId": "b"},
        ]
    }
    emulated = {
        "BatchItemResponse": [
            {"Invoice": {"Line": [{"DetailType": "SalesItemLineDetail", "Amount": 1}]}, "bId": "a"},
            {"QueryResponse": {}, "bId": "b"},
        ]
    }
    assert sorted(compare(recorded, emulated)) == [
        "$.BatchItemResponse[bId=a].Invoice.Line[DetailType=SubTotalLineDetail]: no such "
        "element (recorded 1 kind(s))",
        "$.BatchItemResponse[bId=b].Fault: missing (recorded object)",
        "$.BatchItemResponse[bId=b].QueryResponse: unexpected key (not in the recording)",
    ]


def test_allowances_can_name_a_field_at_one_place_only() -> None:
    recorded = {"Invoice": {"LinkedTxn": [], "Line": [{"LinkedTxn": [], "Amount": 1}]}}
    emulated = {"Invoice": {"Line": [{"Amount": 1}]}}
    assert compare(recorded, emulated, allowed_missing={"Line[].LinkedTxn"}) == [
        "$.Invoice.LinkedTxn: missing (recorded array)"
    ]


def test_convention_check_flags_string_amounts_and_numeric_ids() -> None:
    body = {"Invoice": {"Id": 3, "TotalAmt": "10.00", "CustomerRef": {"value": 1}, "Line": []}}
    assert sorted(convention_problems(body)) == [
        "$.Invoice.CustomerRef.value: number, not a string",
        "$.Invoice.Id: number, not a string",
        "$.Invoice.TotalAmt: string, not a number",
    ]
    assert convention_problems({"Invoice": {"Id": "3", "TotalAmt": 10.0}}) == []
