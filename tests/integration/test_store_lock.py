"""One process owns the store: the service holds a lock on it for its whole life, and `restore`,
`migrate` and an offline `rotate-key` refuse while it does, whatever admin socket they would ask.
A kill -9 in the middle of a restore or a backup leaves the store whole and nothing behind; the
service cannot be read by a core dump; a state directory or data key that others could use is
refused with a sentence."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from appliance.config import Settings
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import running_gateway
from tests.harness.jobroutr import created
from tests.harness.processes import (
    APPLIANCE,
    answers,
    appliance_env,
    free_port,
    run_appliance,
    wait_until,
)
from tests.harness.service import Service, env_for, start

pytestmark = pytest.mark.slow

KILL_POINT = "APPLIANCE_TEST_KILL_AT"


def database(settings: Settings) -> Path:
    return Path(settings.database_url.removeprefix("sqlite:///"))


def event_ids(path: Path) -> set[str]:
    """The events a database holds, its WAL included, read from a copy (opening a database folds
    its WAL into it: the original must stay as it is)."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / path.name
        for suffix in ("", "-wal"):
            if (source := path.with_name(path.name + suffix)).exists():
                shutil.copy(source, copy.with_name(copy.name + suffix))
        db = sqlite3.connect(copy)
        try:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            return {row[0] for row in db.execute("SELECT id FROM event")}
        finally:
            db.close()


def refused_as_running(result: subprocess.CompletedProcess[str], settings: Settings) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "already running" in result.stderr
    assert f"store lock {settings.state_dir / 'store.lock'}" in result.stderr
    assert "systemctl stop jobroutr-gateway" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.sqlite_only
@pytest.mark.timeout(240)
def test_restore_migrate_and_rotate_key_are_refused_while_the_service_runs_on_another_socket(
    books: RunningEmulator, tmp_path: Path, short_dir: Path
) -> None:
    backup = tmp_path / "store.db"
    with running_gateway(books, tmp_path / "appliance", connect=False) as gateway:
        assert run_appliance("backup", str(backup), env=gateway.env).returncode == 0
        before = {gateway.send(created(f"cus_lock_{n}", f"Lock Customer {n}")) for n in range(5)}
        # The operator's shell does not have the unit's $RUNTIME_DIRECTORY: another socket path.
        elsewhere = {**gateway.env, "APPLIANCE_ADMIN_SOCKET": str(short_dir / "other.sock")}

        refused_as_running(
            run_appliance("restore", str(backup), "--yes", env=elsewhere), gateway.settings
        )
        refused_as_running(run_appliance("migrate", env=elsewhere), gateway.settings)
        refused_as_running(run_appliance("rotate-key", env=elsewhere), gateway.settings)
        second = run_appliance(
            "serve", env={**elsewhere, "APPLIANCE_HTTP_PORT": str(free_port())}, timeout=30
        )
        assert second.returncode == 1
        assert "already running" in second.stderr
        assert "APPLIANCE_STATE_DIR" in second.stderr
        assert not (short_dir / "other.sock").exists()

        # The service never noticed: what it acknowledges now is kept.
        after = {gateway.send(created(f"cus_lock_b_{n}", f"Lock B {n}")) for n in range(20)}
        code, _, _ = gateway.service.stop()
        assert code == 0
        assert before | after <= event_ids(database(gateway.settings))
        # Stopped, the lock is free: the same commands go ahead.
        assert run_appliance("migrate", env=elsewhere).returncode == 0
        done = run_appliance("restore", str(backup), "--yes", env=elsewhere)
        assert done.returncode == 0, done.stderr


RESTORE_POINTS = ["restore.copied", "restore.checked", "restore.before_swap", "restore.after_swap"]


