"""Fixtures for the console's tests: the emulator its service talks to, one per test module (a
module that needs larger books, as test_console's pages of customers, defines its own)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.harness.emulator import RunningEmulator


@pytest.fixture(scope="module")
def books() -> Iterator[RunningEmulator]:
    with RunningEmulator() as emulator:
        yield emulator
