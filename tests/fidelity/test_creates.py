"""Creates replayed: the server fills in what QBO fills in, in the recorded shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.fidelity.recordings import Exchange, nango, vcr
from tests.fidelity.replay import (
    allowing,
    days_between,
    media_type,
    ref,
    send,
)
from tests.fidelity.shape import compare, convention_problems
from tests.harness.emulator import RunningEmulator


def _assert_new_record(recorded: dict[str, Any], emulated: dict[str, Any]) -> None:
    """What a create answers whatever the entity: a fresh SyncToken, sparse false, QBO domain."""
    for key in ("SyncToken", "sparse", "domain"):
        assert emulated[key] == recorded[key], key
    assert emulated["SyncToken"] == "0"
    assert emulated["MetaData"]["CreateTime"] == emulated["MetaData"]["LastUpdatedTime"]


def test_customer_created_with_only_a_display_name_echoes_the_recorded_record(
    samples: Path, api: httpx.Client
) -> None:
    (exchange,) = vcr(samples, "create__customer")
    response = send(api, exchange)
    assert response.status_code == exchange.status == 200
    assert media_type(response.headers["content-type"]) == media_type(
        exchange.headers["content-type"]
    )
    assert compare(exchange.json(), response.json()) == []
    assert convention_problems(response.json()) == []
    recorded, emulated = exchange.json()["Customer"], response.json()["Customer"]
    _assert_new_record(recorded, emulated)
    for derived in ("FullyQualifiedName", "PrintOnCheckName"):  # both default to DisplayName
        assert recorded[derived] == recorded["DisplayName"]
        assert emulated[derived] == emulated["DisplayName"]


def _invoice_request(emulator: RunningEmulator, exchange: Exchange) -> dict[str, Any]:
    """The recorded invoice request with its customer and items mapped to the emulator's."""
    body: dict[str, Any] = exchange.request_json()
    answer = exchange.json()["Invoice"]
    body["CustomerRef"] = ref(emulator, "Customer", answer["CustomerRef"])
    answered = [line for line in answer["Line"] if line["DetailType"] == "SalesItemLineDetail"]
    for line, recorded in zip(body["Line"], answered, strict=True):
        item = recorded["SalesItemLineDetail"]["ItemRef"]
        line["SalesItemLineDetail"]["ItemRef"] = ref(emulator, "Item", item)
    return body


def _assert_server_filled_invoice(recorded: dict[str, Any], emulated: dict[str, Any]) -> None:
    """DocNumber, a trailing subtotal line, the due date and the balance, as QBO fills them."""
    assert isinstance(emulated["DocNumber"], str)
    assert emulated["DocNumber"]
    kinds = [line["DetailType"] for line in emulated["Line"]]
    assert kinds == [line["DetailType"] for line in recorded["Line"]]
    assert kinds[-1] == "SubTotalLineDetail"
    assert days_between(emulated["TxnDate"], emulated["DueDate"]) == days_between(
        recorded["TxnDate"], recorded["DueDate"]
    )
    assert recorded["Balance"] == recorded["TotalAmt"]
    assert emulated["Balance"] == emulated["TotalAmt"] == recorded["TotalAmt"]


def test_invoice_created_from_one_line_gets_the_recorded_server_fields(
    samples: Path, emulator: RunningEmulator, api: httpx.Client
) -> None:
    (exchange,) = vcr(samples, "create__invoice")
    response = send(api, exchange, body=_invoice_request(emulator, exchange))
    assert response.status_code == exchange.status == 200, response.text
    assert compare(exchange.json(), response.json()) == []
    assert convention_problems(response.json()) == []
    recorded, emulated = exchange.json()["Invoice"], response.json()["Invoice"]
    _assert_new_record(recorded, emulated)
    _assert_server_filled_invoice(recorded, emulated)


def test_nango_customer_created_with_names_contact_and_address_has_the_2026_shape(
    samples: Path, api: httpx.Client
) -> None:
    exchange = nango(samples, "create-customer")
    response = send(api, exchange)
    assert response.status_code == exchange.status == 200, response.text
    assert compare(exchange.json(), response.json()) == []
    assert convention_problems(response.json()) == []
    _assert_new_record(exchange.json()["Customer"], response.json()["Customer"])
    # The new address gets an Id; as recorded, PrintOnCheckName is "GivenName FamilyName".
    assert isinstance(response.json()["Customer"]["BillAddr"]["Id"], str)
    recorded = exchange.json()["Customer"]
    emulated = response.json()["Customer"]
    assert recorded["PrintOnCheckName"] == f"{recorded['GivenName']} {recorded['FamilyName']}"
    assert emulated["PrintOnCheckName"] == f"{emulated['GivenName']} {emulated['FamilyName']}"


def test_nango_service_item_created_without_an_expense_account_has_the_2026_shape(
    samples: Path, emulator: RunningEmulator, api: httpx.Client
) -> None:
    exchange = nango(samples, "create-item")
    body = exchange.request_json()
    income = exchange.json()["Item"]["IncomeAccountRef"]
    body["IncomeAccountRef"] = ref(emulator, "Account", income)
    response = send(api, exchange, body=body)
    assert response.status_code == exchange.status == 200, response.text
    assert compare(exchange.json(), response.json()) == []
    assert convention_problems(response.json()) == []
    _assert_new_record(exchange.json()["Item"], response.json()["Item"])
    assert response.json()["Item"]["IncomeAccountRef"]["name"] == income["name"]


def test_nango_invoice_created_with_a_txn_date_gets_the_recorded_server_fields(
    samples: Path, emulator: RunningEmulator, api: httpx.Client
) -> None:
    exchange = nango(samples, "create-invoice")
    response = send(api, exchange, body=_invoice_request(emulator, exchange))
    assert response.status_code == exchange.status == 200, response.text
    allowed = allowing()
    assert compare(exchange.json(), response.json(), allowed_missing=allowed) == []
    assert convention_problems(response.json()) == []
    recorded, emulated = exchange.json()["Invoice"], response.json()["Invoice"]
    _assert_new_record(recorded, emulated)
    _assert_server_filled_invoice(recorded, emulated)
    assert emulated["TxnDate"] == recorded["TxnDate"]  # the request's date is kept


def test_nango_created_invoice_has_the_2026_fields(
    samples: Path, emulator: RunningEmulator, api: httpx.Client
) -> None:
    exchange = nango(samples, "create-invoice")
    response = send(api, exchange, body=_invoice_request(emulator, exchange))
    assert response.status_code == 200
    assert compare(exchange.json(), response.json()) == []
