"""A real Docker engine for tests/deploy/test_container.py, and the image built with it.

An engine that already answers (DOCKER_HOST, or the default socket) is used as it is. Otherwise,
as root, Debian's `docker.io` is installed when missing and a private `dockerd` is started with
its data under CACHE/docker (so images built once stay for later runs) and its socket in
/run/jobroutr-tests; `--iptables=false --bridge=none` because these machines allow neither, so
builds use the host's network and containers run with `--network none` (loopback only, which is
all the HEALTHCHECK and `docker exec` need).

No registry answers here, so the Dockerfile's base image is the Debian 12 root filesystem of
tests/harness/debian.py, imported as BASE_IMAGE and given to the build as PYTHON_IMAGE; the
`# syntax=` line (a frontend image from the registry) is left out of the copy the builder reads.
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
from tests.harness.processes import ROOT

BASE_IMAGE = "jobroutr-tests/python:3.11-bookworm"
IMAGE = "jobroutr-tests/gateway:latest"
PRIVATE = Path("/run/jobroutr-tests")
BASE_ENV = (
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG=C.UTF-8",
    # pip reads its own CA bundle unless told; the machine's one is in the root filesystem.
    "PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
)


class NoEngine(Exception):
    """No Docker engine can run here; the message says why, in one sentence."""


@dataclass
class Engine:
    client: str
    host: str | None

    def env(self) -> dict[str, str]:
        env = {**os.environ, "DOCKER_BUILDKIT": "1"}
        if self.host:
            env["DOCKER_HOST"] = self.host
        return env

    def run(
        self, *args: str, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.client, *args],
            env=self.env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: {done.stdout}{done.stderr}")
        return done

    def answers(self) -> bool:
        return self.run("version", timeout=20, check=False).returncode == 0

    def has_image(self, name: str) -> bool:
        return self.run("image", "inspect", name, check=False).returncode == 0


def _client() -> str | None:
    # Debian's client first: it speaks BuildKit without the buildx plugin (DOCKER_BUILDKIT=1).
    for candidate in ("/usr/bin/docker", shutil.which("docker")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@contextmanager
def engine() -> Iterator[Engine]:
    """An engine that answers, started here when needed and stopped again at the end."""
    client = _client()
    if client:
        existing = Engine(client, os.environ.get("DOCKER_HOST"))
        if existing.answers():
            yield existing
            return
    if os.geteuid() != 0:
        raise NoEngine("no Docker engine answers and starting one needs root")
    if (shutil.which("dockerd") is None or _client() is None) and not debian._apt_install(
        "docker.io"
    ):
        raise NoEngine("dockerd is not installed and `apt-get install docker.io` failed")
    with _private_dockerd() as started:
        yield started


@contextmanager
def _private_dockerd() -> Iterator[Engine]:
    PRIVATE.mkdir(parents=True, exist_ok=True)
    (debian.CACHE / "docker").mkdir(parents=True, exist_ok=True)
    socket = PRIVATE / "docker.sock"
    client = _client()
    assert client is not None
    started = Engine(client, f"unix://{socket}")
    if started.answers():  # left by an earlier run that was killed: use it, leave it
        yield started
        return
    log = (PRIVATE / "dockerd.log").open("ab")
    daemon = subprocess.Popen(
        [
            "dockerd",
            "--iptables=false",
            "--bridge=none",
            f"--data-root={debian.CACHE / 'docker'}",
            f"--exec-root={PRIVATE / 'docker'}",
            f"--pidfile={PRIVATE / 'docker.pid'}",
            f"--host=unix://{socket}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not started.answers():
            if daemon.poll() is not None or time.monotonic() > deadline:
                tail = (PRIVATE / "dockerd.log").read_text(errors="replace").splitlines()[-3:]
                raise NoEngine(f"dockerd did not start: {' / '.join(tail)}")
            time.sleep(0.5)
        yield started
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(timeout=10)
        log.close()


def base_image(docker: Engine) -> str:
    """BASE_IMAGE in the engine: a registry's python:3.11-slim stands in as Debian's own."""
    if not docker.has_image(BASE_IMAGE):
        root = debian.rootfs("python")
        changes = [arg for env in BASE_ENV for arg in ("--change", f"ENV {env}")]
        tar = ["tar", "--numeric-owner", "--exclude=./.jobroutr-rootfs", "-C", str(root), "-c", "."]
        with subprocess.Popen(tar, stdout=subprocess.PIPE) as archive:
            done = subprocess.run(
                [docker.client, "import", *changes, "--change", 'CMD ["python3"]', "-", BASE_IMAGE],
                env=docker.env(),
                stdin=archive.stdout,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        if done.returncode != 0 or archive.returncode != 0:
            raise AssertionError(f"docker import {BASE_IMAGE}: {done.stdout}{done.stderr}")
    return BASE_IMAGE


def build_image(docker: Engine, workdir: Path, extras: str = "") -> str:
    """The repository's Dockerfile, from the repository (and its .dockerignore), on BASE_IMAGE,
    with the pyproject extras ``extras`` names (JOBROUTR_EXTRAS, comma-separated).

    Docker's layer cache (in the engine's data root) makes a rebuild of unchanged code quick.
    """
    tag = f"{IMAGE.rpartition(':')[0]}:{extras.replace(',', '-')}" if extras else IMAGE
    base = base_image(docker)
    dockerfile = workdir / "Dockerfile"
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    dockerfile.write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("# syntax=")) + "\n"
    )
    docker.run(
        "build", "--network=host", "--build-arg", f"PYTHON_IMAGE={base}",
        "--build-arg", f"JOBROUTR_EXTRAS={extras}",
        "-f", str(dockerfile), "-t", tag, str(ROOT), timeout=1800,
    )  # fmt: skip
    return tag
