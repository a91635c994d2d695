"""A damaged store and a full disk, as the operator and JobRoutr meet them.

Damage: one page of the event table overwritten while the service is stopped. The service must
notice at start (SQLite's quick check), say so on /readyz and in `appliance status` with the
restore hint, and take no event it might lose in the restore. A file that is not a database at
all (random bytes, text, cut short) stops `appliance serve` with exit 78 and a sentence.

Full disk: a real one, a small tmpfs as the state directory (needs root and mount; skipped with a
sentence otherwise). Writes answer 503 with Retry-After, the log says so about once a minute, not
a traceback per request, /readyz fails while writes fail, and once space returns the service
takes events again by itself with every event acknowledged before still there.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from appliance.cli import EXIT_CONFIG
from appliance.config import Settings
from tests.harness.processes import free_port, run_appliance, wait_until
from tests.harness.service import Service, env_for, start
from tests.harness.store import webhook_secret

RESTORE_HINT = "appliance restore"


def send_event(http: httpx.Client, url: str, secret: str, event_id: str) -> httpx.Response:
    doc = {
        "type": "customer.created",
        "timestamp": datetime.now(UTC).isoformat(),
        "data": {"id": f"cus_{event_id}", "company_name": f"Health {event_id}"},
    }
    body = json.dumps(doc)
    stamp = datetime.now(UTC)
    headers = {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, stamp, body),
        "content-type": "application/json",
    }
    return http.post(url + "/webhooks/jobroutr", content=body, headers=headers)


def new_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def stored_event_ids(db: Path) -> set[str]:
    with sqlite3.connect(db) as connection:
        return {row[0] for row in connection.execute("SELECT id FROM event")}


def corrupt_table_root(db: Path, table: str) -> int:
    """Overwrite the root page of ``table`` with garbage (the service must be stopped)."""
    connection = sqlite3.connect(db)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        [root] = connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)
        ).fetchone()
    finally:
        connection.close()
    with db.open("r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(random.Random(root).randbytes(page_size))  # noqa: S311 - garbage
    return int(root)


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    # Nothing here talks to QuickBooks: the emulator is not needed, nor started.
    values = env_for(
        settings,
        APPLIANCE_QBO_EMULATOR_EMBEDDED="false",
        APPLIANCE_QBO_EMULATOR_URL=f"http://127.0.0.1:{free_port()}",
    )
    assert run_appliance("init", env=values).returncode == 0
    return values


def stop_quietly(service: Service) -> None:
    if service.process.poll() is None:
        service.process.kill()
        service.process.wait()


# A damaged store ---------------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_a_damaged_event_table_fails_readiness_and_status_and_takes_no_events(
    settings: Settings, env: dict[str, str], tmp_path: Path
) -> None:
    secret = webhook_secret(settings)
    backup = tmp_path / "backup.db"
    service = start(env, settings)
    try:
        with httpx.Client(timeout=10) as http:
            sent = [new_id() for _ in range(300)]
            for event_id in sent:
                assert send_event(http, service.url, secret, event_id).status_code == 202
        assert run_appliance("backup", str(backup), env=env).returncode == 0
    finally:
        code, _, _ = service.stop()
    assert code == 0
    db = settings.state_dir / "appliance.db"
    corrupt_table_root(db, "event")

    service = start(env, settings)
    try:
        with httpx.Client(timeout=10) as http:
            ready = http.get(service.url + "/readyz")
            assert ready.status_code == 503, ready.text
            detail = ready.json()["detail"]
            assert "damaged" in detail, detail
            assert RESTORE_HINT in detail, detail
            answers = [send_event(http, service.url, secret, new_id()) for _ in range(30)]
        assert {a.status_code for a in answers} == {503}, [a.text for a in answers[:3]]
        assert all(a.headers.get("retry-after") for a in answers)
        assert "damaged" in answers[0].json()["detail"]
        status = run_appliance("status", env=env)
        assert status.returncode == 0, status.stderr
        assert "damaged" in status.stdout, status.stdout
        assert RESTORE_HINT in status.stdout, status.stdout
        code, out, err = service.stop()
    finally:
        stop_quietly(service)
    assert code == 0
    assert "Traceback" not in out + err
    damaged = [line for line in out.splitlines() if '"store.damaged"' in line]
    assert len(damaged) == 1, out[-3000:]

    # What the hint says works: restore the backup, start, and events are taken again.
    restored = run_appliance("restore", "--yes", str(backup), env=env)
    assert restored.returncode == 0, restored.stderr
    service = start(env, settings)
    try:
        with httpx.Client(timeout=10) as http:
            assert http.get(service.url + "/readyz").status_code == 200
            assert send_event(http, service.url, secret, new_id()).status_code == 202
    finally:
        service.stop()
        stop_quietly(service)


@pytest.mark.parametrize(
    "contents",
    [
        pytest.param(lambda db: os.urandom(16384), id="random-bytes"),
        pytest.param(lambda db: b"These are my notes, not a database.\n" * 200, id="text"),
        pytest.param(lambda db: db.read_bytes()[:4096], id="truncated-to-one-page"),
        pytest.param(lambda db: db.read_bytes()[:50], id="truncated-inside-the-header"),
    ],
)
@pytest.mark.sqlite_only
def test_a_store_that_cannot_be_opened_stops_serve_with_exit_78_and_a_sentence(
    settings: Settings, env: dict[str, str], contents: object
) -> None:
    db = settings.state_dir / "appliance.db"
    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.write_bytes(contents(db))  # type: ignore[operator]
    for command in ("serve", "migrate", "init"):
        result = run_appliance(command, env=env, timeout=60)
        output = result.stdout + result.stderr
        assert result.returncode == EXIT_CONFIG, (command, output)
        assert "Traceback" not in output
        assert f"The database {db} cannot be read" in result.stderr, output
        assert RESTORE_HINT in result.stderr, output


@pytest.mark.sqlite_only
def test_a_store_cut_to_nothing_is_not_taken_for_a_new_one(
    settings: Settings, env: dict[str, str]
) -> None:
    """SQLite opens a 0-byte file as a new database: the service started on a blank store."""
    db = settings.state_dir / "appliance.db"
    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.write_bytes(b"")
    for command in ("serve", "migrate", "rotate-key"):
        result = run_appliance(command, env=env, timeout=60)
        output = result.stdout + result.stderr
        assert result.returncode == EXIT_CONFIG, (command, output)
        assert "Traceback" not in output
        assert f"The database {db} is empty (0 bytes)" in result.stderr, output
        assert "appliance restore" in result.stderr, output
    assert db.stat().st_size == 0  # left as it was found, for whoever looks into it


# A full disk ------------------------------------------------------------------------------------


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """An 8 MiB tmpfs, mounted for this test and unmounted after it whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("A real full disk needs root to mount a small tmpfs; not root here.")
    where = Path(tempfile.mkdtemp(prefix="jra-disk-", dir="/tmp"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        where.rmdir()
        pytest.skip(f"Mounting a tmpfs is not permitted here ({mounted.stderr.strip()}).")
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=False)
        where.rmdir()


def fill(disk: Path) -> Path:
    """Write a filler file until the disk refuses another byte."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as handle:
        try:
            for _ in range(10_000):  # 640 MiB at most: far more than the disk holds
                handle.write(chunk)
        except OSError:
            pass
        try:
            for _ in range(65536):
                handle.write(b"\0")
        except OSError:
            pass
    return filler


@pytest.mark.timeout(300)
def test_a_full_disk_answers_503_with_retry_after_and_recovers_losing_nothing(
    small_disk: Path, short_dir: Path
) -> None:
    settings = Settings(
        state_dir=small_disk / "state",
        http_port=free_port(),
        admin_socket=short_dir / "admin.sock",
        log_format="json",
    )
    env = env_for(
        settings,
        APPLIANCE_QBO_EMULATOR_EMBEDDED="false",
        APPLIANCE_QBO_EMULATOR_URL=f"http://127.0.0.1:{free_port()}",
    )
    assert run_appliance("init", env=env).returncode == 0
    secret = webhook_secret(settings)
    db = settings.state_dir / "appliance.db"
    acknowledged: set[str] = set()
    service = start(env, settings)
    try:
        with httpx.Client(timeout=30) as http:
            for _ in range(100):
                event_id = new_id()
                assert send_event(http, service.url, secret, event_id).status_code == 202
                acknowledged.add(event_id)
            filler = fill(small_disk)
            # The WAL may still have room it allocated before: send until the store needs more.
            refused: list[httpx.Response] = []
            for _ in range(5000):
                event_id = new_id()
                answer = send_event(http, service.url, secret, event_id)
                if answer.status_code == 202:
                    acknowledged.add(event_id)
                    continue
                refused.append(answer)
                break
            assert refused, "the disk never filled"
            refused += [send_event(http, service.url, secret, new_id()) for _ in range(40)]
            assert {r.status_code for r in refused} == {503}, [r.text[:300] for r in refused[:3]]
            assert all(r.headers["content-type"].startswith("application/problem+json")
                       for r in refused)  # fmt: skip
            assert all(int(r.headers["retry-after"]) > 0 for r in refused)
            assert "full" in refused[0].json()["detail"]
            ready = http.get(service.url + "/readyz")
            assert ready.status_code == 503, ready.text
            assert "full" in ready.json()["detail"], ready.text
            assert str(settings.state_dir) in ready.text
            status = run_appliance("status", env=env)
            assert status.returncode == 0, status.stderr
            assert f"the disk of {settings.state_dir} is full" in status.stdout, status.stdout

            filler.unlink()
            recovered: list[int] = []

            def takes_events_again() -> bool:
                event_id = new_id()
                answer = send_event(http, service.url, secret, event_id)
                recovered.append(answer.status_code)
                if answer.status_code == 202:
                    acknowledged.add(event_id)
                    return True
                time.sleep(0.5)
                return False

            wait_until(takes_events_again, timeout=60, what="events to be taken again")
            for _ in range(20):
                event_id = new_id()
                assert send_event(http, service.url, secret, event_id).status_code == 202
                acknowledged.add(event_id)
            wait_until(
                lambda: http.get(service.url + "/readyz").status_code == 200,
                timeout=30,
                what="/readyz to say ready again",
            )
        code, out, err = service.stop()
    finally:
        stop_quietly(service)
    assert code == 0, err
    assert "Traceback" not in out + err, out[-3000:]
    full_lines = [line for line in out.splitlines() if '"store.disk_full"' in line]
    assert 1 <= len(full_lines) <= 3, full_lines  # about one a minute, not one per request
    assert len(out) < 200_000
    missing = acknowledged - stored_event_ids(db)
    print(
        f"\nfull disk: {len(refused)} events answered 503 + Retry-After, "
        f"{len(full_lines)} disk-full log line(s), taken again {len(recovered)} attempt(s) after "
        f"space returned; {len(acknowledged)} acknowledged, {len(missing)} lost"
    )
    assert not missing, f"{len(missing)} acknowledged events lost"


def test_a_disk_full_at_start_stops_serve_with_a_sentence_and_exit_1_to_be_restarted(
    small_disk: Path, short_dir: Path
) -> None:
    settings = Settings(
        state_dir=small_disk / "state",
        http_port=free_port(),
        admin_socket=short_dir / "admin.sock",
        log_format="json",
    )
    env = env_for(settings, APPLIANCE_QBO_EMULATOR_EMBEDDED="false")
    assert run_appliance("init", env=env).returncode == 0
    fill(small_disk)
    result = run_appliance("serve", env=env, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output  # not 78: systemd starts it again until there is room
    assert "Traceback" not in output
    assert f"the disk of {settings.state_dir}" in result.stderr, output
