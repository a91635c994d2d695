"""The container image, built and run by a real Docker engine (tests/harness/engine.py).

The image is built from the repository's Dockerfile on a Debian 12 + Python 3.11 base made here
with debootstrap (no registry answers from these machines), then: a fresh volume is refused with
exit 78 until `appliance init` has run on it; the service started on it goes healthy by the image's
own HEALTHCHECK, runs as the image's non-root user, keeps its state in the volume, answers
`docker exec ... appliance status`; a second container on the same volume is refused by the store
lock; `docker stop` ends it within its timeout with exit 0; a new container on the same volume
still knows the API key that `init` gave.

Cost: the first run builds the base root filesystem (about 1 minute) and the image (about
1 minute); later runs find both cached (CACHE/python, and the engine's data under CACHE/docker)
and only rebuild the layers whose files changed. The service's first HEALTHCHECK runs after its
30 s interval, so the whole file takes about 2 minutes then. Skipped, with the reason, where no
engine can run (not root and none answering, or dockerd failing to start).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.harness import debian
from tests.harness.engine import Engine, NoEngine, build_image, engine

pytestmark = [pytest.mark.deploy, pytest.mark.slow, pytest.mark.timeout(1800)]

STATE = "/var/lib/jobroutr-gateway"
UID = 10001  # JOBROUTR_UID in the Dockerfile
STOP_TIMEOUT = 20  # what docs/docker.md tells operators to give `docker stop`/--stop-timeout
EX_CONFIG = 78


@dataclass
class Deployment:
    docker: Engine
    image: str
    volume: str
    api_key: str
    containers: list[str]

    def start(self, *args: str) -> str:
        """A container serving on the volume (detached), with loopback only."""
        name = f"jt-{uuid.uuid4().hex[:10]}"
        self.containers.append(name)
        self.docker.run(
            "run", "-d", "--name", name, "--network", "none",
            "--stop-timeout", str(STOP_TIMEOUT), "-v", f"{self.volume}:{STATE}", *args, self.image,
        )  # fmt: skip
        return name

    def inspect(self, name: str) -> dict[str, Any]:
        found = json.loads(self.docker.run("inspect", name).stdout)
        return dict(found[0])

    def state(self, name: str) -> dict[str, Any]:
        return dict(self.inspect(name)["State"])

    def wait_healthy(self, name: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state(name)
            health = dict(state.get("Health") or {})
            if health.get("Status") == "healthy":
                return
            assert state["Running"], f"{name} ended: {self.docker.run('logs', name).stderr[-2000:]}"
            time.sleep(1)
        raise AssertionError(f"{name} was not healthy within {timeout} s: {self.state(name)}")

    def api_status(self, name: str, key: str) -> int:
        """GET /api/v1/status with a bearer key, from inside the container (its loopback)."""
        code = (
            "import sys, urllib.request as r, urllib.error as e\n"
            "q = r.Request('http://127.0.0.1:8780/api/v1/status',"
            " headers={'Authorization': 'Bearer ' + sys.argv[1]})\n"
            "try: print(r.build_opener(r.ProxyHandler({})).open(q, timeout=5).status)\n"
            "except e.HTTPError as x: print(x.code)\n"
        )
        return int(self.docker.run("exec", name, "python", "-c", code, key).stdout.strip())


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp("docker-build")
    try:
        with engine() as docker:
            image = build_image(docker, workdir)
            volume = f"jt-state-{uuid.uuid4().hex[:10]}"
            docker.run("volume", "create", volume)
            made = Deployment(docker, image, volume, api_key="", containers=[])
            try:
                yield made
            finally:
                for name in made.containers:
                    docker.run("rm", "-f", "-v", name, check=False)
                docker.run("volume", "rm", "-f", volume, check=False)
    except (NoEngine, debian.Unavailable) as exc:
        pytest.skip(f"no Docker engine can run the image here: {exc}")


@pytest.fixture(scope="module")
def initialised(deployment: Deployment) -> Deployment:
    """The fresh volume refused (exit 78, the command to run), then `appliance init` on it."""
    docker, volume = deployment.docker, f"{deployment.volume}:{STATE}"
    refused = docker.run("run", "--rm", "--network", "none", "-v", volume, deployment.image,
                         check=False)  # fmt: skip
    assert refused.returncode == EX_CONFIG, refused.stderr
    assert "appliance init" in refused.stderr
    init = docker.run("run", "--rm", "--network", "none", "-v", volume, deployment.image,
                      "appliance", "init")  # fmt: skip
    (line,) = [line for line in init.stdout.splitlines() if "JobRoutr API key:" in line]
    deployment.api_key = line.split()[-1]
    return deployment


@pytest.fixture(scope="module")
def serving(initialised: Deployment) -> str:
    name = initialised.start()
    initialised.wait_healthy(name)
    return name


def test_the_service_goes_healthy_by_the_images_own_healthcheck(
    initialised: Deployment, serving: str
) -> None:
    health = initialised.state(serving)["Health"]
    assert health["Status"] == "healthy"
    assert health["Log"][-1]["ExitCode"] == 0
    assert initialised.api_status(serving, initialised.api_key) == 200
    assert initialised.api_status(serving, "jra_not-the-key") == 401


def test_it_runs_as_the_non_root_user(initialised: Deployment, serving: str) -> None:
    config = initialised.inspect(serving)["Config"]
    assert config["User"] == f"{UID}:{UID}"
    status = initialised.docker.run("exec", serving, "cat", "/proc/1/status").stdout
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    assert uids == [str(UID)] * 4, status
    cmdline = initialised.docker.run("exec", serving, "cat", "/proc/1/cmdline").stdout
    assert cmdline.split("\0")[:3] == ["/opt/venv/bin/python", "/opt/venv/bin/appliance", "serve"]


def test_the_state_is_in_the_volume(initialised: Deployment, serving: str) -> None:
    mounts = initialised.inspect(serving)["Mounts"]
    assert [(m["Type"], m["Name"], m["Destination"]) for m in mounts] == [
        ("volume", initialised.volume, STATE)
    ]
    listing = initialised.docker.run("exec", serving, "ls", "-ln", STATE).stdout
    names = {line.split()[-1]: line.split() for line in listing.splitlines()[1:]}
    assert {"appliance.db", "keyring.json", "store.lock"} <= set(names), listing
    for fields in names.values():
        assert fields[2:4] == [str(UID), str(UID)], listing
        assert fields[0].endswith("------"), f"other users get nothing: {listing}"


def test_docker_exec_appliance_status_answers(initialised: Deployment, serving: str) -> None:
    status = initialised.docker.run("exec", serving, "appliance", "status")
    assert status.returncode == 0
    assert "Not connected" in status.stdout or "connect" in status.stdout.lower(), status.stdout


def test_a_second_container_on_the_volume_in_use_is_refused(
    initialised: Deployment, serving: str
) -> None:
    second = initialised.docker.run(
        "run", "--rm", "--network", "none", "-v", f"{initialised.volume}:{STATE}",
        initialised.image, timeout=60, check=False,
    )  # fmt: skip
    assert second.returncode == 1, second.stderr
    assert "already running" in second.stderr
    assert "store lock" in second.stderr
    assert "Traceback" not in second.stderr
    assert initialised.state(serving)["Running"], "the first one serves on"
    assert initialised.api_status(serving, initialised.api_key) == 200


@pytest.fixture(scope="module")
def stopped(initialised: Deployment, serving: str) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    initialised.docker.run("stop", serving, timeout=STOP_TIMEOUT + 30)
    return time.monotonic() - started, initialised.state(serving)


def test_docker_stop_ends_it_within_its_timeout(stopped: tuple[float, dict[str, Any]]) -> None:
    elapsed, state = stopped
    print(f"docker stop took {elapsed:.1f} s")
    assert elapsed < STOP_TIMEOUT, "SIGKILL was not needed"
    assert state["ExitCode"] == 0, state
    assert not state["OOMKilled"]


def test_a_new_container_on_the_same_volume_keeps_the_data(
    initialised: Deployment, stopped: tuple[float, dict[str, Any]]
) -> None:
    name = initialised.start()
    initialised.wait_healthy(name)
    assert initialised.api_status(name, initialised.api_key) == 200, "the key init gave works"
    again = initialised.docker.run("exec", name, "appliance", "init")
    assert "Already initialised: nothing was replaced." in again.stdout + again.stderr
    assert "jra_" not in again.stdout
    logs = initialised.docker.run("logs", name)
    assert initialised.api_key not in logs.stdout + logs.stderr, "no secret in the logs"
    initialised.docker.run("stop", name, timeout=STOP_TIMEOUT + 30)
