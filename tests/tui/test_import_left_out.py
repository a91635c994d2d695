"""The Import screen's summary says what the import left out on purpose, as the CLI does: "Active
only; 12 inactive, 6 categories not imported." (against a real service and generated books)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.emulator.app import EmulatorConfig
from appliance.tui.app import ConsoleApp
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, running_gateway
from tests.harness.processes import run_appliance
from tests.tui.pilot import drive, text, until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def books() -> Iterator[RunningEmulator]:
    with RunningEmulator(EmulatorConfig(customers=400, items=150)) as emulator:
        yield emulator


@pytest.fixture
def gateway(books: RunningEmulator, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(books, tmp_path) as running:
        yield running


def imported(gateway: Gateway, kind: str) -> dict[str, int]:
    done = run_appliance("import", kind, "--wait", "--json", env=gateway.env)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout)["left_out"])


def test_the_import_screen_says_what_was_left_out(gateway: Gateway) -> None:
    customers = imported(gateway, "customers")
    products = imported(gateway, "products")
    assert customers["inactive"]
    assert products["categories"]
    app = ConsoleApp(gateway.settings.admin_socket_path)

    def line(kind: str) -> str:
        return " ".join(text(app, f"#line-{kind}").split())

    async def steps(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("i")
        await until(lambda: "Done" in line("products"), "the last imports")
        assert f"Active only; {customers['inactive']:,} inactive not imported." in line("customers")
        assert (
            f"Active only; {products['inactive']:,} inactive, "
            f"{products['categories']:,} categories not imported." in line("products")
        )
        assert "not imported" not in line("tax_codes")

    drive(app, steps)
