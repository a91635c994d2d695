"""Fixtures for tests that run the service's own wiring against the emulator, or the service as
installed (a real `appliance serve` process).

``emulator`` is a fresh emulator per test; ``books`` one per test module, for modules whose tests
each write records of their own names (a module that needs other books defines its own).
``service`` is a running service of the test's own; ``idle_service`` one running service shared by
the tests (of any module) that only read from it and change nothing: each start costs seconds.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.config import Settings
from appliance.storage.store import initialize
from tests.harness.emulator import RunningEmulator
from tests.harness.processes import run_appliance
from tests.harness.service import Service, appliance_settings, env_for, start


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


@pytest.fixture(scope="session")
def idle_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """`appliance init` and `serve`, not connected, for read-only tests; set up before any test's
    isolated home, so it gets a home of its own."""
    base = tmp_path_factory.mktemp("idle")
    settings = appliance_settings(base / "state")
    env = env_for(settings, HOME=str(base))
    assert run_appliance("init", env=env).returncode == 0
    svc = start(env, settings)
    yield svc
    svc.kill()
    shutil.rmtree(settings.admin_socket.parent, ignore_errors=True)
