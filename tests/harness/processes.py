"""Helpers for tests that start real processes: free ports, waiting, the appliance's own env."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent.parent
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
