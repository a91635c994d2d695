"""The test harness's PostgreSQL clusters do not outlive a killed test run: a watchdog stops
them when their owner ends, and each session reaps those of owners that are gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.harness import postgres
from tests.harness.postgres import OWNER, SECRETS, reap_stale
from tests.harness.processes import wait_until

REPO = Path(__file__).resolve().parents[2]


def _cluster_dir(tmp: Path, owner: str | None) -> Path:
    root = Path(tempfile.mkdtemp(prefix=postgres.PREFIX, dir=tmp))
    (root / "data").mkdir()
    if owner is not None:
        (root / OWNER).write_text(owner)
    return root


def _dead_pid() -> int:
    done = subprocess.run(["true"], check=True)
    assert done.returncode == 0
    finished = subprocess.Popen(["true"])
    finished.wait()
    return finished.pid


def test_a_cluster_whose_test_run_is_gone_is_removed_with_its_password_directory(
    tmp_path: Path,
) -> None:
    stale = _cluster_dir(tmp_path, f"{_dead_pid()} 12345")
    password_dir = tmp_path / "jra-pgpw-stale"
    password_dir.mkdir()
    (stale / SECRETS).write_text(str(password_dir))

    assert reap_stale(tmp_path) == [stale]
    assert not stale.exists()
    assert not password_dir.exists()


def test_a_cluster_of_a_running_test_run_and_one_without_an_owner_are_left_alone(
    tmp_path: Path,
) -> None:
    me = os.getpid()
    live = _cluster_dir(tmp_path, f"{me} {postgres._started(me)}")
    unowned = _cluster_dir(tmp_path, None)
    reused = _cluster_dir(tmp_path, f"{me} 1")  # this pid, but a process started long ago

    assert reap_stale(tmp_path) == [reused]
    assert live.exists()
    assert unowned.exists()


CHILD = """
import sys, time
from tests.harness.postgres import PostgresServer, Unavailable
try:
    server = PostgresServer()
    server.start()
except Unavailable as exc:
    print("unavailable", exc, flush=True)
    sys.exit(0)
print(server.root, server.secrets, flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_a_killed_test_run_leaves_no_postgresql_server_behind() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    line = child.stdout.readline().split()
    if not line or line[0] == "unavailable":
        child.wait(timeout=60)
        pytest.skip(f"no PostgreSQL server to leave behind: {' '.join(line[1:])}")
    root, secrets = Path(line[0]), Path(line[1])
    postmaster = (root / "data" / "postmaster.pid").read_text().split()[0]
    os.kill(child.pid, signal.SIGKILL)  # as a killed pytest: no finaliser runs
    child.wait(timeout=10)

    wait_until(lambda: not root.exists(), timeout=30, what="the watchdog to remove the cluster")
    assert not secrets.exists()
    wait_until(lambda: _gone(int(postmaster)), timeout=10, what="the server to end")


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")  # ended, waiting for its new parent to collect it
