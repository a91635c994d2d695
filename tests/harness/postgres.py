"""A real PostgreSQL server for the tests: Debian's `postgresql` binaries (installed with apt-get
when missing and this process may), a cluster of its own (initdb into a temporary directory,
started with pg_ctl on a free loopback port), a database per test, stopped afterwards.

The cluster asks for a password over TCP (scram-sha-256), as a real server would: the appliance
is given it from a file (``APPLIANCE_DATABASE_PASSWORD_FILE``), never in the URL. initdb and the
server refuse to run as root, so as root they run as the `postgres` user Debian's package
creates. Where no server can be had, ``Unavailable`` says why, and the tests skip with it.

A killed test run (SIGKILL, a second Ctrl-C) never runs ``remove``, and ``pg_ctl`` leaves the
server running on its own. So each cluster's directory names its owner (``owner``: the pid and
start time of the test process), a small watchdog started beside it stops the cluster and
removes its directories within seconds of the owner's end, and every session first reaps the
clusters of owners that are gone (``reap_stale``), in case a watchdog was killed too.
Directories without an owner (an older harness, or another run starting right now) are left
alone.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql

from tests.harness.processes import free_port

USER = "appliance"
INSTALL_SECONDS = 600
START_SECONDS = 60


class Unavailable(Exception):
    """No PostgreSQL server can be run here; the message says why and how to get one."""


def binaries() -> Path:
    """The directory of initdb and pg_ctl, installing Debian's postgresql first when missing."""
    for _ in range(2):
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if found:
            return found[-1].parent
        if shutil.which("initdb"):
            return Path(str(shutil.which("initdb"))).resolve().parent
        _install()
    raise Unavailable(
        "PostgreSQL is not installed and `apt-get install postgresql` did not install it"
    )


