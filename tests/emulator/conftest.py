"""The emulator on a free loopback port for each test that asks for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.harness.emulator import RunningEmulator


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    with RunningEmulator() as running:
        yield running
