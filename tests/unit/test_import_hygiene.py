"""`appliance --help`, `appliance status` and the console's first paint import nothing heavy.

Each runs in a fresh Python (a subprocess, as harlequin's test_import_hygiene does), since this
test process has long imported everything. What they load today is pinned here: the command line
loads click, pydantic's settings and the HTTP client, but never the gateway's web stack, the
database layer or the console; the console paints its first screen before the command line, the
settings or the HTTP client are imported (they load afterwards, in a worker).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from appliance.cli import EXIT_NOT_RUNNING

# The service's own stack, which no operator command should pay for before it needs it.
SERVICE_STACK = (
    "litestar",
    "uvicorn",
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "appliance.gateway",
    "appliance.storage",
    "appliance.sync",
    "appliance.qbo",
    "appliance.emulator",
)
NOT_IN_THE_CLI = (*SERVICE_STACK, "textual", "appliance.tui")
NOT_BEFORE_THE_FIRST_PAINT = (
    *SERVICE_STACK,
    "click",
    "pydantic",
    "pydantic_settings",
    "structlog",
    "httpx",
    "segno",
    "appliance.cli",
    "appliance.config",
    "appliance.core.admin_client",
)

CLI = """
import json, sys

out, *argv = sys.argv[1:]
sys.argv = ["appliance", *argv]
from appliance.entry import main

try:
    main()
    code = 0
except SystemExit as exit:
    code = exit.code
with open(out, "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""

# As `appliance tui` starts (appliance.entry, then the console), with a socket finder that waits
# until the first screen is painted: the worker that finds the socket is held off, so what is
# loaded then is what the first paint needed.
CONSOLE = """
import asyncio, json, sys, threading
from pathlib import Path

out = sys.argv[1]
import appliance.entry
from appliance.tui.app import ConsoleApp

painted = threading.Event()


def socket():
    painted.wait()
    return Path(out).with_name("nobody-answers.sock")


async def first_paint():
    app = ConsoleApp(socket)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        seen = {"screen": type(app.screen).__name__, "modules": sorted(sys.modules)}
        painted.set()
    return seen


seen = asyncio.run(first_paint())
with open(out, "w") as f:
    json.dump(seen, f)
"""


def run_python(script: str, tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "seen.json"
    env = {
        **os.environ,
        "APPLIANCE_STATE_DIR": str(tmp_path / "state"),
        "APPLIANCE_ADMIN_SOCKET": str(tmp_path / "admin.sock"),
    }
    done = subprocess.run(
        [sys.executable, "-c", script, str(out), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen: dict[str, Any] = json.loads(out.read_text())
    return seen


def loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` (packages or modules) any of ``modules`` is, or is inside."""
    return [n for n in names if any(m == n or m.startswith(f"{n}.") for m in modules)]


@pytest.mark.parametrize(
    ("argv", "code"),
    [(["--help"], 0), (["status"], EXIT_NOT_RUNNING)],
    ids=["help", "status"],
)
def test_the_command_line_loads_none_of_the_service_stack_or_the_console(
    tmp_path: Path, argv: list[str], code: int
) -> None:
    seen = run_python(CLI, tmp_path, *argv)
    assert seen["code"] == code  # status got as far as asking the (absent) service
    assert loaded(seen["modules"], NOT_IN_THE_CLI) == []
    assert "appliance.core.admin_client" in seen["modules"]


def test_the_console_paints_its_first_screen_before_loading_settings_or_http(
    tmp_path: Path,
) -> None:
    seen = run_python(CONSOLE, tmp_path)
    assert seen["screen"] == "StatusScreen"
    assert loaded(seen["modules"], NOT_BEFORE_THE_FIRST_PAINT) == []
    assert "textual" in seen["modules"]
