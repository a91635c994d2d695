"""Helpers for tests that start real processes: free ports, waiting, the appliance's own env."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import uvicorn

from appliance.emulator.app import EmulatorConfig, create_emulator_app

ROOT = Path(__file__).resolve().parent.parent
APPLIANCE = Path(sys.executable).parent / "appliance"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    predicate: Callable[[], bool], *, timeout: float = 20.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


def appliance_env(settings_env: Mapping[str, str]) -> dict[str, str]:
    """The environment for an `appliance` subprocess: this one's, minus host state, plus ours."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("APPLIANCE_")
        and k not in ("STATE_DIRECTORY", "RUNTIME_DIRECTORY", "CREDENTIALS_DIRECTORY")
    }
    env.update(settings_env)
    return env


def run_appliance(
    *args: str, env: Mapping[str, str], timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(APPLIANCE), *args],
        env=appliance_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def shared_dir() -> Path:
    """Public third-party material (QBO recordings, the JobRoutr contract), never copied here."""
    return Path(os.environ.get("JOBROUTR_SHARED_DIR", ROOT.parent / "shared")).resolve()


class RunningEmulator:
    """The bundled QBO emulator on a free loopback port, in a thread of the test process."""

    def __init__(self, config: Any = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = config or EmulatorConfig()
        self.app = create_emulator_app(self.config)
        self.service = self.app.service
        self.realm = next(iter(self.service.companies))
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                host="127.0.0.1",
                port=self.port,
                log_config=None,
                access_log=False,
                lifespan="on",
            )
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> RunningEmulator:
        self._thread.start()
        wait_until(lambda: answers(self.url + "/_emulator/health"), what="the emulator")
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)

    def token(self, realm: str | None = None) -> str:
        response = httpx.post(
            self.url + "/_emulator/tokens", json={"realm_id": realm or self.realm}
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def api(self, token: str | None = None, realm: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.url}/v3/company/{realm or self.realm}",
            headers={
                "Authorization": f"Bearer {token or self.token(realm)}",
                "Accept": "application/json",
            },
            params={"minorversion": "75"},
            timeout=30,
        )


def approve(authorization_url: str, realm: str, action: str = "connect") -> str:
    """What the operator's browser does on the consent page; returns where it is sent next."""
    parts = urlsplit(authorization_url)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    response = httpx.post(
        f"{parts.scheme}://{parts.netloc}{parts.path}",
        data={**params, "realm_id": realm, "action": action},
    )
    assert response.status_code == 302, response.text
    return str(response.headers["location"])
