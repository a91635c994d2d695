"""The image built with the PostgreSQL driver (``--build-arg JOBROUTR_EXTRAS=postgres``), its
store on a real PostgreSQL server (tests/harness/postgres.py), two containers in front of it.

As docs/docker.md "On PostgreSQL" says: the password in a file given to the container, never in
the URL; the data key in each container's state directory, the second a copy of the first's. The
server listens on the host's loopback, so the containers share the host's network (`--network
host`), each on its own port. Checked: `init` creates the tables on the server, both containers go
healthy by the image's HEALTHCHECK and answer the API key that `init` gave (it is in the shared
database), neither keeps a store file in its state directory, and no secret reaches the logs.

Costs what tests/deploy/test_container.py costs, once its layers are cached (the driver is one
more layer), plus a PostgreSQL cluster. Skipped with the reason where no engine or no server can
run.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.harness import debian
from tests.harness.engine import Engine, NoEngine, build_image, engine
from tests.harness.postgres import PostgresServer, Unavailable, postgres_server
from tests.harness.processes import free_port

pytestmark = [pytest.mark.deploy, pytest.mark.slow, pytest.mark.timeout(1800)]

STATE = "/var/lib/jobroutr-gateway"
SECRET = "/run/secrets/database-password"
UID = 10001  # JOBROUTR_UID in the Dockerfile


@dataclass
class Cluster:
    docker: Engine
    image: str
    server: PostgresServer
    url: str
    password_file: Path
    workdir: Path
    containers: list[str] = field(default_factory=list)
    api_key: str = ""

    def state_dir(self, name: str) -> Path:
        """A state directory on the host, the container user's and 0700, as a volume makes it."""
        path = self.workdir / name
        path.mkdir(mode=0o700, exist_ok=True)
        os.chown(path, UID, UID)
        return path

    def args(self, name: str, port: int) -> list[str]:
        return [
            "--network", "host", "-v", f"{self.state_dir(name)}:{STATE}",
            "-v", f"{self.password_file}:{SECRET}:ro",
            "-e", f"APPLIANCE_DATABASE_URL={self.url}",
            "-e", f"APPLIANCE_DATABASE_PASSWORD_FILE={SECRET}",
            "-e", f"APPLIANCE_HTTP_PORT={port}", "-e", "APPLIANCE_HTTP_HOST=127.0.0.1",
            "-e", f"APPLIANCE_INSTANCE_NAME={name}",
            # The bundled emulator listens too (no Intuit credentials here): a port of its own.
            "-e", f"APPLIANCE_QBO_EMULATOR_URL=http://127.0.0.1:{free_port()}",
        ]  # fmt: skip

    def start(self, name: str, port: int) -> str:
        container = f"jt-{name}-{uuid.uuid4().hex[:8]}"
        self.containers.append(container)
        self.docker.run(
            "run", "-d", "--name", container, "--stop-timeout", "20",
            *self.args(name, port), self.image,
        )  # fmt: skip
        return container

    def wait_healthy(self, container: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = json.loads(self.docker.run("inspect", container).stdout)[0]["State"]
            if dict(state.get("Health") or {}).get("Status") == "healthy":
                return
            logs = self.docker.run("logs", container, check=False).stderr[-2000:]
            assert state["Running"], f"{container} ended: {logs}"
            time.sleep(1)
        raise AssertionError(f"{container} was not healthy within {timeout} s")

    def api_status(self, port: int) -> int:
        """GET /api/v1/status with the API key `init` gave, from the host (shared network)."""
        answer = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/status",
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=10,
            trust_env=False,
        )
        return answer.status_code


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("pg-containers")
    workdir.chmod(0o755)
    try:
        with engine() as docker, postgres_server() as server:
            image = build_image(docker, workdir, extras="postgres")
            password = workdir / "database-password"
            shutil.copy(server.password_file, password)
            os.chown(password, UID, UID)
            password.chmod(0o400)
            made = Cluster(docker, image, server, server.database(), password, workdir)
            try:
                yield made
            finally:
                for name in made.containers:
                    docker.run("rm", "-f", name, check=False)
    except (NoEngine, debian.Unavailable) as exc:
        pytest.skip(f"no Docker engine can run the image here: {exc}")
    except Unavailable as exc:
        pytest.skip(f"no PostgreSQL server can run here: {exc}")


@pytest.fixture(scope="module")
def serving(cluster: Cluster) -> dict[str, int]:
    """`appliance init` in a container, on the server; its key copied to the second's state."""
    init = cluster.docker.run(
        "run", "--rm", *cluster.args("gateway-a", free_port()), cluster.image, "appliance", "init",
    )  # fmt: skip
    (line,) = [line for line in init.stdout.splitlines() if "JobRoutr API key:" in line]
    cluster.api_key = line.split()[-1]
    first, second = cluster.state_dir("gateway-a"), cluster.state_dir("gateway-b")
    copy = second / "keyring.json"
    shutil.copy2(first / "keyring.json", copy)
    os.chown(copy, UID, UID)
    ports = {"gateway-a": free_port(), "gateway-b": free_port()}
    started = [cluster.start(name, port) for name, port in ports.items()]
    for container in started:
        cluster.wait_healthy(container)
    return ports


def test_init_creates_the_tables_on_the_server(cluster: Cluster, serving: object) -> None:
    with psycopg.connect(
        host="127.0.0.1", port=cluster.server.port, user="appliance",
        password=cluster.server.password, dbname=cluster.url.rsplit("/", 1)[1],
    ) as store:  # fmt: skip
        tables = {str(row[0]) for row in store.execute("SELECT tablename FROM pg_tables")}
        assert {"event", "job", "secret", "api_key", "alembic_version"} <= tables
        assert store.execute("SELECT count(*) FROM api_key").fetchone() == (1,)


def test_both_containers_serve_the_one_store(cluster: Cluster, serving: dict[str, int]) -> None:
    for port in serving.values():
        assert cluster.api_status(port) == 200, "the key init gave is in the shared database"
    for name in serving:
        listing = sorted(p.name for p in cluster.state_dir(name).iterdir())
        assert "appliance.db" not in listing, listing
        assert "keyring.json" in listing


def test_no_secret_reaches_the_containers_logs(cluster: Cluster, serving: object) -> None:
    for container in cluster.containers:
        logs = cluster.docker.run("logs", container)
        text = logs.stdout + logs.stderr
        assert cluster.server.password not in text
        assert cluster.api_key not in text
