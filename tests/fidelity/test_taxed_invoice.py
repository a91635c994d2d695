"""The recorded taxed invoice (samples/recorded/nango_2026/get-invoice: a US sandbox with sales
tax set up by hand) sent back to a company of that kind comes out to the cent."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from appliance.emulator.app import EmulatorConfig
from tests.fidelity.recordings import nango
from tests.harness.emulator import RunningEmulator

SERVER_FIELDS = ("Id", "SyncToken", "MetaData", "domain", "sparse")


@pytest.fixture
def manual() -> Iterator[RunningEmulator]:
    with RunningEmulator(EmulatorConfig(company="us-manual")) as running:
        yield running


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def test_the_recorded_taxed_invoice_sent_again_is_figured_to_the_cent(
    samples: Path, manual: RunningEmulator
) -> None:
    recorded = nango(samples, "get-invoice").json()["Invoice"]
    body = {k: v for k, v in recorded.items() if k not in SERVER_FIELDS}
    body["DocNumber"] = "T-1037"  # the seed may hold 1037
    with manual.api() as api:
        response = api.post("/invoice", json=body)
    assert response.status_code == 200, response.text
    made = response.json()["Invoice"]
    # Written out from the recording: 8 % of 335.25 = 26.82, 335.25 + 26.82 = 362.07.
    assert _money(made["TxnTaxDetail"]["TotalTax"]) == Decimal("26.82")
    assert _money(made["TotalAmt"]) == Decimal("362.07")
    assert _money(made["Balance"]) == Decimal("362.07")
    assert made["TxnTaxDetail"]["TxnTaxCodeRef"]["value"] == "2"
    (tax_line,) = made["TxnTaxDetail"]["TaxLine"]
    (recorded_line,) = recorded["TxnTaxDetail"]["TaxLine"]
    assert tax_line["DetailType"] == recorded_line["DetailType"] == "TaxLineDetail"
    assert _money(tax_line["Amount"]) == _money(recorded_line["Amount"])
    detail, expected = tax_line["TaxLineDetail"], recorded_line["TaxLineDetail"]
    assert detail["TaxRateRef"]["value"] == expected["TaxRateRef"]["value"] == "3"
    assert detail["PercentBased"] is expected["PercentBased"] is True
    assert _money(detail["TaxPercent"]) == _money(expected["TaxPercent"]) == Decimal(8)
    assert _money(detail["NetAmountTaxable"]) == _money(expected["NetAmountTaxable"])
    assert _money(made["Line"][-1]["Amount"]) == Decimal("335.25")


def test_the_recorded_invoice_without_its_tax_detail_is_figured_the_same(
    samples: Path, manual: RunningEmulator
) -> None:
    """Left out, the code comes from the customer (Sonnenschein's DefaultTaxCodeRef is 2)."""
    recorded = nango(samples, "get-invoice").json()["Invoice"]
    body = {k: v for k, v in recorded.items() if k not in (*SERVER_FIELDS, "TxnTaxDetail")}
    body["DocNumber"] = "T-1037b"
    with manual.api() as api:
        response = api.post("/invoice", json=body)
    assert response.status_code == 200, response.text
    made = response.json()["Invoice"]
    assert _money(made["TxnTaxDetail"]["TotalTax"]) == Decimal("26.82")
    assert _money(made["TotalAmt"]) == Decimal("362.07")
