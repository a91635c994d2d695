"""Fixtures for the fidelity suite: the recordings' folder and the emulator they are replayed on.

The recordings are public third-party material kept outside the repository (../shared/qbo), so
every test that needs them asks for ``samples``, which skips when they are not there.

One emulator serves a whole test module (starting one takes about half a second); tests in a
module create the records they change under their own names, so they do not depend on order.
A test that moves the clock uses ``fresh_emulator``.

The companies are of the kind "us-manual": the recorded sandbox sets its sales tax up by hand
(its customers and invoices name TaxCode 2 "California", which an automated-sales-tax company
does not have), as Intuit's sandboxes do not run automated sales tax (FACTS §11).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from appliance.emulator.app import EmulatorConfig
from tests.harness.emulator import RunningEmulator
from tests.harness.processes import shared_dir

RECORDED_KIND = "us-manual"


@pytest.fixture(scope="session")
def samples() -> Path:
    path = shared_dir() / "qbo" / "samples"
    if not (path / "SOURCES.md").is_file():
        pytest.skip(f"QBO recordings not found at {path}; set JOBROUTR_SHARED_DIR")
    return path


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with RunningEmulator(EmulatorConfig(company=RECORDED_KIND)) as running:
        yield running


@pytest.fixture(scope="module")
def api(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    with emulator.api() as client:
        yield client


@pytest.fixture
def fresh_emulator() -> Iterator[RunningEmulator]:
    with RunningEmulator(EmulatorConfig(company=RECORDED_KIND)) as running:
        yield running
