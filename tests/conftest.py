"""Fixtures shared by every test: a host that cannot leak into the run, and appliance settings.

The autouse fixture removes every way the machine running the tests could influence them
(APPLIANCE_* variables, systemd's directories, the user's home), so a developer's own appliance
configuration never changes a result and a test never touches a real state directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.config import Settings
from appliance.storage.store import Store, initialize
from tests.harness.postgres import Unavailable
from tests.harness.processes import free_port
from tests.harness.stores import CHOICES, SQLITE, STORES


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--snapshot-update",
        action="store_true",
        help="Write the console's SVG snapshots anew (tests/tui/snapshots/); look at them first.",
    )
    parser.addoption(
        "--store",
        choices=CHOICES,
        default=None,
        help="The store the appliances of this run use: sqlite (default) or postgres (a server "
        "the session starts; JRA_TEST_STORE does the same).",
    )


def pytest_configure(config: pytest.Config) -> None:
    chosen = config.getoption("--store")
    if chosen:
        STORES.kind = chosen


def pytest_unconfigure(config: pytest.Config) -> None:
    STORES.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Unit tests on an initialised store are store tests too (`tasks.py test` runs them again on
    PostgreSQL): they are quick, and they reach every query the store makes."""
    for item in items:
        if "store" in getattr(item, "fixturenames", ()) and item.path.parent.name == "unit":
            item.add_marker(pytest.mark.stores)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if STORES.kind != SQLITE and item.get_closest_marker("sqlite_only") is not None:
        pytest.skip(
            "about SQLite's own files (their bytes, modes, WAL or quick check), which a "
            "PostgreSQL store does not have: runs with --store=sqlite"
        )


@pytest.fixture(scope="session")
def store_kind() -> str:
    """sqlite or postgres: what this run's appliances are on."""
    return STORES.kind


HOST_VARIABLES = ("STATE_DIRECTORY", "RUNTIME_DIRECTORY", "CREDENTIALS_DIRECTORY", "XDG_STATE_HOME")


@pytest.fixture(autouse=True)
def isolated_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("APPLIANCE_") or name in HOST_VARIABLES:
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    # A command run in this process sets its umask to 077 (cli/root.py), as it should for the
    # appliance; it must not carry into later tests, whose files a machine or a container's
    # other users then could not read (tests/deploy/test_unit.py failed so in a full run).
    umask = os.umask(0o022)
    os.umask(umask)
    yield
    os.umask(umask)


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path: Unix socket paths must stay under 108 bytes."""
    path = Path(tempfile.mkdtemp(prefix="jra-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def settings(tmp_path: Path, short_dir: Path) -> Settings:
    """Settings for one appliance on the emulator, its state under tmp_path, on a free port."""
    try:
        store = STORES.store_settings()
    except Unavailable as exc:
        pytest.skip(str(exc))
    return Settings(
        state_dir=tmp_path / "state",
        http_port=free_port(),
        admin_socket=short_dir / "admin.sock",
        log_format="json",
        **store,
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """A store initialised as `appliance init` leaves it, open; closed when the test ends."""
    initialize(settings, actor="test")
    opened = Store.open(settings)
    yield opened
    opened.close()
