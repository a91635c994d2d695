"""`appliance serve` as an operator runs it: a real process on a free port, its output in files."""

from __future__ import annotations

import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from appliance.config import Settings
from tests.harness.processes import APPLIANCE, answers, appliance_env, free_port, wait_until
from tests.harness.stores import STORES, store_env


@dataclass
class Service:
    env: dict[str, str]
    url: str
    socket: Path
    process: subprocess.Popen[str]
    # Files, not pipes: a chatty service must never block on a full pipe while a test waits.
    out: IO[str] | None = None
    err: IO[str] | None = None

    def stop(self) -> tuple[int, str, str]:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        return self.process.returncode, read_output(self.out), read_output(self.err)

    def kill(self) -> None:
        """SIGKILL if it still runs, and reap it: what every fixture does when its test ends."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def read_output(handle: IO[str] | None) -> str:
    """Everything the service wrote so far to one of its output files."""
    if handle is None:
        return ""
    handle.seek(0)
    return handle.read()


def appliance_settings(state_dir: Path, port: int | None = None) -> Settings:
    """Settings for one appliance: its state in ``state_dir``, a free port unless ``port`` is
    given, and its admin socket in a new directory under /tmp (socket paths must stay short)."""
    short = Path(tempfile.mkdtemp(prefix="jra-", dir="/tmp"))
    return Settings(
        state_dir=state_dir,
        http_port=port if port is not None else free_port(),
        admin_socket=short / "admin.sock",
        log_format="json",
        **STORES.store_settings(),  # on PostgreSQL, a database of its own
    )


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        "APPLIANCE_STATE_DIR": str(settings.state_dir),
        "APPLIANCE_HTTP_PORT": str(settings.http_port),
        "APPLIANCE_ADMIN_SOCKET": str(settings.admin_socket_path),
        **store_env(settings.database_url, settings.database_password_file),
        # The bundled emulator runs inside the service, on a port of its own.
        "APPLIANCE_QBO_EMULATOR_URL": f"http://127.0.0.1:{free_port()}",
        **extra,
    }


def start(env: dict[str, str], settings: Settings) -> Service:
    out = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed with the test process
    err = tempfile.TemporaryFile("w+")  # noqa: SIM115
    process = subprocess.Popen(
        [str(APPLIANCE), "serve"], env=appliance_env(env), stdout=out, stderr=err, text=True
    )
    url = f"http://127.0.0.1:{settings.http_port}"
    service = Service(env, url, settings.admin_socket_path, process, out, err)
    try:
        wait_until(
            lambda: process.poll() is not None or answers(url + "/healthz"),
            what="the service to answer /healthz",
        )
    except AssertionError:
        process.kill()
        raise
    assert process.poll() is None, read_output(err)
    return service