def _install() -> None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise Unavailable(
            "PostgreSQL is not installed, and only root can install it: apt-get install postgresql"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=120", "-q"]  # waits for another install
    for step in ([*apt, "install", "-y", "postgresql"],
                 [*apt, "update"],
                 [*apt, "install", "-y", "postgresql"]):  # fmt: skip
        done = subprocess.run(
            step, env=env, capture_output=True, timeout=INSTALL_SECONDS, check=False
        )
        if done.returncode == 0 and "install" in step:
            return


PREFIX = "jra-pg-"
OWNER = "owner"  # in the cluster's directory: "<pid> <start time>" of the test process
SECRETS = "secrets-dir"  # in the cluster's directory: where its password file is
WATCH_SECONDS = 2.0
TMP = Path("/tmp")  # noqa: S108 - where the clusters are made (short socket paths)
_watchdogs: list[subprocess.Popen[bytes]] = []  # kept: they outlive this process on purpose


def _started(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot), or None if there is none: with the
    pid, it tells the owner from a later process that was given the same pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _owner_alive(root: Path) -> bool | None:
    """Is the test process that made this cluster still running? None: no owner written."""
    try:
        pid, started = (root / OWNER).read_text().split()
    except (OSError, ValueError):
        return None
    return _started(int(pid)) == started


def _discard(root: Path) -> None:
    """Stop the cluster in ``root`` (if it runs) and remove it and its password directory."""
    data = root / "data"
    if (data / "postmaster.pid").exists():
        pg_ctl = [str(binaries() / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
        if os.geteuid() == 0:
            pg_ctl = ["runuser", "-u", "postgres", "--", *pg_ctl]
        subprocess.run(pg_ctl, capture_output=True, timeout=START_SECONDS, check=False)
    with contextlib.suppress(OSError, ValueError):
        shutil.rmtree(Path((root / SECRETS).read_text().strip()), ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)


def reap_stale(tmp: Path = TMP) -> list[Path]:
    """Stop and remove the clusters left by test runs that are gone; returns their directories."""
    reaped = []
    for root in sorted(tmp.glob(f"{PREFIX}*")):
        if root.is_dir() and _owner_alive(root) is False:
            _discard(root)
            reaped.append(root)
    return reaped


def watch(root: Path) -> None:
    """The watchdog's loop: until ``root`` is removed, or its owner ends (then reap it)."""
    while root.exists():
        if _owner_alive(root) is False:
            _discard(root)
            return
        time.sleep(WATCH_SECONDS)


def _start_watchdog(root: Path) -> None:
    """A process of its own (own session: a Ctrl-C to the tests' terminal does not reach it)."""
    watchdog = subprocess.Popen(
        [sys.executable, "-m", "tests.harness.postgres", "watch", str(root)],
        cwd=Path(__file__).resolve().parents[2],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    _watchdogs.append(watchdog)


@functools.cache
def _reap_once() -> None:
    """At a session's first cluster: the leftovers of killed runs go first."""
    reap_stale()


class PostgresServer:
    """One cluster on 127.0.0.1:``port``; ``database()`` makes a fresh database in it."""

    def __init__(self) -> None:
        _reap_once()
        self.bin = binaries()
        self.port = free_port()
        self.password = secrets.token_urlsafe(18)
        self.root = Path(tempfile.mkdtemp(prefix=PREFIX, dir="/tmp"))
        # Beside the cluster, not in it: the cluster's directory is the postgres user's (0700),
        # and a root service without CAP_DAC_OVERRIDE could not reach a file inside it.
        self.secrets = Path(tempfile.mkdtemp(prefix="jra-pgpw-", dir="/tmp"))
        (self.root / SECRETS).write_text(str(self.secrets))
        (self.root / OWNER).write_text(f"{os.getpid()} {_started(os.getpid())}")
        self.data = self.root / "data"
        self.sockets = self.root / "run"
        self.password_file = self.secrets / "password"
        self.as_postgres = os.geteuid() == 0
        _start_watchdog(self.root)

    def _run(self, *args: str, timeout: float = START_SECONDS) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:  # initdb and postgres refuse root
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)

    def start(self) -> None:
        self.sockets.mkdir()
        pwfile = self.root / "initdb-password"
        pwfile.write_text(self.password + "\n")
        self.password_file.write_text(self.password + "\n")
        self.password_file.chmod(0o600)
        if self.as_postgres:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.sockets, "postgres")
            shutil.chown(pwfile, "postgres")
        made = self._run(
            "initdb", "-D", str(self.data), "-U", USER, "--pwfile", str(pwfile),
            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        pwfile.unlink()
        if made.returncode != 0:
            raise Unavailable(f"initdb failed: {made.stderr.strip() or made.stdout.strip()}")
        options = (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
            "-c max_connections=200 -c fsync=on"
        )
        started = self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"),
            "-w", "-t", str(START_SECONDS), "start",
        )  # fmt: skip
        if started.returncode != 0:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise Unavailable(f"PostgreSQL did not start: {started.stderr.strip()} {log[-500:]}")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        """Start the cluster again after ``stop`` (same port, same data)."""
        options = (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
            "-c max_connections=200 -c fsync=on"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"),
                  "-w", "-t", str(START_SECONDS), "start")  # fmt: skip

    def remove(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.secrets, ignore_errors=True)

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=USER, password=self.password,
            dbname="postgres", autocommit=True,
        )  # fmt: skip

    def database(self) -> str:
        """A new empty database; its URL, without the password (the appliance reads it from
        ``password_file``)."""
        name = f"jra_{secrets.token_hex(6)}"
        with self.admin() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{name}"


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@contextlib.contextmanager
def server_or_skip(purpose: str) -> Iterator[PostgresServer]:
    """A server for a test module's fixture; the module is skipped, saying why, where none can
    start (Debian's postgresql cannot be had, initdb fails)."""
    import pytest  # noqa: PLC0415  (the harness is also imported outside pytest, by bench/)

    try:
        running = PostgresServer()
        running.start()
    except Unavailable as exc:
        pytest.skip(f"no PostgreSQL server for {purpose}: {exc}")
    try:
        yield running
    finally:
        running.remove()


if __name__ == "__main__":
    if sys.argv[1:2] == ["watch"]:
        watch(Path(sys.argv[2]))
