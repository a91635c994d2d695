"""Two `appliance serve` on one PostgreSQL database, as docs/install.md ("Several instances") sets
them up: the same database URL and password file, the same data key file, each its own port,
admin socket, state directory and name; the first initialised and connected to the emulator."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from appliance.config import Settings
from tests.harness.cli import connect_link
from tests.harness.emulator import RunningEmulator, approve
from tests.harness.gateway import Gateway
from tests.harness.postgres import PostgresServer
from tests.harness.processes import free_port, run_appliance
from tests.harness.service import Service, env_for, start


def instance_settings(
    state_dir: Path, server: PostgresServer, database: str, key_file: Path
) -> Settings:
    short = Path(tempfile.mkdtemp(prefix="jra-", dir="/tmp"))
    return Settings(
        state_dir=state_dir,
        key_file=key_file,
        http_port=free_port(),
        admin_socket=short / "admin.sock",
        log_format="json",
        database_url=database,
        database_password_file=server.password_file,
    )


def copy_key_file(source: Path, target: Path) -> None:
    """What an operator does to hand the key file to another instance: a copy, 0600, replaced
    whole."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".new")
    shutil.copyfile(source, temporary)
    temporary.chmod(0o600)
    temporary.replace(target)


class Pair:
    """The two instances (``a`` and ``b``) and how to start ``b`` again."""

    def __init__(self, a: Gateway, b: Gateway) -> None:
        self.a = a
        self.b = b

    def restart(self, gateway: Gateway) -> Service:
        if gateway.service.process.poll() is None:
            gateway.service.stop()
        gateway.service = start(gateway.env, gateway.settings)
        return gateway.service


@contextlib.contextmanager
def two_instances(
    books: RunningEmulator,
    base: Path,
    server: PostgresServer,
    *,
    own_key_copy: bool = False,
    **extra: str,
) -> Iterator[Pair]:
    """The pair on a new database; with ``own_key_copy`` the second reads a copy of the first's
    key file (made after init) instead of the same file."""
    database = server.database()
    key_file = base / "a" / "keyring.json"
    copy = base / "b-key" / "keyring.json" if own_key_copy else key_file
    first = instance_settings(base / "a", server, database, key_file)
    second = instance_settings(base / "b", server, database, copy)
    common = {
        "APPLIANCE_QBO_EMULATOR_URL": books.url,
        "APPLIANCE_QBO_EMULATOR_EMBEDDED": "false",
        "APPLIANCE_PUBLIC_URL": "http://127.0.0.1:8780",
        "APPLIANCE_PUSH_RETRY_SECONDS": "0.2",
        **extra,
    }
    env_a = env_for(
        first, APPLIANCE_INSTANCE_NAME="gateway-a", APPLIANCE_KEY_FILE=str(key_file), **common
    )
    env_b = env_for(
        second, APPLIANCE_INSTANCE_NAME="gateway-b", APPLIANCE_KEY_FILE=str(copy), **common
    )
    init = run_appliance("init", env=env_a)
    assert init.returncode == 0, init.stderr
    if own_key_copy:
        copy_key_file(key_file, copy)
    api_key = next(w for w in init.stdout.split() if w.startswith("jra_"))
    services: list[Service] = []
    pair: Pair | None = None
    try:
        services.append(start(env_a, first))
        location = approve(connect_link(env_a), books.realm)
        assert run_appliance("connect", "--redirect-url", location, env=env_a).returncode == 0
        imported = run_appliance("import", "accounts", "--wait", env=env_a)
        assert imported.returncode == 0, imported.stderr
        services.append(start(env_b, second))
        pair = Pair(Gateway(services[0], first, api_key), Gateway(services[1], second, api_key))
        yield pair
    finally:
        if pair is not None:
            services += [pair.a.service, pair.b.service]
        for service in services:
            service.kill()
        for settings in (first, second):
            shutil.rmtree(settings.admin_socket_path.parent, ignore_errors=True)
