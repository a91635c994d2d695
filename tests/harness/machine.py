"""A Debian 12 machine with systemd as PID 1, booted by `systemd-nspawn -b`, for the unit's tests.

The machine is a private copy of the cached root filesystem of tests/harness/debian.py (flavour
"systemd"). Before it boots, commands run in it with `systemd-nspawn --pipe` and the host's network
(pip reaches PyPI there; its downloads are kept in CACHE/pip for the next run). Booted, it has a
private network (loopback only, so port 8780 is its own) and is not registered with machined
(`--register=no --keep-unit`: this host's PID 1 is not systemd); commands then enter it with
nsenter, as root or, through `runuser`, as one of its users.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.harness import debian

GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class NoMachine(Exception):
    """No machine can boot here; the message says why, in one sentence."""


def unavailable() -> str | None:
    if os.geteuid() != 0:
        return "booting a machine with systemd-nspawn needs root"
    if shutil.which("systemd-nspawn") is None and not debian._apt_install("systemd-container"):
        return "systemd-nspawn is not installed and `apt-get install systemd-container` failed"
    return debian.unavailable() if not (debian.CACHE / "systemd").exists() else None


@dataclass
class Machine:
    root: Path
    leader: int = 0

    def prepare(self, script: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """A shell script run in the machine before it boots, with the host's network."""
        pip_cache = debian.CACHE / "pip"
        pip_cache.mkdir(parents=True, exist_ok=True)
        return subprocess.run(
            [
                "systemd-nspawn",
                "--quiet",
                "--register=no",
                "--keep-unit",
                "--pipe",
                f"--directory={self.root}",
                f"--bind={pip_cache}:/root/.cache/pip",
                f"--setenv=PATH={GUEST_PATH}",
                "/bin/sh",
                "-euxc",
                script,
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def run(
        self, *command: str, user: str | None = None, timeout: float = 60, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """A command in the booted machine (as root, or as ``user`` with its groups)."""
        assert self.leader, "the machine has not booted"
        as_user = ["runuser", "-u", user, "--"] if user else []
        done = subprocess.run(
            [
                "nsenter",
                f"--target={self.leader}",
                "--mount",
                "--uts",
                "--ipc",
                "--net",
                "--pid",
                "--root",
                "--wd=/",
                "/usr/bin/env",
                "-i",
                f"PATH={GUEST_PATH}",
                "LANG=C.UTF-8",
                *as_user,
                *command,
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)}: {done.returncode}\n{done.stdout}{done.stderr}"
            )
        return done

    def shell(self, script: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return self.run("/bin/sh", "-euc", script, **kwargs)  # type: ignore[arg-type]

    def unit(self, name: str, *properties: str) -> dict[str, str]:
        shown = self.run("systemctl", "show", name, *(f"--property={p}" for p in properties))
        return dict(line.split("=", 1) for line in shown.stdout.splitlines() if "=" in line)

    def wait_for(self, what: str, predicate: object, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():  # type: ignore[operator]
                return
            time.sleep(0.25)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@contextmanager
def booted(machine: Machine, log: Path) -> Iterator[Machine]:
    """The machine booted to multi-user; powered off (then killed, if it will not) at the end."""
    with log.open("ab") as console:
        nspawn = subprocess.Popen(
            [
                "systemd-nspawn",
                "--quiet",
                "--boot",
                "--register=no",
                "--keep-unit",
                "--private-network",
                "--console=passive",
                f"--directory={machine.root}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        machine.leader = _leader(nspawn)
        machine.wait_for("the machine to boot", lambda: _is_running(machine), timeout=120)
        yield machine
    finally:
        nspawn.send_signal(signal.SIGTERM)  # nspawn asks the machine's systemd to power off
        try:
            nspawn.wait(timeout=60)
        except subprocess.TimeoutExpired:
            nspawn.kill()
            nspawn.wait(timeout=30)


def _leader(nspawn: subprocess.Popen[bytes]) -> int:
    """The machine's PID 1, as the host sees it: the child of systemd-nspawn."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if nspawn.poll() is not None:
            raise NoMachine(f"systemd-nspawn ended at once (exit {nspawn.returncode})")
        children = Path(f"/proc/{nspawn.pid}/task/{nspawn.pid}/children")
        with_pid = children.read_text().split() if children.exists() else []
        if with_pid:
            leader = int(with_pid[0])
            comm = Path(f"/proc/{leader}/comm").read_text().strip()
            if comm == "systemd":
                return leader
        time.sleep(0.2)
    raise NoMachine("systemd-nspawn started no systemd within 60 s")


def _is_running(machine: Machine) -> bool:
    state = machine.run("systemctl", "is-system-running", check=False).stdout.strip()
    return state in ("running", "degraded")
