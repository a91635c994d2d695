"""Fixtures for tests that run the service's own wiring against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.config import Settings
from appliance.storage.store import initialize
from tests.support import RunningEmulator


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    with RunningEmulator() as running:
        yield running


@pytest.fixture
def app_settings(tmp_path: Path, emulator: RunningEmulator, short_dir: Path) -> Settings:
    settings = Settings(
        state_dir=tmp_path / "state",
        qbo_emulator_url=emulator.url,
        admin_socket=short_dir / "admin.sock",
        log_format="json",
    )
    initialize(settings, actor="test")
    return settings