@pytest.mark.sqlite_only
@pytest.mark.timeout(300)
def test_a_restore_killed_at_any_point_leaves_the_old_store_or_the_new_one_whole(
    books: RunningEmulator, tmp_path: Path
) -> None:
    backup = tmp_path / "store.db"
    with running_gateway(books, tmp_path / "appliance", connect=False) as gateway:
        settings, env = gateway.settings, gateway.env
        for n in range(30):
            gateway.send(created(f"cus_old_{n}", f"Old Customer {n}"))
        assert run_appliance("backup", str(backup), env=env).returncode == 0
        for n in range(20):
            gateway.send(created(f"cus_new_{n}", f"New Customer {n}"))
        gateway.service.process.kill()  # kill -9: the last events are in the WAL only
        gateway.service.process.wait()

    live = database(settings)
    wal = live.with_name(live.name + "-wal")
    template = tmp_path / "template"
    shutil.copytree(settings.state_dir, template)
    main_only = tmp_path / "main-only.db"
    shutil.copy(live, main_only)
    acknowledged = event_ids(template / live.name)
    assert len(acknowledged) == 50
    assert len(event_ids(main_only)) < 50, "the WAL should hold events the main file has not"
    in_backup = event_ids(backup)
    assert len(in_backup) == 30

    def reset() -> None:
        shutil.rmtree(settings.state_dir)
        shutil.copytree(template, settings.state_dir)
        assert wal.exists()

    for point in RESTORE_POINTS:
        reset()
        killed = run_appliance("restore", str(backup), "--yes", env={**env, KILL_POINT: point})
        assert killed.returncode == -signal.SIGKILL, (point, killed.stderr)
        expected = in_backup if point == "restore.after_swap" else acknowledged
        assert event_ids(live) == expected, point

    # Killed half way, the next restore (or start) simply goes on.
    reset()
    killed = run_appliance(
        "restore", str(backup), "--yes", env={**env, KILL_POINT: "restore.before_swap"}
    )
    assert killed.returncode == -signal.SIGKILL
    again = run_appliance("restore", str(backup), "--yes", env=env)
    assert again.returncode == 0, again.stderr
    assert event_ids(live) == in_backup
    assert not list(live.parent.glob("*.restoring*"))

    # A store SQLite cannot read at all is what a restore is for: it is replaced, WAL and all.
    reset()
    live.write_bytes(b"not a database " * 1000)
    over_garbage = run_appliance("restore", str(backup), "--yes", env=env)
    assert over_garbage.returncode == 0, over_garbage.stderr
    assert not wal.exists()
    assert event_ids(live) == in_backup


@pytest.mark.sqlite_only
def test_a_backup_killed_with_the_service_leaves_no_copy_after_the_next_start(
    settings: Settings, tmp_path: Path
) -> None:
    env = env_for(settings)
    assert run_appliance("init", env=env).returncode == 0
    # Killed once the copy is written, before it is sent (and removed): kill -9 at that moment.
    service = start({**env, KILL_POINT: "backup.taken"}, settings)
    try:
        made = run_appliance("backup", str(tmp_path / "b.db"), env=env)
        assert made.returncode != 0
        assert service.process.wait(timeout=30) == -signal.SIGKILL
        assert len(list(settings.state_dir.glob(".backup-*.db"))) == 1  # nobody left to remove it
        assert not list(tmp_path.glob("*b.db*"))  # the client kept nothing half-written

        service = start(env, settings)
        assert not list(settings.state_dir.glob(".backup-*"))
        assert answers(service.url + "/readyz")
        assert run_appliance("backup", str(tmp_path / "b.db"), env=env).returncode == 0
        assert not list(settings.state_dir.glob(".backup-*"))
    finally:
        if service.process.poll() is None:
            service.process.kill()
            service.process.wait()


def test_a_state_directory_owned_by_another_user_stops_every_command_with_exit_78(
    settings: Settings,
) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving the state directory to another user needs root")
    env = env_for(settings)
    assert run_appliance("init", env=env).returncode == 0
    os.chown(settings.state_dir, 65534, 65534)
    for command in ("serve", "migrate", "rotate-key", "init"):
        result = run_appliance(command, env=env, timeout=30)
        assert result.returncode == 78, (command, result.stderr)
        assert f"The state directory {settings.state_dir} belongs to another user" in result.stderr
        assert "Hint: Run the appliance as the user that owns it" in result.stderr
        assert "Traceback" not in result.stderr


