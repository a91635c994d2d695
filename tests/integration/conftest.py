"""Fixtures for tests that run the service's own wiring against the emulator, or the service as
installed (a real `appliance serve` process).

``emulator`` is a fresh emulator per test; ``books`` one per test module, for modules whose tests
each write records of their own names (a module that needs other books defines its own).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.config import Settings
from appliance.storage.store import initialize
from tests.harness.emulator import RunningEmulator
from tests.harness.processes import run_appliance
from tests.harness.service import Service, env_for, start


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    with RunningEmulator() as running:
        yield running


@pytest.fixture(scope="module")
def books() -> Iterator[RunningEmulator]:
    with RunningEmulator() as emulator:
        yield emulator


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


@pytest.fixture
def service(settings: Settings) -> Iterator[Service]:
    """`appliance init`, then `appliance serve` with its bundled emulator, not connected."""
    env = env_for(settings)
    assert run_appliance("init", env=env).returncode == 0
    svc = start(env, settings)
    yield svc
    svc.kill()
