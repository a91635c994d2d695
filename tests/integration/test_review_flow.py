"""The whole question, as JobRoutr and an operator meet it: a JobRoutr customer named like a
stranger in QuickBooks is asked about by the real push; JobRoutr's pull API shows the record it
might be; `appliance events review` shows both side by side and creates a new customer under the
name it showed; QuickBooks' stranger is untouched throughout; and the new customer keeps its
numbered name when JobRoutr sends it again (an update under the plain name would collide with the
stranger). The same for a product numbered after another JobRoutr product of the same name."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.harness.cli import invoke
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, choose_default_accounts, running_gateway

pytestmark = pytest.mark.slow


@pytest.fixture
def gateway(books: RunningEmulator, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(books, tmp_path) as running:
        choose_default_accounts(running)
        yield running


def qbo(books: RunningEmulator, entity: str, qbo_id: str) -> dict[str, Any]:
    with books.api() as api:
        answer = api.get(f"/{entity.lower()}/{qbo_id}")
        answer.raise_for_status()
        return dict(answer.json()[entity])


def event(kind: str, data: dict[str, Any], at: str) -> dict[str, Any]:
    return {"type": kind, "timestamp": at, "data": data}


def test_a_stranger_is_asked_about_then_created_anew_under_the_name_shown(
    gateway: Gateway, books: RunningEmulator
) -> None:
    name = f"Morgan Lee {uuid.uuid4().hex[:6]}"
    with books.api() as api:
        made = api.post(
            "/customer",
            json={"DisplayName": name, "PrimaryEmailAddr": {"Address": "morgan@lee-roofing.test"}},
        )
    stranger = made.json()["Customer"]
    ours = {"id": "cus_morgan", "display_name": name, "email": "morgan@home.test"}
    event_id = gateway.send(event("customer.created", ours, "2026-12-01T09:00:00Z"))

    # JobRoutr sees the question and the QuickBooks record it might be.
    review = gateway.in_review(event_id)["review"]
    assert review["reason"] == "name"
    assert review["candidate"]["qbo_id"] == stranger["Id"]
    assert review["candidate"]["email"] == "morgan@lee-roofing.test"
    assert review["create_as"] == f"{name} (2)"

    # The operator reads both side by side, with the name a new customer would get.
    shown = invoke("events", "review", event_id, env=gateway.env)
    assert shown.exit_code == 0, shown.stderr
    [email] = [line for line in shown.stdout.splitlines() if "Email" in line]
    assert "morgan@home.test" in email
    assert "morgan@lee-roofing.test" in email
    assert f"{name} (2)" in shown.stdout
    assert qbo(books, "Customer", stranger["Id"])["SyncToken"] == stranger["SyncToken"]

    created = invoke("events", "review", event_id, "--create", env=gateway.env)
    assert created.exit_code == 0, created.stderr
    [done] = gateway.settle(event_id)
    assert done["status"] == "done", done
    new = qbo(books, "Customer", done["qbo_id"])
    assert new["Id"] != stranger["Id"]
    assert new["DisplayName"] == f"{name} (2)"
    assert new["PrimaryEmailAddr"]["Address"] == "morgan@home.test"

    # JobRoutr sends the customer again, still named as before: it keeps its number.
    again = gateway.send(
        event("customer.updated", ours | {"phone": "555-0100"}, "2026-12-01T10:00:00Z")
    )
    [updated] = gateway.settle(again)
    assert updated["status"] == "done", updated
    after = qbo(books, "Customer", done["qbo_id"])
    assert after["DisplayName"] == f"{name} (2)"
    assert after["PrimaryPhone"]["FreeFormNumber"] == "555-0100"
    untouched = qbo(books, "Customer", stranger["Id"])
    assert untouched["SyncToken"] == stranger["SyncToken"]
    assert untouched["PrimaryEmailAddr"]["Address"] == "morgan@lee-roofing.test"


def test_a_numbered_product_keeps_its_number_when_sent_again(
    gateway: Gateway, books: RunningEmulator
) -> None:
    name = f"Hedge {uuid.uuid4().hex[:6]}"
    first = {"id": "prd_h1", "name": name, "price": "40.00"}
    second = {"id": "prd_h2", "name": name, "price": "55.00"}
    ids = [
        gateway.send(event("product.created", first, "2026-12-01T09:00:00Z")),
        gateway.send(event("product.created", second, "2026-12-01T09:00:01Z")),
    ]
    done = gateway.settle(*ids)
    assert [e["status"] for e in done] == ["done", "done"], done
    names = {qbo(books, "Item", e["qbo_id"])["Name"] for e in done}
    assert names == {name, f"{name} (2)"}
    numbered = next(e["qbo_id"] for e in done if qbo(books, "Item", e["qbo_id"])["Name"] != name)
    owner = "prd_h1" if gateway.link("product", "prd_h1") == numbered else "prd_h2"
    data = (first if owner == "prd_h1" else second) | {"price": "60.00"}
    [updated] = gateway.settle(gateway.send(event("product.updated", data, "2026-12-01T10:00:00Z")))
    assert updated["status"] == "done", updated
    item = qbo(books, "Item", numbered)
    assert (item["Name"], Decimal(str(item["UnitPrice"]))) == (f"{name} (2)", Decimal(60))
