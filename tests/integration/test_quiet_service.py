"""What a newcomer sees and reads of a running service: a log that says what happened, not what
the console asked; a busy port found before anything is initialised; uvicorn's start lines once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from appliance.core.admin_client import AdminClient
from appliance.errors import AdminError
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, running_gateway
from tests.harness.processes import ROOT, free_port
from tests.harness.service import Service, appliance_settings, env_for, read_output

pytestmark = pytest.mark.slow

#: The console's screens re-read every 0.5 s (Import) and 2 s (Status, Review).
ROUNDS = 12


@pytest.fixture
def gateway(books: RunningEmulator, tmp_path: Path) -> Iterator[Gateway]:
    """Connected, accounts imported, customers and products never imported."""
    with running_gateway(books, tmp_path) as running:
        yield running


def log_lines(service: Service) -> list[dict]:
    lines = read_output(service.out).splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def poll_as_the_console_does(socket_path: Path) -> None:
    """The Status screen and the Import screen before a first import: what they ask, as often."""
    with AdminClient(socket_path) as client:
        for _ in range(ROUNDS):
            client.status()
            for kind in ("customers", "products", "tax_codes"):
                with pytest.raises(AdminError) as never:  # none has run yet: 404
                    client.import_latest(kind)
                assert never.value.status == 404
            time.sleep(0.05)


def test_the_consoles_polling_leaves_the_service_log_quiet(gateway: Gateway) -> None:
    service = gateway.service
    before = len(log_lines(service))
    poll_as_the_console_does(service.socket)
    assert httpx.get(service.url + "/healthz").status_code == 200
    time.sleep(0.3)  # the line of the last request is written after its answer
    new = log_lines(service)[before:]
    noisy = [line for line in new if line.get("level") in ("info", "warning", "error")]
    # The public listener's requests stay in the log, as documented: the one /healthz.
    public = [line for line in noisy if line["event"] == "http.request_finished"]
    assert [line["path"] for line in public] == ["/healthz"], noisy
    assert all("peer_uid" not in line for line in noisy), noisy
    assert not [line for line in noisy if line["event"] == "http.request_refused"], noisy


def test_the_admin_sockets_requests_are_logged_at_debug(
    books: RunningEmulator, tmp_path: Path
) -> None:
    with running_gateway(books, tmp_path, APPLIANCE_LOG_LEVEL="DEBUG") as debug:
        before = len(log_lines(debug.service))
        with AdminClient(debug.service.socket) as client:
            client.status()
        time.sleep(0.3)
        finished = [
            line
            for line in log_lines(debug.service)[before:]
            if line["event"] == "http.request_finished" and "peer_uid" in line
        ]
        assert [(line["path"], line["level"]) for line in finished] == [("/v1/status", "debug")]


def test_uvicorns_start_and_stop_lines_come_once_not_per_listener(service: Service) -> None:
    code, out, err = service.stop()
    assert code == 0
    text = out + err
    for line in (
        "Started server process",
        "Waiting for application startup",
        "Application startup complete",
        "Shutting down",
        "Finished server process",
    ):
        assert text.count(line) <= 1, (line, text)  # fmt: skip
    events = [json.loads(line)["event"] for line in out.splitlines() if line.startswith("{")]
    assert events.count("service.started") == 1


def test_tasks_run_finds_a_busy_port_before_it_initialises_anything(tmp_path: Path) -> None:
    settings = appliance_settings(tmp_path / "state")
    env = env_for(settings)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", settings.http_port))
        busy.listen(1)
        result = subprocess.run(
            [sys.executable, str(ROOT / "tasks.py"), "run"],
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")},
                **env,
                "APPLIANCE_VENV": str(Path(sys.executable).parent.parent),
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert f"127.0.0.1:{settings.http_port}" in out, out
    assert "APPLIANCE_HTTP_PORT" in out, out
    assert "Traceback" not in out, out
    # Nothing initialised: no data key, no database, no API key shown.
    assert not (settings.state_dir / "keyring.json").exists(), out
    assert not list(settings.state_dir.glob("*.db")), out
    assert "jra_" not in out, out


def test_tasks_run_finds_the_emulators_busy_port_too(tmp_path: Path) -> None:
    settings = appliance_settings(tmp_path / "state")
    emulator_port = free_port()
    env = env_for(settings, APPLIANCE_QBO_EMULATOR_URL=f"http://127.0.0.1:{emulator_port}")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", emulator_port))
        busy.listen(1)
        result = subprocess.run(
            [sys.executable, str(ROOT / "tasks.py"), "run"],
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")},
                **env,
                "APPLIANCE_VENV": str(Path(sys.executable).parent.parent),
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert f"127.0.0.1:{emulator_port}" in out, out
    assert "APPLIANCE_QBO_EMULATOR_URL" in out, out
    assert not (settings.state_dir / "keyring.json").exists(), out
