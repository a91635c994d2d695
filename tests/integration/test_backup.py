"""`appliance backup` while events flow, `appliance restore`, and a store from a newer release
refused: what an IT admin relies on to get the books' bridge back after losing the machine."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from appliance.storage.db import create_store_engine
from appliance.storage.keyring import Keyring, save_keyring
from tests.harness.cli import invoke
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, running_gateway
from tests.harness.jobroutr import created
from tests.harness.processes import run_appliance
from tests.harness.service import start

pytestmark = pytest.mark.slow


def event_ids(path: Path) -> set[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return {row[0] for row in db.execute("SELECT id FROM event")}


class Load:
    """Signed events sent one after another from a thread, each noted once acknowledged."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.acknowledged: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            event_id = self.gateway.send(created(f"cus_load_{n}", f"Backup Load Customer {n}"))
            with self.lock:
                self.acknowledged.append(event_id)  # send() asserted a 2xx answer

    def so_far(self) -> set[str]:
        with self.lock:
            return set(self.acknowledged)

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


@pytest.mark.sqlite_only
@pytest.mark.timeout(240)
def test_a_backup_under_load_holds_every_acknowledged_event_and_restores(
    books: RunningEmulator, tmp_path: Path
) -> None:
    target = tmp_path / "backups" / "store.db"
    target.parent.mkdir()
    with running_gateway(books, tmp_path / "appliance") as gateway, Load(gateway) as load:
        while len(load.so_far()) < 50:  # the load is well under way
            threading.Event().wait(0.05)
        before = load.so_far()
        made = run_appliance("backup", str(target), env=gateway.env, timeout=120)
        assert made.returncode == 0, made.stderr
        after_backup = len(load.so_far())
        # A few more, acknowledged after the backup had finished, which it cannot hold (on a
        # loaded machine every event of the run may otherwise land before its snapshot).
        deadline = time.monotonic() + 60
        while len(load.so_far()) < after_backup + 5 and time.monotonic() < deadline:
            threading.Event().wait(0.05)
        load.stop.set()
        load.thread.join(timeout=30)
        everything = load.so_far()

        assert after_backup > len(before)  # events were being accepted while it ran
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        saved = event_ids(target)
        assert before <= saved  # every event acknowledged before the backup began
        assert f"{len(saved)} events" in made.stdout
        assert "data key" in made.stdout
        assert run_appliance("backup", str(target), env=gateway.env).returncode != 0  # no clobber

        # Restoring needs the service stopped.
        refused = run_appliance("restore", str(target), "--yes", env=gateway.env)
        assert refused.returncode != 0
        assert "already running" in refused.stderr
        code, _, _ = gateway.service.stop()
        assert code == 0
        restored = run_appliance("restore", str(target), "--yes", env=gateway.env)
        assert restored.returncode == 0, restored.stderr
        gateway.service = start(gateway.env, gateway.settings)  # running_gateway stops it
        listed = run_appliance("events", "--limit", "500", "--json", env=gateway.env)
        assert listed.returncode == 0, listed.stderr
        shown = {e["event_id"] for e in json.loads(listed.stdout)["items"]}
        assert shown == saved
        assert everything - saved  # what came after the backup is not in it (as expected)
        # The restored service goes on: the events it holds are pushed to the end.
        settled = gateway.settle(*sorted(saved)[:5], timeout=120)
        assert {e["status"] for e in settled} == {"done"}


def test_a_backup_needs_the_service_and_says_so(tmp_path: Path) -> None:
    env = {
        "APPLIANCE_STATE_DIR": str(tmp_path / "state"),
        "APPLIANCE_ADMIN_SOCKET": str(tmp_path / "nobody.sock"),
    }
    result = invoke("backup", str(tmp_path / "b.db"), env=env)
    assert result.exit_code != 0
    assert "not running" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "b.db").exists()


@pytest.mark.sqlite_only
def test_restore_refuses_another_key_and_a_newer_release_and_keeps_the_store(
    books: RunningEmulator, tmp_path: Path
) -> None:
    target = tmp_path / "store.db"
    with running_gateway(books, tmp_path / "appliance", connect=False) as gateway:
        assert run_appliance("backup", str(target), env=gateway.env).returncode == 0
        gateway.service.stop()
        env = gateway.env
        settings = gateway.settings

        # A data key that is not the one the backup's secrets were sealed with.
        other_key = tmp_path / "other-keyring.json"
        save_keyring(other_key, Keyring(active=1, keys={1: os.urandom(32)}))
        other = run_appliance(
            "restore", str(target), "--yes", env={**env, "APPLIANCE_KEY_FILE": str(other_key)}
        )
        assert other.returncode != 0
        assert "do not open with the data key" in other.stderr
        assert "Traceback" not in other.stderr

        # A backup from a newer release (a schema version this one does not know).
        newer = tmp_path / "newer.db"
        newer.write_bytes(target.read_bytes())
        with sqlite3.connect(newer) as db:
            db.execute("UPDATE alembic_version SET version_num = '9999'")
        refused = run_appliance("restore", str(newer), "--yes", env=env)
        assert refused.returncode != 0
        assert "newer release" in refused.stderr

        # Neither touched the store: it still starts and answers.
        gateway.service = start(env, settings)
        assert run_appliance("status", env=env).returncode == 0


def test_a_store_written_by_a_newer_release_is_refused_at_start(
    books: RunningEmulator, tmp_path: Path
) -> None:
    with running_gateway(books, tmp_path / "appliance", connect=False) as gateway:
        gateway.service.stop()
        settings = gateway.settings  # SQLite or PostgreSQL alike
        engine = create_store_engine(settings.database_url, settings.database_password())
        with engine.begin() as db:
            db.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        engine.dispose()
        for command in ("migrate", "serve"):
            result = run_appliance(command, env=gateway.env, timeout=30)
            assert result.returncode == 78, command  # the unit does not restart it in a loop
            assert "written by a newer appliance" in result.stderr, result.stderr
            assert "Traceback" not in result.stderr
