"""POST /webhooks/jobroutr refuses a bill that does not add up (422 naming the figure, nothing
queued), and an invoice in a foreign currency without an exchange rate once the connected
company's home currency is known."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlmodel import select
from standardwebhooks.webhooks import Webhook

from appliance.config import Settings
from appliance.core.books import Books, TaxModel
from appliance.core.tokens import TokenSet
from appliance.gateway.app import create_app
from appliance.storage import credentials
from appliance.storage.books import save_books
from appliance.storage.connections import save_connection
from appliance.storage.models import Event, Job
from appliance.storage.store import Store
from appliance.storage.types import utcnow
from tests.harness.jobroutr import example

REALM = "9341453050298464"
PROBLEM = "application/problem+json"


def connect(store: Store) -> None:
    now = utcnow()
    tokens = TokenSet("access", "refresh", now + timedelta(hours=1), now + timedelta(days=100))
    save_connection(
        store.engine,
        store.vault,
        realm_id=REALM,
        environment="sandbox",
        company_name="Test Co",
        tokens=tokens,
    )


def books(home_currency: str) -> Books:
    return Books(
        realm_id=REALM,
        country="US",
        tax_model=TaxModel.US_MANUAL,
        home_currency=home_currency,
        multicurrency=True,
        allow_discount=True,
        custom_txn_numbers=True,
    )


@pytest.fixture
def client(settings: Settings, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(settings, store)) as test_client:
        yield test_client


def send(client: TestClient, store: Store, doc: dict[str, Any], event_id: str) -> Any:
    with store.session() as session:
        secret = credentials.webhook_secret(session, store.vault)
    assert secret is not None
    body = json.dumps(doc)
    stamp = datetime.now(UTC)
    headers = {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, stamp, body),
        "content-type": "application/json",
    }
    return client.post("/webhooks/jobroutr", content=body.encode(), headers=headers)


def queued(store: Store) -> tuple[int, int]:
    with store.session() as session:
        return len(session.exec(select(Event)).all()), len(session.exec(select(Job)).all())


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("data.lines[1].amount", "72.49",
         "must be 72.50: quantity 0.5 x unit price 145.00, rounded half up to cents"),
        ("data.tax.rates[0].amount", "17.59",
         "must be 17.58: (lines 217.50 - discount share 20.00) x 8.9%, rounded half up to cents"),
        ("data.totals.subtotal", "217.51", "must be 217.50: the sum of the line amounts"),
        ("data.totals.discount", "19.99", "must be 20.00: the discount's amount"),
        ("data.totals.tax", "17.57", "must be 17.58: the sum of the tax rates' amounts"),
        ("data.totals.total", "215.09",
         "must be 215.08: subtotal 217.50 - discount 20.00 + tax 17.58"),
    ],
)  # fmt: skip
def test_a_bill_off_by_a_cent_is_422_naming_the_figure_and_nothing_is_queued(
    client: TestClient, store: Store, path: str, value: str, reason: str
) -> None:
    doc = example("invoice.created.taxed")
    *parents, key = re.split(r"\.|\[|\]\.?", path.removeprefix("data."))
    holder: Any = doc["data"]
    for part in parents:
        holder = holder[int(part)] if part.isdigit() else holder[part]
    holder[key] = value
    response = send(client, store, doc, "evt_off_by_a_cent")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["invalid_params"] == [{"name": path, "reason": reason}]
    assert queued(store) == (0, 0)


@pytest.mark.parametrize("name", ["invoice.created.taxed", "invoice.created.vat"])
def test_the_contracts_taxed_examples_are_accepted(
    client: TestClient, store: Store, name: str
) -> None:
    response = send(client, store, example(name), f"evt_{name}")
    assert response.status_code == 202, response.text
    assert queued(store) == (1, 1)


def test_a_line_naming_a_rate_the_invoice_does_not_list_is_422(
    client: TestClient, store: Store
) -> None:
    doc = example("invoice.created.taxed")
    doc["data"]["lines"][0]["tax_rate_id"] = "tax_or_portland"
    response = send(client, store, doc, "evt_unknown_rate")
    assert response.status_code == 422
    problems = {p["name"]: p["reason"] for p in response.json()["invalid_params"]}
    assert problems["data.lines[0].tax_rate_id"] == (
        'must be one of the ids in data.tax.rates: "tax_wa_vancouver"'
    )
    assert queued(store) == (0, 0)


def euro_invoice(exchange_rate: str | None = None) -> dict[str, Any]:
    doc = copy.deepcopy(example("invoice.created"))
    doc["data"]["currency"] = "EUR"
    if exchange_rate is not None:
        doc["data"]["exchange_rate"] = exchange_rate
    return doc


def test_a_foreign_currency_without_an_exchange_rate_is_accepted_until_the_books_are_read(
    client: TestClient, store: Store
) -> None:
    connect(store)  # connected, but the company's books not read yet: the push checks
    response = send(client, store, euro_invoice(), "evt_eur_unknown_home")
    assert response.status_code == 202, response.text


def test_a_foreign_currency_needs_an_exchange_rate_once_the_home_currency_is_known(
    settings: Settings, store: Store
) -> None:
    connect(store)
    save_books(store.engine, books("USD"))
    with TestClient(create_app(settings, store)) as client:
        refused = send(client, store, euro_invoice(), "evt_eur_no_rate")
        assert refused.status_code == 422, refused.text
        assert refused.json()["invalid_params"] == [
            {
                "name": "data.exchange_rate",
                "reason": "is required: EUR is not the company's home currency (USD); "
                "give the USD amount of one EUR",
            }
        ]
        assert queued(store) == (0, 0)
        zero = send(client, store, euro_invoice("0"), "evt_eur_zero_rate")
        assert zero.status_code == 422
        assert zero.json()["invalid_params"] == [
            {"name": "data.exchange_rate", "reason": "must be more than 0"}
        ]
        assert queued(store) == (0, 0)
        assert send(client, store, euro_invoice("1.0825"), "evt_eur_rate").status_code == 202
        assert send(client, store, example("invoice.created"), "evt_usd").status_code == 202
        assert queued(store) == (2, 2)
