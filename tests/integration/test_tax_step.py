"""Issue 19 as the office manager lives it, through the installed service, its CLI and the pull
API, in a US company whose sales tax is set up by hand: a taxed invoice waits for its rate's
mapping, the tax codes import makes a suggestion, a forced mapping to a code of another percent
ends ``mismatch`` (both figures in the pull API, never ``done``), and fixing the mapping and
retrying corrects the same QuickBooks invoice to the bill's figures; a mismatch can also be
accepted, which is audited.

The bills are figured by tests/harness/bills.py (the contract's arithmetic), and the judge is
the emulator's own books.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from appliance.emulator.app import EmulatorConfig
from appliance.storage.models import AuditEntry
from tests.harness.bills import figured
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, choose_default_accounts, running_gateway
from tests.harness.processes import run_appliance, wait_until
from tests.harness.store import stored

RATE = {"id": "tax_ca_state", "name": "California 8%", "percent": "8"}


@pytest.fixture(scope="module")
def manual_books() -> Iterator[RunningEmulator]:
    with RunningEmulator(EmulatorConfig(company="us-manual")) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def gateway(
    manual_books: RunningEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    with running_gateway(manual_books, tmp_path_factory.mktemp("manual")) as running:
        choose_default_accounts(running)
        yield running


def cli(gateway: Gateway, *args: str) -> Any:
    done = run_appliance(*args, "--json", env=gateway.env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def invoice(invoice_id: str, number: str) -> dict[str, Any]:
    data = {
        "id": invoice_id,
        "number": number,
        "customer_id": "cus_tax_step",
        "issue_date": "2026-12-04",
        "lines": [
            {"product_id": "prd_tax_step", "description": "Lawn care", "quantity": "3",
             "unit_price": "41.25", "tax_rate_id": RATE["id"]},
            {"product_id": "prd_tax_step", "description": "Green waste", "quantity": "1",
             "unit_price": "12.50"},
        ],
        "tax": {"mode": "exclusive", "rates": [dict(RATE)]},
    }  # fmt: skip
    return {"type": "invoice.created", "timestamp": "2026-12-04T10:00:00Z",
            "data": figured(data)}  # fmt: skip


def codes_by_name(gateway: Gateway) -> dict[str, dict[str, Any]]:
    return {code["name"]: code for code in cli(gateway, "taxes", "codes")}


def qbo_invoice(books: RunningEmulator, qbo_id: str) -> dict[str, Any]:
    return dict(books.service.companies[books.realm].get("Invoice", qbo_id))


def test_a_taxed_invoice_waits_for_its_mapping_and_a_wrong_one_ends_mismatch_until_fixed(
    gateway: Gateway, manual_books: RunningEmulator
) -> None:
    imported = cli(gateway, "import", "tax_codes", "--wait")
    assert imported["state"] == "done", imported
    gateway.send({"type": "customer.created", "timestamp": "2026-12-04T09:00:00Z",
                  "data": {"id": "cus_tax_step", "company_name": "Tax Step Gardens"}})  # fmt: skip
    gateway.send({"type": "product.created", "timestamp": "2026-12-04T09:00:00Z",
                  "data": {"id": "prd_tax_step", "name": "Tax step lawn care",
                           "price": "41.25", "taxable": True}})  # fmt: skip
    doc = invoice("inv_tax_step_1", "TS-1")
    bill = doc["data"]["totals"]
    event_id = gateway.send(doc)

    # It waits for the rate's mapping, naming the rate; the import suggested the 8 % code.
    wait_until(lambda: gateway.event(event_id)["status"] == "waiting", timeout=60, what="the wait")
    listed = cli(gateway, "events", "--status", "waiting")
    assert any("California 8%" in json.dumps(e) for e in listed["items"]), listed
    [rate] = cli(gateway, "taxes", "list")["rates"]
    codes = codes_by_name(gateway)
    assert rate["suggested"]["qbo_id"] == codes["California"]["qbo_id"]
    assert Decimal(codes["Tucson"]["percent"]) == Decimal("8.2")

    # A mapping to a code of another percent is refused, then forced: the invoice is written,
    # but QuickBooks' tax is 8.2 %, so it ends mismatch with both figures, never done.
    refused = run_appliance("taxes", "map", RATE["id"], codes["Tucson"]["qbo_id"], env=gateway.env)
    assert refused.returncode != 0
    assert "8.2" in refused.stderr, refused.stderr
    forced = run_appliance(
        "taxes", "map", RATE["id"], codes["Tucson"]["qbo_id"], "--force", env=gateway.env
    )
    assert forced.returncode == 0, forced.stderr
    [ended] = gateway.settle(event_id)
    assert ended["status"] == "mismatch", ended
    figures = ended["mismatch"]
    assert Decimal(figures["jobroutr"]["tax"]) == Decimal(bill["tax"])
    assert Decimal(figures["jobroutr"]["total"]) == Decimal(bill["total"])
    qbo_id = gateway.link("invoice", "inv_tax_step_1")
    assert qbo_id is not None
    written = qbo_invoice(manual_books, qbo_id)
    assert Decimal(figures["qbo"]["total"]) == Decimal(str(written["TotalAmt"]))
    assert Decimal(str(written["TotalAmt"])) != Decimal(bill["total"])
    link = gateway.http.get("/api/v1/links/invoice/inv_tax_step_1").json()
    assert (link["doc_number"], Decimal(link["total"])) == (
        "TS-1",
        Decimal(figures["qbo"]["total"]),
    )

    # Fixed and retried: the same QuickBooks invoice now holds the bill's figures.
    mapped = run_appliance(
        "taxes", "map", RATE["id"], codes["California"]["qbo_id"], env=gateway.env
    )
    assert mapped.returncode == 0, mapped.stderr
    retried = run_appliance("events", "retry", event_id, env=gateway.env)
    assert retried.returncode == 0, retried.stderr
    [fixed] = gateway.settle(event_id)
    assert fixed["status"] == "done", fixed
    assert gateway.link("invoice", "inv_tax_step_1") == qbo_id
    corrected = qbo_invoice(manual_books, qbo_id)
    assert Decimal(str(corrected["TotalAmt"])) == Decimal(bill["total"])
    assert Decimal(str(corrected["TxnTaxDetail"]["TotalTax"])) == Decimal(bill["tax"])
    mine = [
        row for row in manual_books.service.companies[manual_books.realm].rows("Invoice")
        if row.get("DocNumber") == "TS-1"
    ]  # fmt: skip
    assert len(mine) == 1  # corrected in place, never written twice
    link = gateway.http.get("/api/v1/links/invoice/inv_tax_step_1").json()
    assert (Decimal(link["total"]), Decimal(link["tax"]), link["state"]) == (
        Decimal(bill["total"]), Decimal(bill["tax"]), "open"
    )  # fmt: skip


def test_a_mismatch_the_office_manager_accepts_ends_done_and_is_audited(
    gateway: Gateway, manual_books: RunningEmulator
) -> None:
    codes = codes_by_name(gateway)
    cli(gateway, "import", "tax_codes", "--wait")
    forced = run_appliance(
        "taxes", "map", RATE["id"], codes["Tucson"]["qbo_id"], "--force", env=gateway.env
    )
    assert forced.returncode == 0, forced.stderr
    event_id = gateway.send(invoice("inv_tax_step_2", "TS-2"))
    [ended] = gateway.settle(event_id, timeout=90)
    assert ended["status"] == "mismatch", ended
    accepted = run_appliance("events", "accept", event_id, env=gateway.env)
    assert accepted.returncode == 0, accepted.stderr
    after = gateway.event(event_id)
    assert after["status"] == "done"
    assert after["mismatch"]["accepted_at"]
    actions = [(e.action, e.detail) for e in stored(gateway.settings, AuditEntry)]
    assert any(a == "events.accept" and event_id in json.dumps(d) for a, d in actions), actions
    assert any(a == "tax.mapped" and d.get("forced") for a, d in actions), actions
