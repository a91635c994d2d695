"""The store on disk: owner-only files, idempotent init, sealed secrets, append-only audit, key
rotation that survives being interrupted."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from appliance.config import Settings
from appliance.errors import KeyringError, VaultError
from appliance.storage import credentials
from appliance.storage.db import create_store_engine, session_scope
from appliance.storage.keyring import load_keyring, save_keyring
from appliance.storage.store import Store, initialize
from appliance.storage.vault import Cluster, rotate_key, sealed_versions
from tests.harness.processes import APPLIANCE, appliance_env, run_appliance
from tests.harness.stores import store_env

pytestmark = pytest.mark.stores


def _all_files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file()]


def _open_store(settings: Settings) -> Store:
    store = Store.open(settings)
    store.migrate()
    return store


def _plant_secrets(store: Store, count: int, prefix: str = "tok") -> dict[tuple[str, str], str]:
    planted = {("realm-1", f"{prefix}-{i}"): f"{prefix}-plaintext-{i:06d}" for i in range(count)}
    with session_scope(store.engine) as session:
        for (scope, name), value in planted.items():
            store.vault.put(session, scope, name, value)
    return planted


def _assert_all_readable(store: Store, planted: dict[tuple[str, str], str]) -> None:
    with store.session() as session:
        for (scope, name), value in planted.items():
            assert store.vault.get(session, scope, name) == value


@pytest.mark.sqlite_only
def test_init_makes_the_state_directory_and_every_file_in_it_owner_only(settings: Settings) -> None:
    initialize(settings, actor="test")
    store = _open_store(settings)
    _plant_secrets(store, 3)  # writes to the WAL as well
    files = _all_files(settings.state_dir)
    names = {p.name for p in files}
    assert {"appliance.db", "keyring.json"} <= names
    assert stat.S_IMODE(settings.state_dir.stat().st_mode) == 0o700
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    store.close()


def test_init_twice_keeps_the_first_key_and_shows_no_new_secrets(settings: Settings) -> None:
    first = initialize(settings, actor="test")
    key_bytes = settings.key_path.read_bytes()
    second = initialize(settings, actor="test")

    assert first.key_created
    assert first.api_key is not None
    assert first.api_key.startswith("jra_")
    assert first.webhook_secret is not None
    assert first.webhook_secret.startswith("whsec_")
    assert not second.key_created
    assert second.api_key is None
    assert second.webhook_secret is None
    assert settings.key_path.read_bytes() == key_bytes
    store = _open_store(settings)
    with store.session() as session:
        assert credentials.webhook_secret(session, store.vault) == first.webhook_secret
        assert credentials.verify_api_key(session, first.api_key) is not None
    store.close()


def test_init_refuses_to_make_a_new_key_when_the_database_holds_secrets(settings: Settings) -> None:
    initialize(settings, actor="test")
    settings.key_path.unlink()
    with pytest.raises(KeyringError, match="missing") as caught:
        initialize(settings, actor="test")
    assert "backup" in caught.value.hint
    assert not settings.key_path.exists()


@pytest.mark.sqlite_only
def test_a_sealed_token_is_not_in_the_database_file_or_its_wal(settings: Settings) -> None:
    initialize(settings, actor="test")
    store = _open_store(settings)
    token = "AB11-canary-refresh-token-5e3f9c"
    with session_scope(store.engine) as session:
        store.vault.put(session, "realm-9341453", "refresh_token", token)
    wal = settings.state_dir / "appliance.db-wal"
    assert wal.exists(), "the write should still be in the WAL, so the test reads it"
    for path in _all_files(settings.state_dir):
        assert token.encode() not in path.read_bytes(), path
    with store.session() as session:
        assert store.vault.get(session, "realm-9341453", "refresh_token") == token
    store.close()


def test_a_ciphertext_moved_to_another_row_does_not_open(settings: Settings) -> None:
    initialize(settings, actor="test")
    store = _open_store(settings)
    with session_scope(store.engine) as session:
        store.vault.put(session, "realm-1", "refresh_token", "refresh-secret")
        store.vault.put(session, "realm-2", "refresh_token", "other-secret")
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE secret SET ciphertext = (SELECT ciphertext FROM secret "
                "WHERE scope = 'realm-1') WHERE scope = 'realm-2'"
            )
        )
    with store.session() as session, pytest.raises(VaultError, match="another record"):
        store.vault.get(session, "realm-2", "refresh_token")
    store.close()


def test_the_audit_log_refuses_updates_and_deletes(settings: Settings) -> None:
    """In the database itself (a trigger), on SQLite and on PostgreSQL alike."""
    initialize(settings, actor="test")
    engine = create_store_engine(settings.database_url, settings.database_password())
    try:
        with engine.connect() as db:
            assert db.execute(text("SELECT count(*) FROM audit_log")).scalar_one() >= 1
        for statement in ("UPDATE audit_log SET actor = 'someone-else'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as db:
                db.execute(text(statement))
        with engine.begin() as db:
            db.execute(
                text(
                    "INSERT INTO audit_log (at, actor, action, detail) "
                    "VALUES ('2026-01-01 00:00:00', 'test', 'test.appended', '{}')"
                )
            )
    finally:
        engine.dispose()


def test_rotate_key_reseals_every_secret_and_retires_the_old_key(settings: Settings) -> None:
    initialize(settings, actor="test")
    store = _open_store(settings)
    planted = _plant_secrets(store, 250)
    old = load_keyring(settings.key_path)
    total = sum(sealed_versions(store.engine).values())
    assert total == 251  # the planted ones and the webhook secret from init

    result = store.rotate_key(actor="test")

    new = load_keyring(settings.key_path)
    assert result.new_version == old.active + 1
    assert result.resealed == total
    assert new.keys.keys() == {result.new_version}
    assert sealed_versions(store.engine) == {result.new_version: total}
    _assert_all_readable(store, planted)
    store.close()


class Interrupted(Exception):
    pass


@pytest.mark.parametrize(
    "stop_after_batches",
    [-1, 0, 1, 3],
    ids=[
        "after-new-key-staged",
        "after-new-key-saved",
        "after-first-batch",
        "after-last-batch-before-retiring",
    ],
)
def test_rotate_key_interrupted_at_any_point_finishes_when_run_again(
    settings: Settings, stop_after_batches: int
) -> None:
    initialize(settings, actor="test")
    store = _open_store(settings)
    planted = _plant_secrets(store, 250)  # 251 with the webhook secret: three batches of 100
    old_version = load_keyring(settings.key_path).active

    batches: list[int] = []

    def interrupt(done: int) -> None:
        batches.append(done)
        if len(batches) == stop_after_batches:
            raise Interrupted

    if stop_after_batches == -1:
        # Killed right after the new key was staged: it opens, nothing is sealed with it yet.
        save_keyring(settings.key_path, load_keyring(settings.key_path).with_staged_key())
    elif stop_after_batches == 0:
        # Killed right after the new key reached the disk: the keyring holds both keys.
        save_keyring(settings.key_path, load_keyring(settings.key_path).with_new_active_key())
    else:
        with pytest.raises(Interrupted):
            rotate_key(store.engine, store.vault, Cluster("test", 60), on_batch=interrupt)
    assert load_keyring(settings.key_path).rotating
    store.close()

    store = _open_store(settings)  # a new process: it knows only what is on disk
    result = store.rotate_key(actor="test")

    keyring = load_keyring(settings.key_path)
    assert result.resumed
    assert not keyring.rotating
    assert old_version not in keyring.keys
    assert set(sealed_versions(store.engine)) == {keyring.active}
    _assert_all_readable(store, planted)
    store.close()


def test_rotate_key_killed_with_sigkill_half_way_finishes_when_run_again(
    settings: Settings,
) -> None:
    env = {
        "APPLIANCE_STATE_DIR": str(settings.state_dir),
        "APPLIANCE_ADMIN_SOCKET": str(settings.admin_socket_path),
        **store_env(settings.database_url, settings.database_password_file),
    }
    assert run_appliance("init", env=env).returncode == 0
    store = _open_store(settings)
    planted = _plant_secrets(store, 6000)
    store.close()
    old_version = load_keyring(settings.key_path).active

    process = subprocess.Popen(
        [str(APPLIANCE), "rotate-key"],
        env=appliance_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    killed_while_rotating = False
    while time.monotonic() < deadline and process.poll() is None:
        try:
            keyring = load_keyring(settings.key_path)
        except KeyringError:
            keyring = None
        if keyring is not None and keyring.rotating:
            versions = sealed_versions(Store.open(settings).engine)
            if len(versions) > 1:  # some resealed, some not: truly half way
                os.kill(process.pid, signal.SIGKILL)
                killed_while_rotating = True
                break
        time.sleep(0.01)
    process.wait(timeout=30)
    assert killed_while_rotating, "the rotation finished before it could be killed half way"
    assert load_keyring(settings.key_path).rotating

    again = run_appliance("rotate-key", env=env, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "Finished an interrupted rotation" in again.stdout

    keyring = load_keyring(settings.key_path)
    assert old_version not in keyring.keys
    store = _open_store(settings)
    assert set(sealed_versions(store.engine)) == {keyring.active}
    _assert_all_readable(store, planted)
    store.close()
