"""The console's Taxes screen driven by keys against the real service: a suggestion accepted, a
code of another percent refused and then forced, the untaxed code searched and chosen, the
suggested discount account chosen; each saved at once (the CLI sees it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import OptionList

from appliance.tui.app import ConsoleApp
from appliance.tui.common import Confirm
from appliance.tui.taxes import TaxesScreen
from tests.harness.cli import invoke
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, running_gateway
from tests.harness.taxes import british, seed_taxes
from tests.tui.pilot import drive, until

RATES = [
    {"id": "r-red", "name": "Reduced 8.25%", "percent": "8.25"},
    {"id": "r-std", "name": "VAT 17.5%", "percent": "17.5"},
]


@pytest.fixture
def gateway(books: RunningEmulator, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(books, tmp_path) as running:
        seed_taxes(running.settings, british(books.realm), RATES)
        yield running


def shown(gateway: Gateway) -> dict[str, Any]:
    result = invoke("taxes", "list", "--json", env=gateway.env)
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout))


def mapped(gateway: Gateway, rate_id: str) -> str | None:
    rate = next(r for r in shown(gateway)["rates"] if r["jobroutr_rate_id"] == rate_id)
    return rate["mapped"]["qbo_id"] if rate["mapped"] else None


def test_rates_are_mapped_and_the_invoice_settings_chosen_by_keys(gateway: Gateway) -> None:
    app = ConsoleApp(gateway.settings.admin_socket_path)

    async def steps(pilot: Any) -> None:
        await pilot.press("t")
        screen = app.screen
        assert isinstance(screen, TaxesScreen)
        rates = screen.query_one("#rates-list", OptionList)
        codes = screen.query_one("#codes-list", OptionList)
        await until(lambda: rates.option_count == 2 and codes.option_count > 0, "the lists")
        await pilot.press("y")  # the first rate (Reduced 8.25%): accept its suggestion
        await until(lambda: mapped(gateway, "r-red") == "903", "the suggestion accepted")

        # VAT 17.5% to the 8.25 % code: refused, nothing mapped; then forced.
        await pilot.press("down", "enter", "slash", *"8.25", "enter", "enter")
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()
        assert mapped(gateway, "r-std") is None
        await pilot.press("f")
        await until(lambda: isinstance(app.screen, Confirm), "the question")
        await pilot.press("y")
        await until(lambda: mapped(gateway, "r-std") == "903", "the forced mapping")

        await pilot.press("x", "slash", *"exempt", "enter", "enter")
        await until(lambda: shown(gateway)["untaxed_tax_code"] is not None, "the untaxed code")
        await pilot.press("d", "enter")  # the suggested discount account is the first
        await until(lambda: shown(gateway)["discount_account"] is not None, "the account")

    drive(app, steps)
    info = shown(gateway)
    assert info["untaxed_tax_code"]["qbo_id"] == "904"
    assert info["discount_account"]["qbo_id"] == info["suggested_discount_account"]["qbo_id"]
    assert info["missing"] == []