_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here: the forked child only calls prctl


def _without_capabilities() -> None:
    """As the unit runs it (CapabilityBoundingSet= empty): root, but with no capability, so the
    kernel's own rules for a process of the same user apply to it. Run between fork and exec
    (preexec_fn, noqa PLW1509): it takes no lock and loads nothing, so threads do not matter."""
    for cap in range(64):
        if _LIBC.prctl(24, cap, 0, 0, 0) < 0:  # PR_CAPBSET_DROP, until EINVAL past the last
            break


PROBE = """
import ctypes, sys
header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # drop every capability (a no-op for non-root)
ctypes.CDLL(None).capset(header, (ctypes.c_uint32 * 6)())
try:
    with open(f"/proc/{sys.argv[1]}/environ", "rb") as handle:
        handle.read(1)
except PermissionError:
    print("denied")
else:
    print("readable")
"""


def test_the_service_cannot_be_read_by_another_process_of_its_user_nor_dump_core(
    settings: Settings,
) -> None:
    """A process the kernel marks non-dumpable writes no core file, and other processes of the
    same user cannot read its memory or environment (ptrace rules): checked from outside."""
    if not sys.platform.startswith("linux"):
        pytest.skip("prctl(PR_SET_DUMPABLE) is Linux's")
    env = env_for(settings)
    assert run_appliance("init", env=env).returncode == 0
    out = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed with the test process
    process = subprocess.Popen(
        [str(APPLIANCE), "serve"],
        env=appliance_env(env),
        stdout=out,
        stderr=subprocess.STDOUT,
        preexec_fn=_without_capabilities if os.geteuid() == 0 else None,  # noqa: PLW1509
    )
    service = Service(
        env, f"http://127.0.0.1:{settings.http_port}", settings.admin_socket_path, process, out
    )
    try:
        wait_until(
            lambda: process.poll() is not None or answers(service.url + "/healthz"),
            what="the service to answer /healthz",
        )
        assert process.poll() is None
        probe = subprocess.run(
            [sys.executable, "-c", PROBE, str(process.pid)],
            capture_output=True,
            text=True,
            check=True,
        )
        assert probe.stdout.strip() == "denied"
        # The same probe reads a process of its own making that did not ask: it can tell.
        sleeper = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(30)"],
            preexec_fn=_without_capabilities if os.geteuid() == 0 else None,  # noqa: PLW1509
        )
        try:
            wait_until(lambda: Path(f"/proc/{sleeper.pid}/environ").exists())
            control = subprocess.run(
                [sys.executable, "-c", PROBE, str(sleeper.pid)],
                capture_output=True,
                text=True,
                check=True,
            )
            assert control.stdout.strip() == "readable"
        finally:
            sleeper.kill()
            sleeper.wait()
        code, _, _ = service.stop()
        assert code == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_data_key_outside_the_state_directory_that_others_can_read_is_refused(
    settings: Settings, tmp_path: Path
) -> None:
    env = env_for(settings)
    assert run_appliance("init", env=env).returncode == 0
    outside = tmp_path / "keys" / "keyring.json"
    outside.parent.mkdir()
    shutil.move(settings.key_path, outside)

    for mode in (0o644, 0o640):
        outside.chmod(mode)
        moved = run_appliance("serve", env={**env, "APPLIANCE_KEY_FILE": str(outside)})
        assert moved.returncode == 78, moved.stderr
        assert f"The data key file {outside} can be read or changed by other users" in moved.stderr
        assert f"chmod 600 {outside}" in moved.stderr
        assert "Traceback" not in moved.stderr
        assert oct(outside.stat().st_mode & 0o777) == oct(mode)  # said, not changed behind its back

    # keyring.json in the state directory, but a link to that file: the same.
    settings.key_path.symlink_to(outside)
    linked = run_appliance("migrate", env=env)
    assert linked.returncode == 78
    assert (
        f"The data key file {settings.key_path} can be read or changed by other users"
        in linked.stderr
    )

    outside.chmod(0o600)
    assert run_appliance("migrate", env=env).returncode == 0
